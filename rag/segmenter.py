"""jieba's Chinese word segmentation, as rjieba (jieba-rs) has it, loaded once per process.

rjieba builds jieba's 349,000-word dictionary when it is imported: 0.13 s, a third of a CLI
question's start-up, spent holding the GIL, so no thread can overlap it. `prefetch` overlaps it
with a child process instead: the child loads the dictionary and segments the question's Chinese
while this process loads the index, and the question's words are then looked up, not computed.
Anything else (or a child that failed) is segmented in process as before. This module imports
only the standard library, so the CLI can start the child before it imports numpy and faiss.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from functools import cache

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
# Run by the child: segments each run in both of the modes rag.lexical uses, prints one JSON object.
# It starts isolated and without site (-I -S, 10-20 ms sooner), rjieba's folder first on its path.
_CHILD = """import json, sys
sys.path.insert(0, sys.argv[2])
import rjieba
print(json.dumps({run: [rjieba.cut(run, True), rjieba.cut_for_search(run, True)] for run in json.loads(sys.argv[1])}))
"""
_MAX_PREFETCHED = 4000  # characters passed to the child on its command line; questions are shorter
_WAIT_S = 10  # a helper that has not answered by then is given up (it takes 0.15 s)
_pending: subprocess.Popen | None = None
_known: dict[str, tuple[list[str], list[str]]] = {}


@cache
def _jieba():
    """rjieba: with HMM on it cuts the bundled transcripts and questions exactly as Python jieba does
    (tests/test_chunking.py), and loads its dictionary in 0.13 s where jieba takes 0.9 s."""
    import rjieba

    return rjieba


def prefetch(text: str) -> bool:
    """Start segmenting the Chinese runs of `text` in a child process, unless this process has
    jieba's dictionary already. `cut` and `cut_for_search` of those runs then wait for the child.
    Whether a child was started."""
    global _pending
    runs = sorted(set(_CJK_RUN.findall(text[:_MAX_PREFETCHED])) - _known.keys())
    if not runs or _pending is not None or "rjieba" in sys.modules:
        return False
    spec = importlib.util.find_spec("rjieba")
    if spec is None or not spec.origin:
        return False  # not installed: segmenting in process says so
    try:
        _pending = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _CHILD, json.dumps(runs), os.path.dirname(os.path.dirname(spec.origin))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return False  # segmented in process
    return True


def _prefetched(text: str) -> tuple[list[str], list[str]] | None:
    global _pending
    if _pending is not None:
        try:
            out, _ = _pending.communicate(timeout=_WAIT_S)
            _known.update(json.loads(out) if _pending.returncode == 0 else {})
        except subprocess.TimeoutExpired:
            _pending.kill()  # segmented in process
            _pending.communicate()
        except ValueError:
            pass
        _pending = None
    return _known.get(text)


def cut(text: str) -> list[str]:
    """jieba's precise mode, HMM on: every character kept, no overlapping words."""
    got = _prefetched(text)
    return list(got[0]) if got else _jieba().cut(text, True)


def cut_for_search(text: str) -> list[str]:
    """jieba's search mode, HMM on: long words and then their dictionary parts."""
    got = _prefetched(text)
    return list(got[1]) if got else _jieba().cut_for_search(text, True)


def person_names(text: str) -> list[str]:
    """Chinese personal names jieba's tagger finds in `text` (part of speech nr, nrfg)."""
    return [w for w, tag in _jieba().tag(text, True) if tag in ("nr", "nrfg") and len(w) >= 2]
