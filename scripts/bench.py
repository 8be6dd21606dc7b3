"""Speed benchmark, one run, printed as a Markdown table for the README.

    - warm retrieval latency p50/p95 of Engine.search, and of a bare embed + FAISS search: the ratio
    - CLI cold start: wall time of `rag search --json QUESTION` as a new process (median of 5)
    - full build of the seeds into a new index, and `rag add` of one transcript to an index of the
      other four: the ratio (add embeds only the new transcript's text)

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
from rag import index as ix  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    args = ap.parse_args()

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


if __name__ == "__main__":
    main()
