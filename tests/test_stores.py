"""The Milvus store (milvus-lite here): the same retrieval, filters, add and remove as the FAISS directory."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite")

from conftest import ROOT, CountingEmbedder, free_port  # noqa: E402

from rag import evaluation  # noqa: E402
from rag import indexing as ix
from rag.engine import Engine  # noqa: E402
from rag.errors import IndexMismatchError, UsageError  # noqa: E402
from rag.index import open_index  # noqa: E402
from rag.stores import MilvusStore, parse, passage_key  # noqa: E402


@pytest.fixture(scope="module")
def milvus_seeds(tmp_path_factory, embedder):
    """The seeds built into a milvus-lite file. The bundled index is copied first, so its vectors are
    reused and nothing is embedded again."""
    folder = tmp_path_factory.mktemp("milvus")
    shutil.copytree(ROOT / "index", folder / "idx")
    report = ix.build(ROOT / "seeds", folder / "idx", embedder, store=str(folder / "store.db"))
    assert report.embedded == 0 and not report.unchanged
    return report.index


def test_dev_set_retrieval_through_milvus_equals_the_faiss_directory(milvus_seeds, engine, embedder):
    rows = evaluation.load_dataset(ROOT / "tests" / "data" / "dev.jsonl")
    through = Engine(milvus_seeds, embedder)
    assert milvus_seeds.vectors is None and "vectors.faiss" not in {p.name for p in milvus_seeds.path.iterdir()}

    def runner(e):
        def run(question):
            hits, verdict = e.judged_search(question, 20)
            return [h.text for h in hits], not verdict.answerable

        return run

    ours, faiss = evaluation.evaluate(rows, runner(through)), evaluation.evaluate(rows, runner(engine))
    for lang in ("zh", "en", "all"):
        assert abs(ours[lang]["in3000"] - faiss[lang]["in3000"]) <= 0.01
        assert abs(ours[lang]["mrr"] - faiss[lang]["mrr"]) <= 0.01
    assert ours["abstention"] == faiss["abstention"]
    q = "why did Amazon Q fail?"
    assert [(h.source, h.start) for h in through.search(q, 6)] == [(h.source, h.start) for h in engine.search(q, 6)]
    assert through.ask(q).citations[0].quote == engine.ask(q).citations[0].quote


def test_filters_select_the_same_passages_in_milvus(tmp_path, embedder):
    corpus = ROOT / "tests" / "data" / "timed"
    faiss_idx = ix.build(corpus, tmp_path / "faiss", embedder).index
    milvus_idx = ix.build(corpus, tmp_path / "milvus", embedder, store=str(tmp_path / "m.db")).index
    a, b = Engine(faiss_idx, embedder), Engine(milvus_idx, embedder)
    filters = [
        {},
        {"source": "ep1.srt"},
        {"speaker": "host"},
        {"speaker": "HOST"},
        {"since": "2024-03"},
        {"until": "2024-02"},
        {"show": "ai"},
        {"source": "ep2.vtt", "since": "2020"},
    ]
    for where in filters:
        want = [(h.source, h.start) for h in a.search("模型", 8, **where)]
        assert [(h.source, h.start) for h in b.search("模型", 8, **where)] == want, where
    assert b.search("模型", 8, source="nothing.txt") == []


def test_add_and_remove_touch_only_the_rows_of_their_transcripts(tmp_path, tiny_corpus, embedder):
    db = tmp_path / "m.db"
    dest = tmp_path / "idx"
    first = ix.build(tiny_corpus, dest, embedder, store=str(db))
    store = first.index.store
    assert store.count() == len(first.index.passages)

    new = tmp_path / "c_open.txt"
    new.write_text("这一期讨论开源模型：开源让更多公司可以微调自己的模型，但领先者仍然闭源。", "utf-8")
    added = ix.add([new], dest, embedder)
    assert added.index.manifest.store == first.index.manifest.store  # add follows the index's store
    assert Engine(added.index, embedder).search("开源模型", 1)[0].source == "c_open.txt"
    assert store.count() == len(added.index.passages)

    numbers = tmp_path / "d_numbers.txt"  # no Chinese and no English word: empty sparse vectors
    numbers.write_text("2021 2022 2023 2024 2025 2026", "utf-8")
    with_numbers = ix.add([numbers], dest, embedder)
    assert "d_numbers.txt" in with_numbers.index.manifest.sources
    assert Engine(with_numbers.index, embedder).search("2024", 8, source="d_numbers.txt")[0].source == "d_numbers.txt"
    ix.remove(["d_numbers.txt"], dest, embedder)

    removed = ix.remove(["b_sora.md"], dest, embedder)
    assert store.count() == len(removed.index.passages)
    assert all(h.source != "b_sora.md" for h in Engine(removed.index, embedder).search("Sora 视频生成", 8))

    ix.build(tiny_corpus, dest, embedder)  # b_sora.md is back
    again = ix.build(tiny_corpus, dest, embedder, force=True)  # and its vectors come back out of Milvus
    assert again.embedded == 0 and again.reused > 0 and store.count() == len(again.index.passages)


def test_rows_the_index_does_not_name_are_ignored_then_deleted(tmp_path, tiny_corpus, embedder):
    """What a write that crashed between Milvus and the directory swap leaves behind."""
    dest = tmp_path / "idx"
    index = ix.build(tiny_corpus, dest, embedder, store=str(tmp_path / "m.db")).index
    store: MilvusStore = index.store
    ghost = dict(store.client.query(store.collection, filter="id >= 0", output_fields=["*"], limit=1)[0])
    ghost["id"] = passage_key("ghost.txt", 0, 5, "ghost")
    ghost["source"] = "ghost.txt"
    store.upsert([ghost])
    store.flush()
    hits = Engine(index, embedder).search("亚马逊的大模型", 8)
    assert hits and all(h.source != "ghost.txt" for h in hits)
    ix.build(tiny_corpus, dest, embedder, force=True)
    assert store.count() == len(index.passages)


def test_store_names_and_mismatches_are_explained(tmp_path, tiny_corpus, embedder):
    assert parse("").kind == "faiss" and parse("milvus://db.example:19530").collection == "passages"
    assert parse("milvus://db.example:19530/talks").uri == "http://db.example:19530"
    assert parse("x.db#talks", tmp_path).uri == str(tmp_path / "x.db")
    for bad in ("milvus://nohost", "milvus://h:1/bad-name", "postgres://x", "index.sqlite"):
        with pytest.raises(UsageError):
            parse(bad)
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder, store=str(tmp_path / "m.db"))
    with pytest.raises(IndexMismatchError, match="keeps its vectors in"):
        open_index(dest, "faiss")
    assert open_index(dest, str(tmp_path / "m.db")).manifest.passages > 0
    shutil.rmtree(dest / "bm25")
    with pytest.raises(IndexMismatchError, match="lacks bm25"):
        open_index(dest)

    counting = CountingEmbedder(embedder)  # nothing listens there: the build fails before embedding
    with pytest.raises(IndexMismatchError, match="cannot open the Milvus store"):
        ix.build(tiny_corpus, tmp_path / "none", counting, store=f"milvus://127.0.0.1:{free_port()}")
    assert counting.count == 0 and not (tmp_path / "none").exists()


def test_cli_builds_searches_and_asks_through_milvus(tmp_path, tiny_corpus):
    from click.testing import CliRunner

    from rag.cli import main

    run = CliRunner().invoke
    idx, db = str(tmp_path / "idx"), str(tmp_path / "m.db")
    r = run(main, ["--index", idx, "--store", db, "build", str(tiny_corpus)])
    assert r.exit_code == 0, r.output
    r = run(main, ["--index", idx, "search", "--json", "亚马逊的大模型"])
    assert r.exit_code == 0 and '"a_amazon.txt"' in r.output
    r = run(main, ["--index", idx, "ask", "亚马逊的大模型项目为什么失败？"])
    assert r.exit_code == 0 and "a_amazon.txt" in r.output
    r = run(main, ["--index", idx, "--store", "faiss", "search", "x"])
    assert r.exit_code == 1 and "keeps its vectors in" in r.output
    r = run(main, ["--index", idx, "serve", "--workers", "2", "--port", "0"])
    assert r.exit_code == 2 and "one process opens at a time" in r.output


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A Milvus gRPC server process on 127.0.0.1 (milvus-lite's server: the protocol a Milvus
    deployment speaks), for the milvus://HOST:PORT path."""
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server") / "data"
    cli = Path(sys.executable).with_name("milvus-lite")
    proc = subprocess.Popen(
        [str(cli), "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, "the Milvus server exited"
            time.sleep(0.1)
    yield f"milvus://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_a_milvus_server_by_uri_serves_several_processes(milvus_server, tmp_path, tiny_corpus, embedder):
    store = milvus_server + "/talks"
    dest = tmp_path / "idx"
    index = ix.build(tiny_corpus, dest, embedder, store=store).index
    assert index.manifest.store == store and index.store.count() == len(index.passages)
    faiss_index = ix.build(tiny_corpus, tmp_path / "faiss", embedder).index
    for q in ("亚马逊的大模型项目", "Sora 视频生成", "why did Amazon Q fail?"):
        want = [(h.source, h.start) for h in Engine(faiss_index, embedder).search(q, 4)]
        assert [(h.source, h.start) for h in Engine(index, embedder).search(q, 4)] == want
    # other processes use the same collection at the same time (a milvus-lite file allows one)
    cmd = [sys.executable, "-m", "rag", "--index", str(dest), "search", "--json", "亚马逊的大模型"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and '"a_amazon.txt"' in out, err


def test_an_emptied_collection_is_an_error_not_zero_hits(tmp_path, tiny_corpus, embedder):
    from pymilvus import MilvusClient

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder, store=str(tmp_path / "m.db"))
    client = MilvusClient(uri=str(tmp_path / "m.db"))
    client.delete("passages", filter="id >= 0 or id < 0")
    client.close()
    with pytest.raises(IndexMismatchError, match=r"holds 0 rows: run `rag build`"):
        open_index(dest)


def test_a_milvus_lite_file_another_process_holds_is_one_line(tmp_path, tiny_corpus, embedder):
    import subprocess
    import sys

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder, store=str(tmp_path / "m.db"))
    held = open_index(dest)  # this process has the file open
    other = subprocess.run(
        [sys.executable, "-m", "rag", "--index", str(dest), "search", "亚马逊"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert held.manifest.passages and other.returncode == 1 and other.stderr.strip().count("\n") == 0
    assert "another process has the file open" in other.stderr
