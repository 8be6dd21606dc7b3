"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused into one list of hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .chunking import Passage
from .errors import UsageError
from .index import Index
from .embedders import Embedder
from .question import Question, analyse

MAX_QUERY_CHARS = 2000
MAX_K = 50
DENSE_DEPTH = 1000  # dense candidates per query; the rest count as least similar


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
    """What retrieval saw, for answerability and answering.

    dense_top: cosine of the question and the closest passage.
    query_vector: the vector that was searched, so that answering embeds nothing again.
    """

    dense_top: float
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def check_query(query: object, k: int | None = None) -> str:
    """The stripped query, or a UsageError saying what is wrong with it or with k."""
    if not isinstance(query, str) or not query.strip():
        raise UsageError("the question is empty")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the question is not valid Unicode text (it holds an unpaired surrogate)") from None
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"the question is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    if k is not None and not 1 <= k <= MAX_K:
        raise UsageError(f"k must be between 1 and {MAX_K}, got {k}")
    return query.strip()


class Retriever:
    """Searches one index with one embedder.

    Two signals are fused by min-max normalised scores: dense similarity to the question (for
    English questions, followed by its CEDICT translation) and a lexical score. The lexical score
    is BM25 over the question's tokens plus their translations; for an English question it is
    mixed with BM25 of its English words over the passages' English glosses (`gloss_weight`).
    Weights were chosen on the dev and calibration sets (`scripts/compare.py` prints the numbers).
    """

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        dense_weight: float = 0.7,
        translation_weight: float = 1.0,
        translate_dense: bool = True,
        gloss_weight: float = 0.8,
    ):
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight  # share of dense in the fused score; BM25 has the rest
        self.translate_dense = translate_dense  # append the translation to English questions before embedding
        self.translation_weight = translation_weight  # BM25 weight of translated terms
        self.gloss_weight = gloss_weight  # share of the gloss index in an English question's lexical score

    def search(self, question: str | Question, k: int = 8) -> list[Hit]:
        return self.search_with_evidence(question, k)[0]

    def analyse(self, text: str) -> Question:
        return analyse(check_query(text), self.index, self.translate_dense)

    def search_with_evidence(self, question: str | Question, k: int = 8) -> tuple[list[Hit], Evidence]:
        """Hits, best first, and the evidence for judging whether they answer the question."""
        q = self.analyse(question) if isinstance(question, str) else question
        check_query(q.text, k)
        n = len(self.index.passages)
        if n == 0:
            return [], Evidence(0.0)
        qvec = self.embedder.embed_queries([q.dense_text[: 2 * MAX_QUERY_CHARS]])
        scores, ids = self.index.vectors.search(qvec, min(n, DENSE_DEPTH))
        dense = _minmax(_spread(scores[0], ids[0], n))
        lex = _unit_max(self.index.bm25.weighted_scores(q.lexical_terms(self.translation_weight)))
        if self.gloss_weight and q.gloss_terms:
            glossed = self.index.bm25_en.weighted_scores([(t, 1.0) for t in q.gloss_terms])
            lex = _unit_max((1 - self.gloss_weight) * lex + self.gloss_weight * _unit_max(glossed))
        fused = self.dense_weight * dense + (1 - self.dense_weight) * lex
        order = np.argsort(-fused, kind="stable")[:k]
        hits = [_hit(r + 1, self.index.passages[i], fused[i]) for r, i in enumerate(order)]
        return hits, Evidence(float(scores[0][0]), qvec[0])


def _spread(scores: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Dense scores for all n passages; those past the search depth get the lowest score seen."""
    valid = ids >= 0
    out = np.full(n, scores[valid].min() if valid.any() else 0.0, dtype=np.float32)
    out[ids[valid]] = scores[valid]
    return out


def _unit_max(x: np.ndarray) -> np.ndarray:
    return x / x.max() if x.max() > 0 else x


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _hit(rank: int, p: Passage, score: float) -> Hit:
    return Hit(rank, p.source, p.title, p.text, p.start, p.end, round(float(score), 6))
