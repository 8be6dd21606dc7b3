"""Opening an archive's index and its first search, against the archive's size, with the model left out.

Builds archives of hour-long subtitle files (1,200 SRT cues each, every cue a named speaker's: the
bundled transcripts' words, shuffled) with a stand-in embedder that returns random unit vectors,
then, in a new process per archive, times what a cold `rag search` does besides loading the model
and embedding the question: opening the index, and its first search of a Chinese and of an English
question (which looks up names in the folded text, each passage's language, who speaks where).
Prints, per archive: episodes, MB of subtitles, passages, seconds to open, seconds to search.

Usage: python scripts/bench_open.py [--episodes 25,100]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_memory import StandIn  # noqa: E402

QUESTIONS = ["亚马逊的大模型为什么失败？", "What does Ada Park say about open models?"]
SPEAKERS = ["Ada Park", "Ben Ruiz", "Chen Wei"]


def archive(folder: Path, episodes: int) -> float:
    """`episodes` SRT files of 1,200 cues in `folder`; their size in MB."""
    words = " ".join(p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))).split()
    rnd, size = random.Random(1), 0
    for n in range(episodes):
        cues = []
        for c in range(1200):
            t0, t1 = 3 * c, 3 * c + 2.5
            at = rnd.randrange(len(words) - 12)
            cues.append(
                f"{c + 1}\n{_clock(t0)} --> {_clock(t1)}\n{SPEAKERS[c // 9 % 3]}: "
                f"{' '.join(words[at : at + rnd.randint(3, 12)])}\n"
            )
        text = "\n".join(cues)
        (folder / f"episode-{n:03d}.srt").write_text(text, "utf-8")
        size += len(text.encode())
    return size / 1e6


def _clock(s: float) -> str:
    return f"{int(s // 3600):02d}:{int(s // 60 % 60):02d}:{int(s % 60):02d},{int(s * 1000 % 1000):03d}"


def child(dest: Path) -> None:
    began = time.perf_counter()
    from rag.engine import Engine
    from rag.index import open_index

    imported = time.perf_counter()
    index = open_index(dest)
    opened = time.perf_counter()
    embedder = StandIn()
    engine = Engine(index, embedder)
    for question in QUESTIONS:
        engine.search(question)
    searched = time.perf_counter()
    out = {"passages": len(index.passages), "import": imported - began, "open": opened - imported}
    print(json.dumps(out | {"search": searched - opened}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", default="25,100")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child))
        return
    from rag.indexing import build

    print("| episodes | MB of subtitles | passages | open s | first searches s |")
    print("|---|---|---|---|---|")
    for episodes in (int(x) for x in args.episodes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "corpus"
            folder.mkdir()
            mb = archive(folder, episodes)
            build(folder, Path(tmp) / "index", StandIn())
            cmd = [sys.executable, __file__, "--child", str(Path(tmp) / "index")]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(f"| {episodes} | {mb:.1f} | {out['passages']} | {out['open']:.2f} | {out['search']:.2f} |")


if __name__ == "__main__":
    main()
