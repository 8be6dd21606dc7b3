"""Speed benchmark, one run, printed as a Markdown table for the README.

    - warm retrieval latency p50/p95 of Engine.search, and of a bare embed + FAISS search: the ratio
    - CLI cold start: wall time of `rag search --json QUESTION` as a new process (median of 5)
    - full build of the seeds into a new index, and `rag add` of one transcript to an index of the
      other four: the ratio (add embeds only the new transcript's text)
    - synthetic scale: 1,000,000 unit vectors (384 dims, 2,000 Gaussian clusters) through the same
      `make_vector_index` the index uses; build time, search p50, recall@10 against exact search
      and peak memory, in a child process so the memory is its own

Usage: python scripts/bench.py [--corpus seeds] [--index index]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402
from rag import indexing as ix  # noqa: E402

QUESTIONS = ["why did Amazon Q fail?", "亚马逊的大模型为什么失败？", "What is self-play reinforcement learning?",
             "强化学习的新范式是什么", "How far ahead is OpenAI, judging by Sora?", "中国能做出自己的OpenAI吗？",
             "Why did Li switch from computer networks to speech recognition?", "大模型创业公司能盈利吗？"]


def percentile(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1]


def warm_latency(engine, rounds: int = 20) -> tuple[list[float], list[float]]:
    index, emb = engine.index, engine.embedder
    bare, ours = [], []
    for q in QUESTIONS:
        engine.search(q, 6)
    for _ in range(rounds):
        for q in QUESTIONS:
            t = time.perf_counter()
            index.vectors.search(emb.embed_queries([q]), 6)
            bare.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.search(q, 6)
            ours.append((time.perf_counter() - t) * 1000)
    return bare, ours


def cold_start(index: Path, runs: int = 5) -> float:
    rag_cli = Path(sys.executable).with_name("rag")
    cmd = [str(rag_cli), "--index", str(index), "search", "--json", "why did Amazon Q fail?"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build_vs_add(corpus: Path, embedder) -> tuple[float, float, str]:
    files = sorted(corpus.glob("*.txt"))
    newest = files[-1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        ix.build(corpus, tmp / "full", embedder)
        full = time.perf_counter() - t
        four = tmp / "four"
        four.mkdir()
        for f in files[:-1]:
            shutil.copy(f, four)
        ix.build(four, tmp / "part", embedder)
        t = time.perf_counter()
        ix.add([newest], tmp / "part", embedder)
        add = time.perf_counter() - t
    return full, add, newest.name


def scale(n: int, dim: int = 384, queries: int = 200) -> dict:
    """Build the index `rag build` would choose for n synthetic vectors and measure it."""
    import json
    import resource

    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    centers = rng.standard_normal((2000, dim)).astype(np.float32)
    x = np.empty((n, dim), np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        x[i : i + m] = centers[rng.integers(0, 2000, m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
    faiss.normalize_L2(x)
    t = time.perf_counter()
    vector_index, ann, nprobe = ix.make_vector_index(x, dim)
    build = time.perf_counter() - t
    q = x[rng.choice(n, queries, replace=False)] + 0.05 * rng.standard_normal((queries, dim)).astype(np.float32)
    faiss.normalize_L2(q)
    times, got = [], []
    for row in q:
        t = time.perf_counter()
        _, ids = vector_index.search(row[None, :], 10)
        times.append((time.perf_counter() - t) * 1000)
        got.append(ids[0])
    exact = faiss.IndexFlatIP(dim)
    exact.add(x)
    _, want = exact.search(q, 10)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)]))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"n": n, "ann": ann, "nprobe": nprobe, "build_s": build, "p50_ms": statistics.median(times),
                      "recall": recall, "peak_gb": peak_gb}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--scale", type=int, default=1_000_000, help="synthetic passages (0 to skip)")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scale_child:
        scale(args.scale_child)
        return

    engine = rag.load(args.index)
    bare, ours = warm_latency(engine)
    cold = cold_start(args.index)
    full, add, added = build_vs_add(args.corpus, engine.embedder)

    print(f"{engine.index.manifest.passages} passages, {engine.index.manifest.embedder}, "
          f"{len(QUESTIONS)} questions × 20 rounds\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| warm search p50 / p95, this product | {percentile(ours, 50):.1f} / {percentile(ours, 95):.1f} ms | |")
    print(f"| warm search p50 / p95, bare embed + FAISS | {percentile(bare, 50):.1f} / {percentile(bare, 95):.1f} ms | |")
    print(f"| ratio p50 / p95 | {percentile(ours, 50) / percentile(bare, 50):.2f}x / "
          f"{percentile(ours, 95) / percentile(bare, 95):.2f}x | ≤ 1.3x |")
    print(f"| CLI cold start, `rag search` | {cold:.2f} s | ≤ 1.5 s |")
    print(f"| full build of {len(list(args.corpus.glob('*.txt')))} transcripts | {full:.1f} s | |")
    print(f"| `rag add` of {added} to the other four | {add:.1f} s | |")
    print(f"| add / full build | {add / full:.2f} | ≤ 0.3 |")
    if args.scale:
        import json

        out = subprocess.run([sys.executable, __file__, "--scale-child", str(args.scale)], check=True,
                             capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        label = f"{r['n']:,} synthetic passages ({r['ann']}, nprobe {r['nprobe']})"
        print(f"| {label}: index build | {r['build_s']:.1f} s | |")
        print(f"| {label}: search p50 | {r['p50_ms']:.1f} ms | ≤ 50 ms |")
        print(f"| {label}: recall@10 vs exact | {r['recall']:.3f} | ≥ 0.95 |")
        print(f"| {label}: peak memory (vectors, index and exact baseline) | {r['peak_gb']:.1f} GB | |")


if __name__ == "__main__":
    main()
