"""Scale: the two stores at N passages of realistic vectors, on this machine.

The vectors are mixtures of real ones: every passage and sentence vector of the bundled index
(multilingual-e5-small, about 2,300), each synthetic vector a random convex mixture of three of them
plus a little noise, normalised. The queries are the real e5 query vectors of the dev and
calibration questions. Exact search (FAISS flat) gives the true top 10 for recall@10.

    FAISS IVF     rag.indexing.make_vector_index as `rag build` makes it above FLAT_MAX passages
    Milvus (lite) rag.stores.MilvusStore: the collection `rag build --store FILE.db` makes (IVF_FLAT,
                  √N lists, 32 probed), rows written through the store's upsert, searched with the parameters retrieval uses

Usage: python scripts/scale.py [--passages 200000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import indexing as ix  # noqa: E402
from rag import stores
from rag.index import open_index  # noqa: E402


def real_vectors(index) -> np.ndarray:
    passages = np.stack([index.vectors.reconstruct(i) for i in range(index.vectors.ntotal)])
    return np.concatenate([passages, np.asarray(index.sentence_vectors)]).astype(np.float32)


def mixtures(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), np.float32)
    for i in range(0, n, 50_000):
        m = min(50_000, n - i)
        picks = rng.integers(0, len(real), (m, 3))
        weights = rng.dirichlet([1.0, 1.0, 1.0], m).astype(np.float32)
        x = np.einsum("mk,mkd->md", weights, real[picks]) + 0.01 * rng.standard_normal((m, real.shape[1]), np.float32)
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries(engine) -> np.ndarray:
    qs = []
    for name in ("dev.jsonl", "calibration.jsonl"):
        for line in (ROOT / "tests" / "data" / name).read_text("utf-8").splitlines():
            if line.strip():
                qs.append(json.loads(line)["question"])
    return engine.embedder.embed_queries(qs)


def recall(got: list[np.ndarray], want: np.ndarray) -> float:
    return float(np.mean([len(set(g[:10]) & set(w)) / 10 for g, w in zip(got, want, strict=True)]))


def timed_searches(search, qs: np.ndarray) -> tuple[list[np.ndarray], float]:
    got, times = [], []
    for q in qs:
        t = time.perf_counter()
        got.append(search(q))
        times.append((time.perf_counter() - t) * 1000)
    return got, statistics.median(times)


def main() -> None:
    import faiss

    import rag

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=200_000)
    args = ap.parse_args()
    n = args.passages

    engine = rag.load(ROOT / "index")
    real = real_vectors(open_index(ROOT / "index"))
    x = mixtures(real, n)
    qs = queries(engine)
    dim = x.shape[1]
    exact = faiss.IndexFlatIP(dim)
    exact.add(x)
    _, want = exact.search(qs, 10)
    rows = []

    t = time.perf_counter()
    ivf, ann, nprobe = ix.make_vector_index(x, dim, flat_max=0)
    build = time.perf_counter() - t
    got, p50 = timed_searches(lambda q: ivf.search(q[None, :], 10)[1][0], qs)
    rows.append(
        ("FAISS IVF (in-process)", f"{build:.1f} s", p50, recall(got, want), f"nlist {ivf.nlist}, nprobe {nprobe}")
    )

    with tempfile.TemporaryDirectory() as tmp:
        spec = stores.StoreSpec("milvus", str(Path(tmp) / "scale.db"), "scale")
        store = stores.MilvusStore(spec, dim)
        _, nlist, nprobe = ix.ann_settings(n, flat_max=0)  # the IVF settings a build of n passages gets
        t = time.perf_counter()
        store.ensure_collection("ivf", nlist)
        store.upsert(
            {
                "id": i,
                "source": f"s{i // 200}",
                "start": 0,
                "end": 0,
                "text_key": "",
                "show": "",
                "date": "",
                "speakers": [],
                "dense": x[i].tolist(),
                "zh": {stores.NO_TERMS: 1.0},
                "en": {stores.NO_TERMS: 1.0},
            }
            for i in range(n)
        )
        store.flush()
        store.client.release_collection("scale")
        store.client.load_collection("scale")  # builds the IVF index over what was written
        build = time.perf_counter() - t
        params = {"metric_type": "IP", "params": {"nprobe": nprobe}}

        def search(q):
            res = store.client.search("scale", data=[q.tolist()], anns_field="dense", limit=10, search_params=params)
            return np.array([h["id"] for h in res[0]])

        got, p50 = timed_searches(search, qs)
        rows.append(
            (
                "Milvus lite (rag.stores)",
                f"{build:.1f} s",
                p50,
                recall(got, want),
                f"IVF_FLAT nlist {nlist}, nprobe {nprobe}",
            )
        )

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{n:,} passages: mixtures of {len(real):,} real e5 vectors; {len(qs)} real e5 queries (dev + calibration); "
        f"peak memory of the run {peak:.1f} GB\n"
    )
    print("| store | build (write + index) | search p50 ms | recall@10 vs exact | index |")
    print("|---|---|---|---|---|")
    for name, build, p50, r, how in rows:
        print(f"| {name} | {build} | {p50:.1f} | {r:.3f} | {how} |")


if __name__ == "__main__":
    main()
