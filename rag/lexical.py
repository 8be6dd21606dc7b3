"""Lexical search: Chinese-aware tokens scored with BM25 (bm25s's Lucene variant and file format).

Chinese is segmented with jieba in search mode (long words and their parts), Latin-script
words are lower-cased whole, so names such as OpenAI or Sora stay exact terms. A second index
holds each passage's English glosses (`english_tokens`), for English questions.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import numpy as np

from . import segmenter
from .translate import stem

_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-+][a-z0-9]+)*|[\u3400-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_METHOD = "lucene"  # bm25s's default; unmatched passages score 0
# How text becomes terms (tokens, stems, spellings). An index built under another reading has other
# terms: its fingerprint differs, and `rag build` rebuilds it, reusing its vectors.
# 2: English stems in American spelling (rag.translate.american).
# 3: a foreign person of CC-CEDICT is known by their surname (Musk -> 马斯克), not their first name.
ANALYSIS = 4
_K1, _B = 1.5, 0.75  # bm25s's defaults
_SLICE = 1 << 20  # term counts scored at a time
# Function words that carry no topic; jieba leaves them as single-character tokens.
STOPWORDS = frozenset(
    "的 了 是 在 和 也 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 它们 这个 那个 这些 那些 什么 怎么 为什么 "
    "吗 呢 吧 啊 嗯 哦 呀 对 就是 然后 其实 所以 因为 但是 如果 可能 这样 那么 还是 比如说 觉得 "
    "the a an of to in on for and or is are was were be been it its this that these those with as by at "
    "from what which who whom how why when where does did do about according his her their he she they".split()
)


@cache
def _t2s():
    """OpenCC's Traditional-to-Simplified converter (its C++ library: 10 ms to load, 10 MB/s)."""
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Text with Traditional Chinese written in Simplified characters (劉 -> 刘, 著作權 -> 著作权), so
    that either script matches the other. For matching only: quotes and offsets keep the file's text.
    Text without Chinese characters is returned as it is, without loading OpenCC."""
    return _t2s().convert(text) if _CJK.search(text) else text


def is_chinese(text: str) -> bool:
    """Whether a fair share (a fifth or more) of a text's letters are Chinese characters: a passage or
    question in Chinese, or mixed with English terms, rather than in English."""
    letters = sum(1 for ch in text if ch.isalpha())
    return bool(letters) and len(_CJK.findall(text)) >= 0.2 * letters


def are_chinese(texts: list[str]) -> np.ndarray:
    """`is_chinese` of each text, counted by numpy rather than character by character: an index
    asks it of every passage when it opens, and a large archive's passages would otherwise cost
    seconds of every cold start. About a million characters are counted at a time."""
    out = np.zeros(len(texts), dtype=bool)
    first = 0
    while first < len(texts):
        last, size = first, 0
        while last < len(texts) and (size < 1 << 20 or last == first):
            size += len(texts[last])
            last += 1
        codes = np.frombuffer("".join(texts[first:last]).encode("utf-32-le", "surrogatepass"), dtype="<u4")
        alpha, beyond = _ALPHA_ASCII[np.minimum(codes, 127)], codes > 127
        wide = np.flatnonzero(np.bincount(codes[beyond], minlength=128)[128:]) + 128
        if len(wide):  # the letters of each distinct character beyond ASCII, asked of Python once
            table = np.zeros(int(wide[-1]) + 1, dtype=bool)
            table[wide] = [chr(c).isalpha() for c in wide]
            alpha[beyond] = table[codes[beyond]]
        bounds = np.cumsum([0, *(len(t) for t in texts[first:last])])
        cjk = (codes >= 0x3400) & (codes <= 0x9FFF)  # _CJK's range
        letters, han = (np.diff(np.concatenate([[0], np.cumsum(counted)])[bounds]) for counted in (alpha, cjk))
        out[first:last] = (letters > 0) & (han >= 0.2 * letters)
        first = last
    return out


_ALPHA_ASCII = np.array([chr(c).isalpha() for c in range(128)])


def tokenize(text: str) -> list[str]:
    """Search tokens of a text: jieba words for Chinese runs (folded to Simplified characters),
    whole lower-case words otherwise (a compound such as self-play or GPT-4 also gives its words)."""
    tokens: list[str] = []
    for m in _TOKEN.finditer(text.lower()):
        tok = m.group()
        if _CJK.match(tok):
            tokens.extend(w for w in segmenter.cut_for_search(fold(tok)) if w not in STOPWORDS)
        elif tok not in STOPWORDS:
            tokens.append(tok)
            # A compound also stands for its words: "self-play" meets "self play", "GPT-4" meets "GPT".
            parts = re.findall(r"[a-z]{2,}", tok)
            if len(parts) > 1 or (parts and parts[0] != tok):
                tokens.extend(p for p in parts if p not in STOPWORDS)
    return tokens


def segment(text: str) -> list[str]:
    """The text cut into jieba words (precise mode), every character kept."""
    return segmenter.cut(text)


def words(text: str) -> list[str]:
    """Chinese words of a text (folded to Simplified characters), segmented by jieba in its precise
    mode (no overlapping parts)."""
    return [w for run in _CJK_RUN.findall(text) for w in segmenter.cut(fold(run))]


def english_tokens(tokens: list[str], glosses: dict[str, list[str]]) -> list[str]:
    """English search tokens of a passage, from its `tokenize` tokens: the stems of the CEDICT glosses
    of its Chinese words (rag.translate.build_glosses), and of the English words it has itself."""
    out = []
    for token in tokens:
        if _CJK.match(token):
            out += glosses.get(token, [])
        elif token.isalpha():
            out.append(stem(token))
    return out


def english_query(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Stems of a question's English words, to search `english_tokens` with."""
    latin = (w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return [stem(w) for w in latin if len(w) >= 3 and w not in STOPWORDS and w not in ignore]


class Counts:
    """How often each passage has each term, kept as two arrays of 4-byte integers while a build reads
    its passages one at a time: 8 bytes a distinct term of a passage, where lists of token strings
    cost some 70 bytes a token."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # term -> its number, in order of first use
        self.term = array("i")  # per passage, its distinct terms' numbers...
        self.count = array("i")  # ...and how often it has each
        self.ends = array("q")  # where each passage's terms end in `term`
        self.lengths = array("q")  # tokens a passage has

    def add(self, tokens: Iterable[str]) -> None:
        counted = Counter(tokens)
        for token, n in counted.items():
            self.term.append(self.ids.setdefault(token, len(self.ids)))
            self.count.append(n)
        self.ends.append(len(self.term))
        self.lengths.append(sum(counted.values()))

    def __len__(self) -> int:
        return len(self.ends)

    def mapped(self, expand: Callable[[str], list[str]]) -> Counts:
        """Each passage's terms, each replaced by the tokens `expand` gives for it (as often as it occurs)."""
        out = Counts()
        names = list(self.ids)
        expansions = [Counter(expand(t)) for t in names]
        start = 0
        for end in self.ends:
            counted: Counter[str] = Counter()
            for j in range(start, end):
                for token, n in expansions[self.term[j]].items():
                    counted[token] += n * self.count[j]
            out.add(counted.elements())
            start = end
        return out


class BM25:
    """A BM25 index over passage texts, saved to and loaded from a folder.

    It is bm25s's Lucene BM25 in bm25s's file format (indexes built by bm25s itself load alike),
    built from term counts (`from_counts`) and read with numpy: importing bm25s (scipy among it)
    took 0.3 s, most of a CLI question's start-up. Only methods whose unmatched passages score 0 are
    built, so a term's scores are its column and nothing else."""

    def __init__(self, vocab: dict[str, int], data, indices, indptr, num_docs: int):
        # bm25s adds an empty token that owns no column; leave it out
        self.vocab = {t: j for t, j in vocab.items() if j < len(indptr) - 1}
        self._data, self._indices, self._indptr = data, indices, indptr
        self.num_docs = num_docs

    @classmethod
    def build(cls, tokens: Iterable[list[str]]) -> BM25:
        """An index of one token list per passage (`tokenize` or `english_tokens` of its text)."""
        counts = Counts()
        for passage in tokens:
            counts.add(passage)
        return cls.from_counts(counts)

    @classmethod
    def from_counts(cls, counts: Counts) -> BM25:
        """The index bm25s builds with its Lucene method, in the arrays it saves (a CSC matrix: one
        column per term, of its per-passage scores idf * tf / (tf + k1 * (1 - b + b * length / mean
        length))), computed with numpy from term counts. bm25s's own builder takes every passage's
        token list in memory. Terms are numbered in sorted order, so the same corpus gives the same files."""
        n = len(counts)
        names = sorted(counts.ids)
        number = np.empty(len(names), dtype=np.int32)
        number[[counts.ids[t] for t in names]] = np.arange(len(names), dtype=np.int32)
        terms = number[np.asarray(counts.term, dtype=np.int32)]
        ends = np.asarray(counts.ends, dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(ends, prepend=np.int64(0)))
        lengths = np.asarray(counts.lengths, dtype=np.int64)
        df = np.bincount(terms, minlength=len(names))
        idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float32)
        norm = _K1 * ((1 - _B) + _B * lengths / (lengths.mean() if n and lengths.any() else 1.0))
        order = np.argsort(terms, kind="stable")  # by term, then passage (each passage's rows are in order)
        count = np.frombuffer(counts.count, dtype=np.int32)
        data = np.empty(len(terms), dtype=np.float32)
        for i in range(0, len(terms), _SLICE):  # in slices: float64 temporaries of a slice, not of all
            at = order[i : i + _SLICE]
            tf = count[at].astype(np.float32)
            data[i : i + len(at)] = idf[terms[at]] * (tf / (norm[rows[at]] + tf))
        indptr = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return cls(dict(zip(names, range(len(names)), strict=True)), data, rows[order], indptr, n)

    def save(self, folder: Path) -> None:
        """Write the index as bm25s saves one (its arrays, vocabulary and parameters)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, values in (("data", self._data), ("indices", self._indices), ("indptr", self._indptr)):
            np.save(folder / f"{name}.csc.index.npy", np.asarray(values), allow_pickle=False)
        vocab = json.dumps(self.vocab, ensure_ascii=False, separators=(",", ":"))
        (folder / "vocab.index.json").write_text(vocab, encoding="utf-8")
        params = {"k1": _K1, "b": _B, "delta": 0.5, "method": _METHOD, "idf_method": _METHOD, "dtype": "float32"}
        params |= {"int_dtype": "int32", "num_docs": self.num_docs, "backend": "numpy"}
        (folder / "params.index.json").write_text(json.dumps(params, indent=4), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") != _METHOD:
            raise ValueError(f"{folder}: BM25 method {params.get('method')!r}, expected {_METHOD!r}; rebuild the index")
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy", mmap_mode="r") for name in ("data", "indices", "indptr")
        )
        return cls(vocab, data, indices, indptr, int(params["num_docs"]))

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(passages, BM25 scores) of the passages that have a term."""
        j = self.vocab.get(term)
        if j is None:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        s, e = int(self._indptr[j]), int(self._indptr[j + 1])
        return self._indices[s:e], self._data[s:e]

    def scores(self, term: str) -> np.ndarray:
        """BM25 score of each passage for one term (zeros for a term no passage has)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        docs, scores = self.postings(term)
        out[docs] = scores
        return out

    def df(self, term: str) -> int:
        """How many passages have a term."""
        j = self.vocab.get(term)
        return 0 if j is None else int(self._indptr[j + 1] - self._indptr[j])

    def idf(self, term: str) -> float:
        """log(N / df) of a term; 0 for a term no passage has."""
        df = self.df(term)
        return float(np.log(self.num_docs / df)) if df else 0.0

    def lucene_idf(self, term: str) -> float:
        """The IDF bm25s's lucene method multiplies into a term's scores: log(1 + (N - df + 0.5) / (df + 0.5));
        0 for a term no passage has."""
        df = self.df(term)
        return math.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)) if df else 0.0

    def weighted_scores(self, terms: list[tuple[str, float]]) -> np.ndarray:
        """Sum of each term's BM25 scores times its weight (for expanded queries)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        for term, weight in terms:
            if term in self.vocab:
                out += weight * self.scores(term)
        return out
