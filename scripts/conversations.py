"""Follow-up questions: the last turn of each conversation of tests/data/conversations.jsonl (the
dev set's format plus `history`, the earlier questions), searched alone and with its history
(rag.conversation), scored on retrieval as `rag eval` scores it.

Usage: python scripts/conversations.py [--dataset tests/data/conversations.jsonl]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag.evaluation import evaluate, load_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=ROOT / "tests" / "data" / "conversations.jsonl")
    args = ap.parse_args()
    rows = load_dataset(args.dataset)
    engine = rag.load()
    history = {r["question"]: r.get("history", []) for r in rows}

    def run(with_history: bool):
        def ranked(question: str):
            answer = engine.ask_stream(question, 20, stream=False, history=history[question] if with_history else [])
            hits = next(e.data for e in answer if e.kind == "hits")
            return [h.text for h in hits], False

        return evaluate(rows, ranked)

    print(f"Conversations: {args.dataset.name} ({len(rows)}, last turn scored)\n")
    print("| last turn searched | in3000 zh | in3000 en | MRR zh | MRR en | MRR all | r@1 all |")
    print("|---|---|---|---|---|---|---|")
    for name, flag in (("alone", False), ("with its history", True)):
        r = run(flag)
        print(
            f"| {name} | {r['zh']['in3000']:.3f} | {r['en']['in3000']:.3f} | {r['zh']['mrr']:.3f} | "
            f"{r['en']['mrr']:.3f} | {r['all']['mrr']:.3f} | {r['all']['r@1']:.3f} |"
        )


if __name__ == "__main__":
    main()
