"""Choose the answerability limits by leave-one-set-out cross-validation over the labelled sets.

For every question of every set the signals are computed once (closest cosine, coverage,
unknown names, figure support); then for each set held out, the limits that make the fewest
weighted mistakes on the other sets are chosen and scored on the held-out one. A wrongly refused
answerable question costs COST_REFUSED mistakes, an answered unanswerable one costs 1: a wrong
refusal tells the user the transcripts are silent when they are not.

Usage: python scripts/answerability.py [SET.jsonl ...]   (default: every set but tests/data/final.jsonl)
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag import answerability as A  # noqa: E402
from rag.evaluation import load_dataset  # noqa: E402

SETS = [
    ROOT / "tests" / "data" / "dev.jsonl",
    *(ROOT / "tests" / "data" / n for n in ("calibration.jsonl", "holdout.jsonl", "names.jsonl", "offtopic.jsonl")),
]
COST_REFUSED = 3
GRID = {
    "zh": [round(0.80 + 0.01 * i, 2) for i in range(9)],
    "en": [round(0.74 + 0.01 * i, 2) for i in range(11)],
    "coverage": [0.0, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65],
    "figure": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5],
}
NAMES = tuple(GRID)


@dataclass
class Row:
    set: str
    id: str
    question: str
    lang: str
    answerable: bool
    dense: float
    coverage: float
    unknown: bool
    named: bool  # names something the transcripts write: the cosine floor does not apply
    figure: float | None  # None: the question asks for no figure or date


def signals(engine, path: Path) -> list[Row]:
    out = []
    for r in load_dataset(path):
        q = engine.retriever.analyse(r["question"])
        hits, evidence = engine.retriever.search_with_evidence(q, 6)
        figure = A.figure_support(q, hits, engine.index) if q.kind in A.ASKED else None
        out.append(
            Row(
                path.stem,
                r["id"],
                r["question"],
                q.lang,
                r["type"] != "unanswerable",
                evidence.dense_top,
                q.coverage,
                bool(q.unknown_names),
                bool(A.written_names(q)),
                figure,
            )
        )
    return out


def refuses(row: Row, zh: float, en: float, coverage: float, figure: float) -> bool:
    off_topic = (row.dense < {"zh": zh, "en": en}[row.lang] and not row.named) or row.coverage < coverage
    return row.unknown or off_topic or (row.figure is not None and row.figure < figure)


def cost(rows: list[Row], limits) -> int:
    return sum((COST_REFUSED if r.answerable else 1) for r in rows if refuses(r, *limits) == r.answerable)


def best(rows: list[Row]):
    """The limits of least cost; among ties, the middle one of each limit's tied range (a margin
    on both sides rather than a limit just under the last answerable question)."""
    scored = [(cost(rows, c), c) for c in itertools.product(*GRID.values())]
    low = min(s for s, _ in scored)
    tied = [c for s, c in scored if s == low]
    middle = [sorted(set(c[i] for c in tied))[len(set(c[i] for c in tied)) // 2] for i in range(len(GRID))]
    # the middle of each limit's tied range, kept only if that combination is itself among the best
    return (tuple(middle) if tuple(middle) in tied else tied[len(tied) // 2]), low


def rates(rows: list[Row], limits) -> str:
    ans = [r for r in rows if r.answerable]
    un = [r for r in rows if not r.answerable]
    a = sum(refuses(r, *limits) for r in ans)
    u = sum(refuses(r, *limits) for r in un)
    return f"answerable refused {a}/{len(ans)}, unanswerable refused {u}/{len(un)}"


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or SETS
    engine = rag.load()
    rows = [r for p in paths for r in signals(engine, p)]
    print(f"| held out | limits chosen on the others {NAMES} | on the held-out set |")
    print("|---|---|---|")
    for name in dict.fromkeys(r.set for r in rows):
        train = [r for r in rows if r.set != name]
        limits, _ = best(train)
        print(f"| {name} | {limits} | {rates([r for r in rows if r.set == name], limits)} |")
    limits, low = best(rows)
    print(f"\nAll sets: limits {limits} (weighted mistakes {low}); {rates(rows, limits)}")
    shipped = (A.MIN_DENSE["zh"], A.MIN_DENSE["en"], A.MIN_COVERAGE, A.MIN_FIGURE_SUPPORT)
    print(f"Shipped:  limits {shipped}; {rates(rows, shipped)}")
    for r in rows:
        if refuses(r, *shipped) == r.answerable:
            kind = "refused" if r.answerable else "answered"
            print(
                f"  {kind}: {r.set}/{r.id} {r.question[:70]} (cos {r.dense:.3f}, coverage {r.coverage:.2f}, "
                f"figure {r.figure if r.figure is None else round(r.figure, 2)})"
            )


if __name__ == "__main__":
    main()
