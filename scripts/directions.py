"""Retrieval per language direction, beside the plain recipe, and the answering step's refusals and
quotes, on a corpus folder and its labelled questions.

A direction is question language -> transcript language (en->en, en->zh, zh->en, zh->zh); a
transcript is Chinese when more than 30 % of its letters are CJK (the rule of field-dev's check.py).
For each direction it prints in3000 and MRR of this product and of the plain recipe (scripts/compare.py's
PlainRecipe over the raw files), run in the same process on the same embedder; then, over the whole
answering path: unanswerable questions refused, answerable questions refused, and the share of
answered questions whose citations quote a gold evidence quote.

Usage:
  python scripts/directions.py                                  # the bundled corpus and tests/data sets
  python scripts/directions.py --corpus ../shared/corpora/field-dev/corpus \
      --questions ../shared/corpora/field-dev/questions.jsonl
The index is built (cached under --index, default a folder in /tmp named after the corpus) when missing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from compare import PlainRecipe  # noqa: E402

import rag  # noqa: E402
from rag.documents import corpus_files, read_text, source_name  # noqa: E402
from rag.evaluation import cut_quotes, hit, load_dataset, score  # noqa: E402

DIRECTIONS = ("en->en", "en->zh", "zh->en", "zh->zh")


def is_zh(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return sum("\u4e00" <= c <= "\u9fff" for c in letters) > 0.3 * len(letters)


def direction(row: dict, zh_files: dict[str, bool]) -> str | None:
    sources = row.get("source")
    if not sources:
        return None
    sources = sources if isinstance(sources, list) else [sources]
    langs = {"zh" if zh_files.get(s) else "en" for s in sources}
    return f"{row['lang']}->{langs.pop()}" if len(langs) == 1 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        default=[
            ROOT / "tests" / "data" / n
            for n in ("dev.jsonl", "calibration.jsonl", "holdout.jsonl", "names.jsonl", "offtopic.jsonl")
        ],
    )
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--no-plain", action="store_true", help="skip the plain recipe")
    args = ap.parse_args()

    corpus = args.corpus.resolve()
    if args.index is None and corpus == (ROOT / "seeds").resolve():
        args.index = ROOT / "index"
    if args.index is None:
        args.index = Path("/tmp") / f"rag-directions-{hashlib.sha1(str(corpus).encode()).hexdigest()[:10]}"
    from rag.cli import main as cli

    try:
        cli(["--index", str(args.index), "build", str(corpus)], standalone_mode=False)
    except SystemExit:
        pass
    engine = rag.load(args.index)
    rows = [r for path in args.questions for r in load_dataset(path)]
    zh_files = {source_name(p, corpus): is_zh(read_text(p)) for p in corpus_files(corpus)}

    systems = {"this product": lambda q: [h.text for h in engine.search(q, 20)]}
    if not args.no_plain:
        plain = PlainRecipe(corpus, engine.embedder)
        systems["plain recipe"] = lambda q: plain.search(q, 20)
    answerable = [r for r in rows if r["type"] != "unanswerable"]
    ranked = {name: {r["id"]: run(r["question"]) for r in answerable} for name, run in systems.items()}

    print(
        f"corpus: {corpus.name} ({len(zh_files)} files, {sum(zh_files.values())} Chinese); "
        f"questions: {', '.join(p.name for p in args.questions)} ({len(rows)})\n"
    )
    print("| direction | n | " + " | ".join(f"{s} in3000 | {s} MRR" for s in systems) + " |")
    print("|---|---|" + "---|---|" * len(systems))
    for d in ("all", *DIRECTIONS):
        sub = [r for r in answerable if d == "all" or direction(r, zh_files) == d]
        if not sub:
            continue
        cells = []
        for name in systems:
            m = score(sub, ranked[name], {})["all"]
            cells.append(f"{m['in3000']:.3f} | {m['mrr']:.3f}")
        print(f"| {d} | {len(sub)} | " + " | ".join(cells) + " |")

    answers = {r["id"]: engine.ask(r["question"]).to_dict() for r in rows}
    unanswerable = [r for r in rows if r["type"] == "unanswerable"]
    refused_u = [r["id"] for r in unanswerable if answers[r["id"]]["abstained"]]
    refused_a = [r["id"] for r in answerable if answers[r["id"]]["abstained"]]
    answered = [r for r in answerable if not answers[r["id"]]["abstained"]]
    quoted = [
        r["id"]
        for r in answered
        if any(hit(q, c["quote"]) for c in answers[r["id"]]["citations"] for q in r["evidence"])
    ]
    print(
        f"\nunanswerable refused: {len(refused_u)}/{len(unanswerable)}; "
        f"answerable refused: {len(refused_a)}/{len(answerable)} {' '.join(refused_a)}"
    )
    print(
        f"answered questions quoting gold evidence: {len(quoted)}/{len(answered)} "
        f"({len(quoted) / max(1, len(answered)):.3f})"
    )
    cut, total = cut_quotes(list(answers.values()), engine.index.texts)
    print(f"quotes beginning or ending inside a sentence or clause: {cut}/{total}")
    described = sum(
        any(s <= c["start"] < e for s, e in engine.index.documents[c["source"]].get("summary", ()))
        for a in answers.values()
        for c in a["citations"]
    )
    print(f"quotes of an app's episode description (labelled as such): {described}")
    missed = [r["id"] for r in answerable if not score([r], ranked["this product"], {})["all"]["in3000"]]
    print(f"not in3000: {' '.join(missed)}")
    print(f"unanswerable answered: {' '.join(r['id'] for r in unanswerable if r['id'] not in refused_u)}")


if __name__ == "__main__":
    main()
