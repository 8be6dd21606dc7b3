"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused into one list of hits."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from .chunking import Passage
from .errors import UsageError
from .index import Index
from .embedders import Embedder
from .lexical import STOPWORDS, english_query, tokenize, words
from .translate import expand, is_pinyin, stem

MAX_QUERY_CHARS = 2000
MAX_K = 50
DENSE_TERMS = 5  # translated terms appended to an English question before embedding
DENSE_DEPTH = 1000  # dense candidates per query; the rest count as least similar
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_CJK = re.compile(r"[\u3400-\u9fff]")
# Words by which questions point at the recording rather than its content ("what does the guest
# think..."): translating them finds passages where the host says 嘉宾, not the answer.
_DISCOURSE = frozenset(
    "guest guests host hosts speaker speakers author authors interviewer interviewee narrator episode "
    "podcast transcript transcripts article source sources".split()
)
# English words that ask rather than name what is asked about; they carry no topic for coverage.
_FUNCTION_WORDS = frozenset(
    "much many has have had having can could would should will shall may might must there here into onto "
    "than then them your you yours our ours not any all some such very more most less also just only even "
    "still yet other others another each every both either whether while since until before after because "
    "but nor own same too over under again once during between through above below out off per via".split()
)
_UNTRANSLATED = STOPWORDS | _DISCOURSE
_NOT_CONTENT = _UNTRANSLATED | _FUNCTION_WORDS  # left out of Evidence.coverage
_NAME = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*(?:[-.+][A-Za-z0-9]+)*(?:'s)?")


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
    """What retrieval saw, for abstention.

    dense_top: cosine of the question and the closest passage.
    coverage: a question about things the corpus never mentions ("how do I bake bread?") has
        most of its English words missing from the corpus, even through translation.
    unknown_names: names in the question (Latin script, capitalised or with digits: H800, GLM-4,
        CoWoS, Samsung) that occur nowhere in the corpus, neither as written nor through a
        translation; a word-like foreign name counts only if CC-CEDICT knows its Chinese form.
        Chinese proper nouns of CC-CEDICT (盘古, 字节跳动) count when the corpus has neither them
        nor their English name.
    """

    dense_top: float
    unknown_names: tuple[str, ...] = ()
    coverage: float = 1.0  # share of the question's English content words the corpus has
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)  # what was searched


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
        self._title_words = {t for d in index.documents.values() for t in tokenize(d["title"])}

    def lexical_terms(self, query: str) -> list[tuple[str, float]]:
        """BM25 terms of the query: its own tokens, plus Chinese terms for its English words."""
        terms = [(t, 1.0) for t in tokenize(query)]
        if self.translation_weight:
            own = {t for t, _ in terms}
            terms += [(t, w * self.translation_weight) for t, w in self.translations(query) if t not in own]
        return terms

    def translations(self, query: str) -> list[tuple[str, float]]:
        return expand(query, self.index.lexicon, _UNTRANSLATED) if _LATIN_WORD.search(query) else []

    def dense_query(self, query: str) -> str:
        """What gets embedded: an English question followed by its least ambiguous CEDICT translations.

        One embedding of question + translation ranks as well as two fused embeddings, at half the
        cost. The embedding's cost grows with the text, so only DENSE_TERMS terms are appended: more
        did not rank better on the dev and calibration sets (README, "Quality and speed").
        """
        if not self.translate_dense or not _is_english(query):
            return query
        ranked = sorted(self.translations(query), key=lambda tw: -tw[1])  # stable: ties keep question order
        chinese = [t for t, w in ranked if w >= 0.5][:DENSE_TERMS]
        return " ".join([query, *chinese])

    def search(self, query: str, k: int = 8) -> list[Hit]:
        return self.search_with_evidence(query, k)[0]

    def search_with_evidence(self, query: str, k: int = 8, expansion: str = "") -> tuple[list[Hit], Evidence]:
        """Hits and the evidence for abstaining. `expansion` (e.g. an LLM's Chinese rendering of an
        English question) is added to both the embedded text and the BM25 terms."""
        query = check_query(query, k)
        n = len(self.index.passages)
        if n == 0:
            return [], Evidence(0.0)
        expansion = " ".join(expansion.split())[:MAX_QUERY_CHARS]
        dense_text = self.dense_query(query)
        qvec = self.embedder.embed_queries([f"{dense_text} {expansion}" if expansion else dense_text])
        scores, ids = self.index.vectors.search(qvec, min(n, DENSE_DEPTH))
        dense = _minmax(_spread(scores[0], ids[0], n))
        terms = self.lexical_terms(query)
        if expansion:
            seen = {t for t, _ in terms}
            terms += [(t, 1.0) for t in dict.fromkeys(tokenize(expansion)) if t not in seen]
        lex = _unit_max(self.index.bm25.weighted_scores(terms))
        if self.gloss_weight and _is_english(query):
            glossed = self.index.bm25_en.weighted_scores([(t, 1.0) for t in english_query(query, _DISCOURSE)])
            lex = _unit_max((1 - self.gloss_weight) * lex + self.gloss_weight * _unit_max(glossed))
        fused = self.dense_weight * dense + (1 - self.dense_weight) * lex
        order = np.argsort(-fused, kind="stable")[:k]
        hits = [_hit(r + 1, self.index.passages[i], fused[i]) for r, i in enumerate(order)]
        return hits, Evidence(float(scores[0][0]), tuple(self.unknown_names(query)), self.coverage(query), qvec[0])

    def coverage(self, query: str) -> float:
        """The share of the question's English content words that the corpus has (see Evidence), as
        written or through a CEDICT translation; names that cannot be judged count as present.

        Chinese words are left out: segmenting a question misreads what the corpus has never seen
        (李志飞读博时 -> 李志 / 飞读 / 博时), and the dense floor already turns away off-topic
        Chinese questions. A question without English content words has coverage 1.
        """
        english = _is_english(query)
        vocab = self.index.bm25.vocab
        present = []
        for word in re.findall(r"[A-Za-z]+", query):  # large-model -> large, model; GPT-3 -> GPT
            if len(word) < 3 or word.lower() in _NOT_CONTENT:
                continue
            if word[0].isupper():
                present.append(self._known(word, english))
            else:
                keys = {word.lower(), stem(word.lower())}
                present.append(any(k in vocab for k in keys) or bool(expand(word, self.index.lexicon, STOPWORDS)))
        return sum(present) / len(present) if present else 1.0

    def unknown_names(self, query: str) -> list[str]:
        """Names the question uses that the corpus never mentions (see Evidence)."""
        english = _is_english(query)
        out = []
        for m in _NAME.finditer(query):
            name = re.sub(r"'s$", "", m.group())
            first_word = not query[: m.start()].strip() or query[: m.start()].rstrip()[-1] in ".?!:;\"'“"
            has_digit = any(ch.isdigit() for ch in name)
            if len(name) < 2 or name.lower() in STOPWORDS:
                continue
            if english and not has_digit and (first_word or not name[0].isupper() or len(name) < 3):
                continue  # ordinary English words; short names such as "Li" are too ambiguous to judge
            # In a compound (ChatGPT-style, GLM-4) the parts that look like names are judged.
            parts = [p for p in re.split(r"[-.+]", name) if p and (p[0].isupper() or any(c.isdigit() for c in p))]
            unknown = [p for p in parts or [name] if not self._known(p, english)]
            if unknown:
                out.append(name)
        # Chinese proper nouns (盘古, 字节跳动) that the corpus never mentions, made of whole words of the
        # question: jieba splits some names (字节 + 跳动), and a name inside a word (子产 in 电子产品) is none.
        segmented = words(query)
        spans = ("".join(segmented[i : i + n]) for n in (1, 2, 3) for i in range(len(segmented) - n + 1))
        out += [w for w in dict.fromkeys(spans) if w in self.index.absent_names]
        return out

    def _known(self, name: str, english: bool) -> bool:
        """Whether the corpus mentions the name, or may: a name it would write in Chinese characters
        cannot be judged unless CC-CEDICT gives its Chinese form."""
        lower = name.lower()
        keys = {lower, stem(lower), lower.removesuffix("s")}  # GPUs -> gpu, which Snowball leaves
        if any(k in self.index.bm25.vocab or k in self._title_words or self.index.names.get(k) for k in keys):
            return True
        if expand(name, self.index.lexicon, STOPWORDS):
            return True
        if english and is_pinyin(name, self.index.pinyin):
            return True  # a Chinese name spelt in pinyin (Yuxin, Zhipu)
        # A foreign name written as a word (Ilya, Altman, Moonshot): Chinese text transliterates or
        # translates such names, so it is judged only when CEDICT knows its Chinese form. Acronyms,
        # mixed case and digits (TSMC, CoWoS, H800) stay in Latin script in Chinese text.
        # In a Chinese question a Latin name is written as the corpus would write it, so it is judged.
        titlecase_word = english and name.isalpha() and name[0].isupper() and name[1:].islower()
        return titlecase_word and not any(k in self.index.names for k in keys)


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


def _is_english(query: str) -> bool:
    latin = len(_LATIN_WORD.findall(query))
    return latin > 0 and not _CJK.search(query)


def _hit(rank: int, p: Passage, score: float) -> Hit:
    return Hit(rank, p.source, p.title, p.text, p.start, p.end, round(float(score), 6))
