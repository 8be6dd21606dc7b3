"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused into one list of hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .chunking import Passage
from .errors import UsageError
from .index import Index
from .embedders import Embedder
from .lexical import tokenize

MAX_QUERY_CHARS = 2000
MAX_K = 50
CANDIDATES = 100  # per ranking, before fusion


@dataclass(frozen=True)
class Hit:
    """A retrieved passage. `text` is normalised; `start`/`end` index the source file's text."""

    rank: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """What retrieval saw, for abstention: the best dense cosine and how much of the query BM25 matched."""

    dense_top: float
    lexical_coverage: float


def check_query(query: object, k: int | None = None) -> str:
    """The stripped query, or a UsageError saying what is wrong with it or with k."""
    if not isinstance(query, str) or not query.strip():
        raise UsageError("the question is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"the question is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    if k is not None and not 1 <= k <= MAX_K:
        raise UsageError(f"k must be between 1 and {MAX_K}, got {k}")
    return query.strip()


class Retriever:
    """Searches one index with one embedder."""

    def __init__(self, index: Index, embedder: Embedder, rrf_k: int = 60, dense_weight: float = 1.0):
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight

    def search(self, query: str, k: int = 8) -> list[Hit]:
        return self.search_with_evidence(query, k)[0]

    def search_with_evidence(self, query: str, k: int = 8) -> tuple[list[Hit], Evidence]:
        query = check_query(query, k)
        n = len(self.index.passages)
        if n == 0:
            return [], Evidence(0.0, 0.0)
        qvec = self.embedder.embed_queries([query])
        depth = min(n, CANDIDATES)
        dense_scores, dense_ids = self.index.vectors.search(qvec, depth)
        dense_ids, dense_scores = dense_ids[0], dense_scores[0]
        tokens = tokenize(query)
        lex = self.index.bm25.scores(tokens)
        lex_ids = np.argsort(-lex, kind="stable")[:depth]
        lex_ids = lex_ids[lex[lex_ids] > 0]

        fused: dict[int, float] = {}
        for rank, i in enumerate(dense_ids):
            if i >= 0:
                fused[int(i)] = fused.get(int(i), 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        for rank, i in enumerate(lex_ids):
            fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (self.rrf_k + rank + 1)
        order = sorted(fused, key=lambda i: -fused[i])[:k]
        hits = [_hit(r + 1, self.index.passages[i], fused[i]) for r, i in enumerate(order)]
        matched = sum(1 for t in tokens if t in self.index.bm25.vocab)
        evidence = Evidence(
            dense_top=float(dense_scores[0]) if len(dense_scores) else 0.0,
            lexical_coverage=matched / len(tokens) if tokens else 0.0,
        )
        return hits, evidence


def _hit(rank: int, p: Passage, score: float) -> Hit:
    return Hit(rank, p.source, p.title, p.text, p.start, p.end, round(float(score), 6))
