"""Where an index keeps what is searched: passage vectors and lexical weights (a store).

    (unset)                          FaissStore: vectors.faiss in the index directory, BM25 beside it
    milvus://HOST:PORT[/COLLECTION]  MilvusStore on a Milvus server or cluster
    PATH.db[#COLLECTION]             MilvusStore on a milvus-lite file (embedded, for one process)

`rag build --store` (or RAG_STORE) chooses; the manifest records the choice, and every later
command finds the store there. The index directory holds the rest in either case: passages,
documents, sentences, the lexicon and the BM25 vocabulary, which question analysis, answerability
and answering read. Retrieval asks a store for two rankings and fuses them itself
(rag.retrieval), so fusion, refusals and answers are the same code over either store.

In Milvus each passage is one row: its dense vector, its BM25 weights as two sparse vectors (the
product's own Chinese segmentation and English glosses, rag.lexical), and the metadata filters
need (source, show, date, speakers) as scalar fields. A sparse weight is the BM25 term-frequency
part of the score; the query carries each term's IDF, read from the index directory at search
time, so their inner product is the BM25 score the FAISS store computes. Term dimensions are
hashes of the terms, so they stay the same from build to build and `rag add` writes only the
new transcript's rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .errors import DependencyError, IndexBusyError, IndexMismatchError, UsageError

if TYPE_CHECKING:
    from .index import Index
    from .retrieval import Filter

FIELDS = ("zh", "en")  # the two lexical indexes: passages' own tokens, and their English glosses
NO_TERMS = 0xFFFFFFFE  # the sparse dimension of a passage without terms: no term hashes to it
MAX_SPEAKERS = 64  # speakers kept per passage row in Milvus
MILVUS_BATCH = 512  # rows per insert


class Store(Protocol):
    """The two searches retrieval needs. Rows are positions in `Index.passages`."""

    def search_dense(self, query: np.ndarray, depth: int, where: Filter | None) -> tuple[np.ndarray, np.ndarray]:
        """(cosines best first, rows) of the `depth` passages closest to a unit query vector."""

    def search_lexical(
        self, field: str, terms: list[tuple[str, float]], depth: int, where: Filter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 scores) of passages with a positive weighted BM25 score for the terms."""


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store name: kind "faiss" or "milvus"; for Milvus, the client URI and collection."""

    kind: str
    uri: str = ""
    collection: str = ""

    @property
    def name(self) -> str:
        if self.kind == "faiss":
            return ""
        if self.uri.startswith("http"):
            return f"milvus://{self.uri.split('://', 1)[1]}/{self.collection}"
        return f"{self.uri}#{self.collection}"


def parse(spec: str | None, base: Path | None = None) -> StoreSpec:
    """The store a name means: empty, the index directory; milvus://HOST:PORT[/COLLECTION], a Milvus
    server; a path ending in .db (optionally #COLLECTION), a milvus-lite file, relative to `base`."""
    spec = (spec or "").strip()
    if not spec or spec == "faiss":
        return StoreSpec("faiss")
    if spec.startswith("milvus://"):
        rest = spec[len("milvus://") :]
        host, _, collection = rest.partition("/")
        if not host or ":" not in host or not host.rsplit(":", 1)[1].isdigit():
            raise UsageError(f"store {spec!r}: expected milvus://HOST:PORT or milvus://HOST:PORT/COLLECTION")
        return StoreSpec("milvus", f"http://{host}", _collection(collection or "passages", spec))
    path, _, collection = spec.partition("#")
    if path.endswith(".db"):
        full = Path(path).expanduser()
        if not full.is_absolute():
            full = (base or Path.cwd()) / full
        return StoreSpec("milvus", str(full.resolve()), _collection(collection or "passages", spec))
    raise UsageError(
        f"unknown store {spec!r}: leave it unset (FAISS in the index directory), "
        "or give milvus://HOST:PORT[/COLLECTION] or a milvus-lite file ending in .db"
    )


def _collection(name: str, spec: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise UsageError(f"store {spec!r}: a collection name is letters, digits and _, starting with a letter")
    return name


def term_key(term: str) -> int:
    """A term's sparse dimension: the same number for the same term in every build (32-bit hash)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little") % NO_TERMS


def passage_key(source: str, start: int, end: int, text: str) -> int:
    """A passage's row id in Milvus, stable across builds (63-bit hash of where it is and what it says)."""
    digest = hashlib.blake2b(f"{source}\0{start}\0{end}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FaissStore:
    """Vectors in the index directory's vectors.faiss (memory-mapped), BM25 arrays beside them."""

    def __init__(self, vectors, index: Index):
        self.vectors = vectors
        self.index = index
        self._last_mask: tuple = (None, None)  # (filter, mask): a search asks three times for one filter

    def _mask(self, where: Filter) -> np.ndarray:
        last, mask = self._last_mask
        if last != where:
            mask = where.mask(self.index)
            self._last_mask = (where, mask)
        return mask

    def search_dense(self, query, depth, where):
        import faiss

        params = None
        if where:
            allowed = np.flatnonzero(self._mask(where)).astype(np.int64)
            if not len(allowed):
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            selector = faiss.IDSelectorBatch(allowed)
            ivf = self.index.manifest.ann == "ivf"
            params = (
                faiss.SearchParametersIVF(sel=selector, nprobe=self.index.manifest.nprobe)
                if ivf
                else faiss.SearchParameters(sel=selector)
            )
            depth = min(depth, len(allowed))
        scores, ids = self.vectors.search(query.reshape(1, -1), depth, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def search_lexical(self, field, terms, depth, where):
        bm25 = self.index.bm25 if field == "zh" else self.index.bm25_en
        scores = bm25.weighted_scores(terms)
        if where:
            scores = np.where(self._mask(where), scores, 0.0)
        rows = np.flatnonzero(scores > 0)
        return rows, scores[rows]


class MilvusStore:
    """Passages in a Milvus collection (server, cluster or milvus-lite file), through pymilvus."""

    def __init__(self, spec: StoreSpec, dim: int, index: Index | None = None):
        self.spec = spec
        self.dim = dim
        self.index = index
        self.client = connect(spec)
        self.collection = spec.collection

    # -- searching --------------------------------------------------------------------------------

    def _rows(self, hits) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of search hits; ids the index directory does not know are dropped (rows a
        crashed write left behind, or written by a newer build that has not been swapped in)."""
        assert self.index is not None, "a Milvus store is searched with its index"
        row_of = self.index.passage_rows
        pairs = [(row_of[h["id"]], h["distance"]) for h in hits if h["id"] in row_of]
        rows = np.fromiter((r for r, _ in pairs), np.int64, len(pairs))
        return rows, np.fromiter((s for _, s in pairs), np.float32, len(pairs))

    def search_dense(self, query, depth, where):
        res = self.client.search(
            self.collection,
            data=[query.astype(np.float32).tolist()],
            anns_field="dense",
            limit=depth,
            filter=milvus_filter(where),
            search_params=self._dense_params(),
        )
        rows, scores = self._rows(res[0])
        return scores, rows

    def _dense_params(self) -> dict:
        assert self.index is not None, "a Milvus store is searched with its index"
        manifest = self.index.manifest
        if manifest.ann == "ivf":
            return {"metric_type": "IP", "params": {"nprobe": manifest.nprobe}}
        return {"metric_type": "IP"}

    def search_lexical(self, field, terms, depth, where):
        bm25 = self.index.bm25 if field == "zh" else self.index.bm25_en
        query: dict[int, float] = {}
        for term, weight in terms:
            idf = bm25.lucene_idf(term)
            if idf > 0 and weight > 0:
                key = term_key(term)
                query[key] = query.get(key, 0.0) + weight * idf
        if not query:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        res = self.client.search(
            self.collection,
            data=[query],
            anns_field=field,
            limit=depth,
            filter=milvus_filter(where),
            search_params={"metric_type": "IP"},
        )
        rows, scores = self._rows(res[0])
        keep = scores > 0
        return rows[keep], scores[keep]

    def vectors_of(self, texts: set[str]) -> dict[str, np.ndarray]:
        """The vectors the collection holds for these passage texts (reused when rebuilding)."""
        wanted = {text_key(t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        if not self.client.has_collection(self.collection):
            return out
        keys = list(wanted)
        for i in range(0, len(keys), 1000):
            rows = self.client.query(
                self.collection,
                filter="text_key in " + literal(keys[i : i + 1000]),
                output_fields=["text_key", "dense"],
            )
            for r in rows:
                out[wanted[r["text_key"]]] = np.asarray(r["dense"], np.float32)
        return out

    # -- writing ----------------------------------------------------------------------------------

    def ensure_collection(self, ann: str, nlist: int) -> None:
        """Create the collection (and its indexes) if it does not exist; check its dimension if it does."""
        from pymilvus import DataType

        c = self.client
        if c.has_collection(self.collection):
            fields = {f["name"]: f for f in c.describe_collection(self.collection)["fields"]}
            dim = fields.get("dense", {}).get("params", {}).get("dim")
            if dim is not None and int(dim) != self.dim:
                raise IndexMismatchError(
                    f"Milvus collection {self.collection} at {self.spec.uri} holds {dim}-dim "
                    f"vectors, this embedder makes {self.dim}: choose another collection"
                )
            return
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("text_key", DataType.VARCHAR, max_length=64)
        schema.add_field("show", DataType.VARCHAR, max_length=1024)
        schema.add_field("date", DataType.VARCHAR, max_length=64)
        schema.add_field(
            "speakers", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_SPEAKERS, max_length=256
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        for field in FIELDS:
            schema.add_field(field, DataType.SPARSE_FLOAT_VECTOR)
        params = c.prepare_index_params()
        if ann == "ivf":
            params.add_index("dense", index_type="IVF_FLAT", metric_type="IP", params={"nlist": nlist})
        else:
            params.add_index("dense", index_type="FLAT", metric_type="IP")
        for field in FIELDS:
            params.add_index(field, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        c.create_collection(self.collection, schema=schema, index_params=params)
        c.load_collection(self.collection)

    def upsert(self, rows: Iterable[dict]) -> None:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == MILVUS_BATCH:
                self.client.upsert(self.collection, batch)
                batch = []
        if batch:
            self.client.upsert(self.collection, batch)

    def keep_only(self, keys_by_source: dict[str, set[int]], changed: set[str] | None) -> None:
        """Delete every row that is not one of these passages: rows of transcripts the index no longer
        has (or never had: left by a crashed write), and of `changed` ones (None: all), the passages
        they no longer have."""
        self.client.delete(self.collection, filter=f"source not in {literal(sorted(keys_by_source))}")
        for source in keys_by_source if changed is None else changed & keys_by_source.keys():
            gone = sorted(self._ids_of(source) - keys_by_source[source])
            for i in range(0, len(gone), 1000):
                self.client.delete(self.collection, ids=gone[i : i + 1000])

    def _ids_of(self, source: str) -> set[int]:
        """Row ids of one transcript, a page at a time (Milvus returns at most 16,384 per query)."""
        out: set[int] = set()
        page = 16_384
        while True:
            rows = self.client.query(
                self.collection,
                filter=f"source == {literal(source)}",
                output_fields=["id"],
                limit=page,
                offset=len(out),
            )
            out.update(r["id"] for r in rows)
            if len(rows) < page:
                return out

    def count(self) -> int:
        return int(self.client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"])

    def flush(self) -> None:
        self.client.flush(self.collection)


def literal(value) -> str:
    """A string (or list of strings) as a Milvus expression literal: JSON's quoting is Milvus's."""
    return json.dumps(value, ensure_ascii=False)


def milvus_filter(where: Filter | None) -> str:
    """A Milvus boolean expression that lets through the passages `Filter.mask` does."""
    if not where:
        return ""
    parts = []
    if where.source:
        parts.append(f"source == {literal(where.source)}")
    if where.show:
        pattern = where.show.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"show like {literal('%' + pattern + '%')}")
    if where.speaker:
        parts.append(f"array_contains(speakers, {literal(where.speaker.casefold())})")
    if where.since:
        parts.append(f'(date != "" and date >= {literal(where.since)})')
    if where.until:  # "~" sorts after every date that starts with `until`
        parts.append(f'(date != "" and date <= {literal(where.until + "~")})')
    return " and ".join(parts)


def connect(spec: StoreSpec):
    """A pymilvus client for the store, or a DependencyError/IndexMismatchError saying what is wrong."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise DependencyError(
            "a Milvus store needs pymilvus (and milvus-lite for a .db file): pip install 'rag-transcripts[milvus]'"
        ) from None
    if not spec.uri.startswith("http"):
        Path(spec.uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_libraries() as logged:
            client = MilvusClient(uri=spec.uri)
            if client.has_collection(spec.collection):
                client.load_collection(spec.collection)
        return client
    except Exception as e:  # pymilvus raises its own types, and milvus-lite others, for the same thing
        causes = [r.exc_info[1] for r in logged if r.exc_info] + [e]
        if any(type(c).__name__ == "DataDirLockedError" for c in causes):
            raise IndexBusyError(
                f"cannot open the Milvus store {spec.name}: another process has the file open "
                "(milvus-lite opens a file in one process at a time; serve it with "
                "`milvus-lite server` and use milvus://HOST:PORT to share it)"
            ) from None
        raise IndexMismatchError(f"cannot open the Milvus store {spec.name}: {_cause(e)}") from None


@contextmanager
def _quiet_libraries():
    """Keep pymilvus's and milvus-lite's own log lines (a traceback among them) off stderr while
    connecting; yields the records they logged, for the one-line error that replaces them."""
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    loggers = [logging.getLogger(name) for name in ("milvus_lite", "pymilvus")]
    saved = [(log.propagate, log.handlers[:]) for log in loggers]
    keep = Keep()
    for log in loggers:
        log.propagate, log.handlers = False, [keep]
    try:
        yield records
    finally:
        for log, (propagate, handlers) in zip(loggers, saved, strict=True):
            log.propagate, log.handlers = propagate, handlers


def _cause(e: Exception) -> str:
    return " ".join(str(getattr(e, "message", "") or e).split())[:200]


def rows_for(
    passages,
    docs: dict,
    keys: list[int],
    vectors: Iterable[np.ndarray],
    lexical: dict[str, list[dict]],
    speakers: list[Iterable[str]],
) -> Iterator[dict]:
    """Milvus rows of passages: ids, metadata, vector and the two sparse vectors (lists aligned with `passages`)."""
    for i, (p, vector) in enumerate(zip(passages, vectors, strict=True)):
        meta = docs[p.source].meta
        yield {
            "id": keys[i],
            "source": p.source,
            "start": p.start,
            "end": p.end,
            "text_key": text_key(p.text),
            "show": str(meta.get("show") or "").casefold()[:1000],
            "date": str(meta.get("date") or "")[:60],
            "speakers": sorted({s.casefold()[:250] for s in speakers[i]})[:MAX_SPEAKERS],
            "dense": np.asarray(vector, np.float32).tolist(),
            **{field: lexical[field][i] for field in FIELDS},
        }


def sparse_rows(bm25, rows: list[int]) -> list[dict[int, float]]:
    """The BM25 term weights of these passages without IDF (the query carries it), keyed by
    `term_key`. A passage without terms gets a weight on `NO_TERMS`, which no query has: Milvus stores
    no sparse vector without a nonzero weight."""
    at = {row: i for i, row in enumerate(rows)}
    out: list[dict[int, float]] = [{} for _ in rows]
    for term in bm25.vocab:
        idf = bm25.lucene_idf(term)
        key = term_key(term)
        docs, scores = bm25.postings(term)
        for doc, score in zip(docs.tolist(), scores.tolist(), strict=True):
            if doc in at:
                row = out[at[doc]]
                row[key] = row.get(key, 0.0) + score / idf
    return [row or {NO_TERMS: 1.0} for row in out]
