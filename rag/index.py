"""The index: one directory holding vectors, passages, a BM25 index and a manifest.

    index/
      manifest.json    embedder, dimension, chunk settings, sha256 per source, package version
      passages.jsonl   one Passage per line, in vector order
      vectors.faiss    FAISS inner-product index of unit vectors: exact (flat) up to FLAT_MAX
                       passages, inverted lists (IVF) above, as the manifest's `ann` records
      sentences.jsonl  [passage number, start, end, text] of each passage's sentences (extractive answers)
      sentences.npy    their vectors, so answering embeds only the question
      bm25/            bm25s index of the same passages
      bm25_en/         bm25s index of their English glosses (CC-CEDICT), for English questions
      lexicon.json     English -> Chinese words of the corpus, names, pinyin (rag.translate)

`write` builds the new directory beside the target and swaps it in with renames (rag.atomic), so a crash
leaves either the old index or the new one, never a mix; `open_index` recovers the old one if
a crash fell between the two renames.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from collections import Counter
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import fsync_tree, recover, remove_leftovers, swap
from .chunking import ChunkSettings, Passage, sentences, split
from .documents import Document, corpus_files, load, normalise, parse
from .embedders import Embedder
from .errors import CorpusError, IndexBusyError, IndexMismatchError, IndexMissingError, NotFoundError, UsageError
from .timed import Segment, timing
from .lexical import BM25, STOPWORDS, english_tokens, tokenize, words
from .translate import absent_names, build_glosses, build_lexicon, build_names, names_in_text, pinyin_readings

FORMAT = 1
MANIFEST = "manifest.json"
_FILES = (MANIFEST, "passages.jsonl", "documents.jsonl", "vectors.faiss", "bm25", "bm25_en", "lexicon.json",
          "sentences.jsonl", "sentences.npy")
BATCH = 32
FLAT_MAX = 100_000  # exact search stays fast enough up to here; IVF above (see scripts/bench.py)
WRITE_WAIT = 600.0  # seconds a second writer waits for the index's lock
NPROBE = 32  # IVF lists searched per query: recall@10 >= 0.95 on 1M synthetic vectors (scripts/bench.py)


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


@dataclass
class Index:
    """A loaded index: passages, their vectors and BM25, and the manifest that describes them."""

    path: Path
    manifest: Manifest
    passages: list[Passage]
    vectors: object  # faiss.Index
    bm25: BM25
    bm25_en: BM25  # English glosses of the passages (rag.lexical.english_tokens)
    documents: dict[str, dict]  # source -> {"source", "title", "meta", "text"}: the original text for quotes
    lexicon: dict[str, list[str]]  # English gloss -> Chinese corpus words (rag.translate)
    readings: dict[str, str]  # toneless pinyin syllable -> corpus characters read so (rag.translate.pinyin_readings)
    names: dict[str, list[str]]  # names CEDICT knows -> corpus words for them (rag.translate.build_names)
    absent_names: frozenset[str]  # Chinese proper nouns the corpus never mentions (rag.translate.absent_names)
    sentences: list[tuple[int, int, int, str]]  # (passage number, start, end, normalised text)
    sentence_vectors: np.ndarray

    @cached_property
    def _sentences_by_passage(self) -> dict[tuple[str, int], list[int]]:
        out: dict[tuple[str, int], list[int]] = {}
        for i, (p, _, _, _) in enumerate(self.sentences):
            out.setdefault((self.passages[p].source, self.passages[p].start), []).append(i)
        return out

    def sentences_of(self, source: str, start: int) -> list[tuple[str, int, int, np.ndarray]]:
        """(text, start, end, vector) of the sentences of the passage of `source` starting at `start`."""
        ids = self._sentences_by_passage.get((source, start), [])
        return [(self.sentences[i][3], self.sentences[i][1], self.sentences[i][2], self.sentence_vectors[i]) for i in ids]

    @cached_property
    def pinyin(self) -> frozenset[str]:
        """Toneless pinyin syllables, to recognise Chinese names in English questions."""
        return frozenset(self.readings)

    @cached_property
    def corpus_text(self) -> str:
        """The titles and normalised passage text of every transcript, for finding names in them."""
        return "\n".join([*(d["title"] for d in self.documents.values()), *(p.text for p in self.passages)])

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
        return timing(self.documents[source].get("segments", []), start, end)

    @cached_property
    def passage_speakers(self) -> list[frozenset[str]]:
        """Who speaks in each passage (timed transcripts with speakers, or a file's listed speakers)."""
        out = []
        for p in self.passages:
            d = self.documents[p.source]
            segs = d.get("segments")
            if segs:
                out.append(frozenset(s[4] for s in segs if s[4] and s[0] < p.end and s[1] > p.start))
            else:
                out.append(frozenset(d["meta"].get("speakers") or ()))
        return out

    @cached_property
    def texts(self) -> dict[str, str]:
        return {source: d["text"] for source, d in self.documents.items()}

    def sources(self) -> list[dict]:
        """One record per transcript: source, title, passage count, length and header metadata."""
        counts: dict[str, int] = {}
        for p in self.passages:
            counts[p.source] = counts.get(p.source, 0) + 1
        return [
            {"source": name, "title": d["title"], "passages": counts.get(name, 0), "chars": len(d["text"]), **d["meta"]}
            for name, d in sorted(self.documents.items())
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
            "source": source, "title": doc["title"], "start": lo, "end": hi,
            "before": text[lo:start], "quote": text[start:end], "after": text[end:hi],
        }

    def check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.manifest.embedder or embedder.dim != self.manifest.dim:
            raise IndexMismatchError(
                f"index at {self.path} was built with {self.manifest.embedder} ({self.manifest.dim} dims), "
                f"asked for {embedder.name} ({embedder.dim} dims): run `rag build` with that embedder"
            )


@dataclass
class BuildReport:
    index: Index
    skipped: list[str]  # one reason per corpus file that was left out
    embedded: int = 0  # distinct texts embedded by this build
    reused: int = 0  # distinct texts whose vectors came from the previous index


def load_corpus(folder: Path, strict: bool = False) -> tuple[list[Document], list[str]]:
    """Parse every transcript in `folder`; unusable files are skipped with a reason, or raise if strict."""
    docs, skipped = [], []
    for path in corpus_files(folder):
        try:
            docs.append(load(path))
        except CorpusError as e:
            if strict:
                raise
            skipped.append(str(e))
    if not docs:
        raise CorpusError(f"no usable transcripts in {folder}: " + "; ".join(skipped))
    return docs, skipped


def build(
    folder: Path,
    dest: Path,
    embedder: Embedder,
    chunk: ChunkSettings = ChunkSettings(),
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Chunk and embed the transcripts in `folder` and atomically write the index to `dest`.

    Vectors of passages and sentences that the index at `dest` already holds (same text, same
    embedder) are reused, so only new or changed text is embedded. `progress(done, total)` is
    called after each batch that is embedded.
    """
    docs, skipped = load_corpus(folder, strict)
    with writing(dest):
        report = _write_documents(docs, dest, embedder, chunk, progress)
    report.skipped = skipped
    return report


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
    paths: Iterable[Path], dest: Path, embedder: Embedder, strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Add transcripts (files, or folders of them) to the index at `dest`; a file with an indexed
    source name replaces that transcript. Only their text is embedded."""
    with writing(dest):
        return _add(paths, dest, embedder, strict, progress)


def _add(paths, dest, embedder, strict, progress) -> BuildReport:
    index = open_index(dest)
    index.check_embedder(embedder)
    docs = {d.source: d for d in _indexed_documents(index)}
    skipped = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        if path.is_dir():
            found, left_out = load_corpus(path, strict)
            skipped += left_out
        else:
            try:
                found = [load(path)]
            except CorpusError as e:
                if strict:
                    raise
                skipped.append(str(e))
                found = []
        docs.update((d.source, d) for d in found)
    report = _write_documents(list(docs.values()), dest, embedder, ChunkSettings(**index.manifest.chunk), progress)
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
    return _write_documents(docs, dest, embedder, ChunkSettings(**index.manifest.chunk), None)


def _indexed_documents(index: Index) -> list[Document]:
    """The documents of an index as they were read: title, metadata (a sidecar's included) and the
    segments of timed transcripts come from the index; regions from the text again."""
    out = []
    for source, d in index.documents.items():
        segments = tuple(Segment(*s) for s in d.get("segments", []))
        doc = Document(source, d["title"], d["text"], ((0, len(d["text"])),)) if segments else parse(source, d["text"])
        titled = d.get("titled", doc.titled)
        out.append(replace(doc, title=d["title"] if titled else doc.title, meta=d["meta"], titled=titled,
                           segments=segments))
    return out


def _write_documents(
    docs: list[Document], dest: Path, embedder: Embedder, chunk: ChunkSettings,
    progress: Callable[[int, int], None] | None,
) -> BuildReport:
    docs = derive_titles(sorted(docs, key=lambda d: d.source))
    passages = [p for doc in docs for p in split(doc, chunk)]
    texts = {doc.source: doc.text for doc in docs}
    sents = [(i, s, e, t) for i, p in enumerate(passages) for t, s, e in sentences(texts[p.source], p.start, p.end)]
    wanted = [passage_text(p) for p in passages] + [t for *_, t in sents]
    old = _previous_vectors(dest, embedder)
    fresh = list(dict.fromkeys(t for t in wanted if t not in old))

    def fill(out_passages: np.ndarray, out_sentences: np.ndarray) -> None:
        """Write each wanted text's vector into its row, reused or embedded in batches."""
        split_at = len(passages)

        def put(row: int, vector: np.ndarray) -> None:
            if row < split_at:
                out_passages[row] = vector
            else:
                out_sentences[row - split_at] = vector

        rows_of: dict[str, list[int]] = {}
        for row, text in enumerate(wanted):
            if text in old:
                put(row, old[text]())
            else:
                rows_of.setdefault(text, []).append(row)
        for i in range(0, len(fresh), BATCH):
            batch = fresh[i : i + BATCH]
            for text, vector in zip(batch, embedder.embed_passages(batch), strict=True):
                for row in rows_of[text]:
                    put(row, vector)
            if progress:
                progress(i + len(batch), len(fresh))

    manifest = Manifest(
        embedder=embedder.name,
        dim=embedder.dim,
        chunk=asdict(chunk),
        sources={doc.source: doc.sha256 for doc in docs},
        passages=len(passages),
        built_at=_build_time(),
    )
    write(dest, manifest, docs, passages, sents, fill)
    return BuildReport(open_index(dest), [], embedded=len(fresh), reused=len(set(wanted)) - len(fresh))


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
        pairs = Counter(a + b for a, b in zip(chinese, chinese[1:]) if min(len(a), len(b)) == 1 and a + b not in STOPWORDS)
        tokens = chinese + [p for p, n in pairs.items() for _ in range(n) if n >= 3 and len(p) <= 4]
        tokens += re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text)
        counts.append(Counter(t for t in tokens if len(t) >= 2 and t.lower() not in STOPWORDS))
    df = Counter(t for c in counts for t in c)
    out = []
    for d, c in zip(docs, counts):
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


def _previous_vectors(dest: Path, embedder: Embedder) -> dict[str, Callable[[], np.ndarray]]:
    """Text -> a reader of its vector, for every passage and sentence of the index at `dest`, if the
    same embedder built it. Vectors are read when asked for, not copied up front.

    Only the manifest, passages, sentences and their vectors are read, so an index written by an
    older version (lacking files this one adds) still gives its vectors to the rebuild.
    """
    import faiss

    dest = Path(dest)
    recover(dest, MANIFEST)
    try:
        manifest = json.loads((dest / MANIFEST).read_text("utf-8"))
        if manifest["embedder"] != embedder.name or manifest["dim"] != embedder.dim:
            return {}
        passages = [Passage(**record) for record in _read_jsonl(dest / "passages.jsonl")]
        sents = [record[3] for record in _read_jsonl(dest / "sentences.jsonl")]
        vectors = faiss.read_index(str(dest / "vectors.faiss"))
        sentence_vectors = np.load(dest / "sentences.npy", allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return {}  # no usable previous index: everything is embedded
    if vectors.ntotal != len(passages) or len(sentence_vectors) != len(sents):
        return {}
    if isinstance(vectors, faiss.IndexIVF):
        vectors.make_direct_map()
    out: dict[str, Callable[[], np.ndarray]] = {}
    for i, p in enumerate(passages):
        out.setdefault(passage_text(p), lambda i=i: vectors.reconstruct(i))
    for j, text in enumerate(sents):
        out.setdefault(text, lambda j=j: sentence_vectors[j])
    return out


def _read_jsonl(path: Path) -> list:
    """The records of a JSON-lines file of the index."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def passage_text(p: Passage) -> str:
    """What gets embedded for a passage."""
    return p.text


def write(
    dest: Path,
    manifest: Manifest,
    docs: Iterable[Document],
    passages: Iterable[Passage],
    sents: list[tuple[int, int, int, str]],
    fill: Callable[[np.ndarray, np.ndarray], None],
) -> None:
    """Write an index directory next to `dest`, then swap it in.

    `fill(passage_vectors, sentence_vectors)` writes the vectors into two arrays mapped onto files
    in the new directory, so the build never holds them in memory besides the FAISS index itself.
    """
    import faiss

    passages = list(passages)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(dest)
    tmp = dest.with_name(f".{dest.name}.new-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in passages:
                f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in docs:
                record = {"source": d.source, "title": d.title, "titled": d.titled, "meta": d.meta, "text": d.text}
                if d.segments:
                    record["segments"] = [seg.to_list() for seg in d.segments]
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        with open(tmp / "sentences.jsonl", "w", encoding="utf-8") as f:
            for record in sents:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        sentence_vectors = np.lib.format.open_memmap(
            tmp / "sentences.npy", mode="w+", dtype=np.float32, shape=(len(sents), manifest.dim)
        )
        raw = tmp / "passages.f32"  # scratch: the passage vectors until FAISS has them
        passage_vectors = (
            np.memmap(raw, dtype=np.float32, mode="w+", shape=(len(passages), manifest.dim))
            if passages else np.zeros((0, manifest.dim), np.float32)
        )
        fill(passage_vectors, sentence_vectors)
        sentence_vectors.flush()
        vector_index, manifest.ann, manifest.nprobe = make_vector_index(passage_vectors, manifest.dim)
        faiss.write_index(vector_index, str(tmp / "vectors.faiss"))
        del passage_vectors, sentence_vectors, vector_index
        raw.unlink(missing_ok=True)
        tokens = [tokenize(p.text) for p in passages]
        bm25 = BM25.build(tokens)
        bm25.save(tmp / "bm25")
        glosses = build_glosses(bm25.vocab, STOPWORDS)
        BM25.build(english_tokens(t, glosses) for t in tokens).save(tmp / "bm25_en")
        words = set(bm25.vocab) | names_in_text(p.text for p in passages)
        lexicon = {
            "glosses": build_lexicon(words),
            "names": build_names(words),
            "absent_names": absent_names((p.text for p in passages), bm25.vocab),
            "readings": pinyin_readings([*(p.text for p in passages), *(d.title for d in docs)]),
        }
        (tmp / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), "utf-8")
        # The manifest goes last: a directory without one is never mistaken for an index.
        (tmp / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2) + "\n", "utf-8")
        fsync_tree(tmp)
        swap(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def make_vector_index(vectors: np.ndarray, dim: int, flat_max: int | None = None):
    """A FAISS inner-product index of the vectors, chosen by their number: (index, ann, nprobe)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    n = len(vectors)
    if n <= (FLAT_MAX if flat_max is None else flat_max):
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        return flat, "flat", 0
    nlist = max(1, int(np.sqrt(n)))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, 64 * nlist), replace=False)
    ivf.train(vectors[np.sort(sample)])
    for i in range(0, n, 100_000):  # add in slices: no second full copy of the vectors
        ivf.add(vectors[i : i + 100_000])
    nprobe = min(NPROBE, nlist)
    ivf.nprobe = nprobe
    return ivf, "ivf", nprobe


def open_index(path: Path) -> Index:
    """Load an index directory, explaining what is wrong if it cannot be used."""
    import faiss

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise IndexMismatchError(f"{path} is a file, not an index directory")
    recover(path, MANIFEST)
    if not (path / MANIFEST).exists():
        if path.exists() and any(path.iterdir()):
            raise IndexMismatchError(f"{path} is not an index (no {MANIFEST}): run `rag --index {path} build CORPUS_DIR`")
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
    missing = [name for name in _FILES if not (path / name).exists()]
    if missing:
        raise IndexMismatchError(f"index at {path} lacks {', '.join(missing)}: run `rag build`")
    try:
        passages = [Passage(**record) for record in _read_jsonl(path / "passages.jsonl")]
        documents = {d["source"]: d for d in _read_jsonl(path / "documents.jsonl")}
        # Memory-mapped, read-only: server workers share one copy of the vectors in the page cache.
        vectors = faiss.read_index(str(path / "vectors.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        if manifest.ann == "ivf":
            faiss.extract_index_ivf(vectors).nprobe = manifest.nprobe
        bm25 = BM25.load(path / "bm25")
        bm25_en = BM25.load(path / "bm25_en")
        lexicon = json.loads((path / "lexicon.json").read_text("utf-8"))
        glosses, names, readings = lexicon["glosses"], lexicon["names"], lexicon["readings"]
        absent = frozenset(lexicon["absent_names"])
        sents = [tuple(record) for record in _read_jsonl(path / "sentences.jsonl")]
        sentence_vectors = np.load(path / "sentences.npy", allow_pickle=False, mmap_mode="r")
    except Exception as e:  # any parse failure of these files means the same thing to the user
        raise IndexMismatchError(f"index at {path} is damaged ({type(e).__name__}: {e}): run `rag build`") from None
    if not (len(passages) == vectors.ntotal == manifest.passages) or vectors.d != manifest.dim:
        raise IndexMismatchError(
            f"index at {path} is inconsistent ({len(passages)} passages, {vectors.ntotal} vectors, "
            f"manifest says {manifest.passages}): run `rag build`"
        )
    if set(documents) != set(manifest.sources) or any(p.source not in documents for p in passages):
        raise IndexMismatchError(f"index at {path} is inconsistent (documents do not match passages): run `rag build`")
    if len(sents) != len(sentence_vectors) or any(not 0 <= s[0] < len(passages) for s in sents):
        raise IndexMismatchError(f"index at {path} is inconsistent (sentences do not match passages): run `rag build`")
    return Index(
        path, manifest, passages, vectors, bm25, bm25_en, documents, glosses, readings, names, absent, sents,
        sentence_vectors,
    )


def _check_types(manifest: Manifest) -> None:
    """A ValueError naming the first field of a manifest that has the wrong type."""
    expected = {"embedder": str, "dim": int, "chunk": dict, "sources": dict, "passages": int, "format": int,
                "ann": str, "nprobe": int}
    for name, kind in expected.items():
        if not isinstance(getattr(manifest, name), kind):
            raise ValueError(f"{name} should be {kind.__name__}, not {type(getattr(manifest, name)).__name__}")


def stale_sources(index: Index, folder: Path) -> dict[str, str]:
    """Sources whose files in `folder` differ from what the index was built from: name -> why."""
    from .documents import read_text, sha256_text

    now = {}
    for path in corpus_files(folder):
        try:
            now[path.name] = sha256_text(read_text(path))
        except CorpusError:
            continue
    built = index.manifest.sources
    out = {name: "changed" for name in now.keys() & built.keys() if now[name] != built[name]}
    out.update({name: "not indexed" for name in now.keys() - built.keys()})
    out.update({name: "removed from corpus" for name in built.keys() - now.keys()})
    return out
