"""The package as a user installs it: a wheel, used from a directory that is not the checkout."""

import subprocess
import sys

from conftest import ROOT

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import rag
from rag import prompts
from rag.answering import excerpts, llm_prompt
from rag.errors import IndexMissingError
assert rag.__file__.startswith(sys.argv[1]), rag.__file__
try:
    rag.load()
except IndexMissingError as e:
    print("missing:", e)
engine = rag.load(sys.argv[2])
q = engine.retriever.analyse("why did Amazon Q fail?")
system, user = llm_prompt(q, excerpts(engine.search(q, 3), engine.index.texts))
print("prompt ok" if "<<<passage 1" in user and "quoted transcript text" in system else "prompt missing")
print("answer:", engine.ask("why did Amazon Q fail?").citations[0].source)
"""


def test_the_wheel_works_from_any_directory(tmp_path):
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    elsewhere.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert (target / "rag" / "_prompts" / "system.txt").exists()
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(target), str(ROOT / "index")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "missing: no index at index: run `rag --index index build CORPUS_DIR`" in out
    assert "prompt ok" in out and "answer: 000_2d6f43025af66c3e.txt" in out
