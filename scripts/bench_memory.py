"""Memory of a build against the size of one transcript, with the embedder left out.

Builds an index of a single synthetic Chinese transcript of each size (the bundled transcripts'
words, shuffled, until the file is that many MB), each build in its own child process with a
stand-in embedder that returns random unit vectors: what is measured is the build's own memory
(reading, normalising, chunking, sentences, BM25, writing), which grows with the text, and not the
embedding engine's, which does not (scripts/bench_build.py measures that). Prints peak RSS per size,
and the growth per MB of text between the smallest and the largest.

Usage: python scripts/bench_memory.py [--sizes 2,8,32]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class StandIn:
    """Random unit vectors of e5-small's size: no model, no engine memory."""

    name, dim = "stand-in", 384

    def embed_passages(self, texts):
        import numpy as np

        v = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    embed_queries = embed_passages


def transcript(folder: Path, mb: float) -> Path:
    """A Chinese transcript of `mb` MB: the bundled transcripts' words, shuffled line by line."""
    words = " ".join(p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))).split()
    rnd, out, size = random.Random(1), [], 0
    while size < mb * 1e6:
        rnd.shuffle(words)
        line = " ".join(words)
        out.append(line)
        size += len(line.encode())
    path = folder / "episode.txt"
    path.write_text("\n".join(out), "utf-8")
    return path


def child(folder: Path, dest: Path) -> None:
    from rag.indexing import build

    began = time.perf_counter()
    report = build(folder, dest, StandIn())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    with open(dest / "sentences.jsonl", "rb") as f:  # counted, not loaded: loading them is a search's memory
        sentences = sum(1 for _ in f)
    print(f"{report.index.manifest.passages} {sentences} {peak} {time.perf_counter() - began:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2,8,32")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    sizes = [float(x) for x in args.sizes.split(",")]
    print("| transcript MB | passages | sentences | peak RSS MB | seconds |")
    print("|---|---|---|---|---|")
    peaks = []
    for mb in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "corpus"
            folder.mkdir()
            transcript(folder, mb)
            cmd = [sys.executable, __file__, "--child", str(folder), str(Path(tmp) / "index")]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
        passages, sentences, peak, seconds = out[-4:]
        peaks.append(int(peak))
        print(f"| {mb:g} | {passages} | {sentences} | {peak} | {seconds} |")
    if len(sizes) > 1:
        slope = (peaks[-1] - peaks[0]) / (sizes[-1] - sizes[0])
        print(f"\npeak RSS grows {slope:.1f} MB per MB of text from {sizes[0]:g} to {sizes[-1]:g} MB")


if __name__ == "__main__":
    main()
