"""Compare the offline answer with pasting the top passage, on labelled question files.

For each set: how often the answer quotes a gold evidence quote, the share of quoted sentences
that are questions, and the median answer length (rag.evaluation.answer_scores), for this
product's extractive answer and for an "answer" that is just retrieval's first passage (what a
reader gets from the plain recipe). Also times warm `ask` against warm `search` in the same run.

Usage: python scripts/answers.py [SET.jsonl ...]   (default: the dev set and tests/data sets but final.jsonl)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag.answering import citation  # noqa: E402
from rag.evaluation import answer_scores, load_dataset  # noqa: E402

SETS = [
    ROOT / "tests" / "data" / "dev.jsonl",
    *(ROOT / "tests" / "data" / n for n in ("calibration.jsonl", "holdout.jsonl", "names.jsonl")),
]


def top_passage(engine, question: str) -> dict:
    answer = engine.ask(question).to_dict()
    h = answer["hits"][0]
    c = citation(1, h["source"], h["title"], h["start"], h["end"], engine.index)
    return {**answer, "answer": c.text, "citations": [{"quote": c.quote, "text": c.text}]}


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or SETS
    engine = rag.load()
    print("| set | answer | answered | gold evidence quoted | quoted sentences that are questions | median chars |")
    print("|---|---|---|---|---|---|")
    everything = []
    for path in paths:
        rows = load_dataset(path)
        everything += rows
        for name, run in (
            ("top passage", lambda q: top_passage(engine, q)),
            ("this product", lambda q: engine.ask(q).to_dict()),
        ):
            m = answer_scores(rows, {r["id"]: run(r["question"]) for r in rows})["all"]
            print(
                f"| {path.stem} | {name} | {m['answered']} | {m['evidence']:.3f} | {m['questions']:.3f} | {m['median_chars']} |"
            )
    questions = [r["question"] for r in everything]
    for q in questions[:5]:
        engine.ask(q)
    ask_ms, search_ms = [], []
    for _ in range(3):
        for q in questions:
            t = time.perf_counter()
            engine.search(q, 6)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.ask(q, 6)
            ask_ms.append((time.perf_counter() - t) * 1000)
    s50, a50 = statistics.median(search_ms), statistics.median(ask_ms)
    print(
        f"\nwarm, {len(questions)} questions x 3, interleaved: search p50 {s50:.1f} ms, ask p50 {a50:.1f} ms, "
        f"ratio {a50 / s50:.2f}x"
    )


if __name__ == "__main__":
    main()
