"""The openai path against a real OpenAI-compatible server process on 127.0.0.1."""

import json
import time

import pytest

from rag.engine import Engine
from rag.errors import LLMError, UsageError
from rag.llm import OpenAIClient, make_llm

QUESTION = "why did Amazon Q fail?"


def _engine(engine, llm_server, model, **options):
    llm = OpenAIClient(model=model, base_url=llm_server["base_url"], api_key="test-key", **options)
    return Engine(engine.index, engine.embedder, llm)


def _requests(llm_server, model):
    """Requests the test server logged for a model (its log may also hold tracebacks of dropped clients)."""
    lines = [line for line in llm_server["log"].read_text().splitlines() if line.startswith("{")]
    return [r for r in map(json.loads, lines) if r.get("model") == model]


def test_plain_completion_is_cited_and_bad_markers_dropped(engine, llm_server):
    answer = _engine(engine, llm_server, "cite").ask(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    assert "[1]" in answer.answer and "[99]" not in answer.answer
    assert [c.n for c in answer.citations] == [1]
    c = answer.citations[0]
    assert c.quote == engine.index.texts[c.source][c.start : c.end]
    # excerpt 1: the first, in reading order, of the best hit's transcript, merged with the hits it overlaps
    assert c.source == answer.hits[0].source
    assert any(h.source == c.source and c.start <= h.start and h.end <= c.end for h in answer.hits)
    assert any("[99]" in w for w in answer.warnings)
    assert _requests(llm_server, "cite")[-1]["stream"] is False


def test_streaming_yields_pieces_then_the_cited_answer(engine, llm_server):
    events = list(_engine(engine, llm_server, "cite").ask_stream(QUESTION))
    kinds = [e.kind for e in events]
    assert kinds[0] == "hits" and kinds[-1] == "answer"
    deltas = [e.data for e in events if e.kind == "delta"]
    assert len(deltas) > 3
    answer = events[-1].data
    assert answer.mode == "llm" and [c.n for c in answer.citations] == [1]
    assert "".join(deltas).startswith("According to the transcript")


def test_model_saying_not_covered_abstains(engine, llm_server):
    answer = _engine(engine, llm_server, "refuse").ask(QUESTION)
    assert answer.abstained and answer.citations == [] and answer.mode == "llm"


@pytest.mark.parametrize("model, status", [("fail", "500"), ("limit", "429")])
def test_server_errors_retry_then_fall_back_to_extractive(engine, llm_server, model, status):
    answer = _engine(engine, llm_server, model, retries=1).ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert any(status in w and "extractive" in w for w in answer.warnings)
    assert any("query translation" in w for w in answer.warnings)
    # translation and answer: each one try and one bounded retry
    assert len(_requests(llm_server, model)) == 4


def test_slow_server_times_out_instead_of_hanging(engine, llm_server):
    started = time.monotonic()
    answer = _engine(engine, llm_server, "slow", timeout=0.5, retries=0).ask(QUESTION)
    assert time.monotonic() - started < 6  # two requests (translation, answer), each cut at 0.5 s
    assert answer.mode == "extractive" and any("timed out" in w for w in answer.warnings)


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_drips_bytes_is_cut_off_at_the_deadline(engine, llm_server, stream):
    """Each piece arrives well within the read timeout; the whole call is bounded by the deadline."""
    started = time.monotonic()
    events = list(
        _engine(engine, llm_server, "drip", timeout=5, retries=0, deadline=1.5).ask_stream(QUESTION, stream=stream)
    )
    answer = events[-1].data
    assert time.monotonic() - started < 6  # translation and answer, each cut at 1.5 s (a piece every 0.4 s)
    assert answer.mode == "extractive" and any("did not finish within 1.5 s" in w for w in answer.warnings)


def test_unreachable_server_is_an_llm_error():
    client = OpenAIClient(model="m", base_url="http://127.0.0.1:9/v1", timeout=1, retries=0)
    with pytest.raises(LLMError, match="cannot reach"):
        client.complete("s", "u")


def test_llm_names():
    assert make_llm("extractive") is None
    with pytest.raises(UsageError, match="valid: extractive, openai"):
        make_llm("gpt")


def test_streamed_refusal_shows_the_abstention_not_the_sentinel(engine, llm_server):
    events = list(_engine(engine, llm_server, "refuse").ask_stream(QUESTION))
    deltas = "".join(e.data for e in events if e.kind == "delta")
    assert "NOT_COVERED" not in deltas
    assert deltas.startswith("The transcripts don't cover this question: the language model found no answer")
    assert events[-1].data.abstained


def test_llm_translates_english_questions_for_search(engine, llm_server):
    from rag.engine import Engine

    llm = OpenAIClient(model="cite", base_url=llm_server["base_url"], api_key="k")
    offline = Engine(engine.index, engine.embedder).retriever.search_with_evidence("Why did the project fail?", 6)[0]
    before = len(_requests(llm_server, "cite"))
    answer = Engine(engine.index, engine.embedder, llm).ask("Why did the project fail?")
    assert len(_requests(llm_server, "cite")) == before + 2  # the translation, then the answer
    assert answer.hits[0].source == "000_2d6f43025af66c3e.txt"  # found through "亚马逊 大模型 项目 Q 失败"
    assert [h.start for h in answer.hits] != [h.start for h in offline]
    chinese = Engine(engine.index, engine.embedder, llm).ask("亚马逊的Q项目为什么失败？")
    assert len(_requests(llm_server, "cite")) == before + 3  # Chinese questions are not translated
    assert chinese.mode == "llm"


def test_retries_stay_within_the_deadline(engine, llm_server):
    """A server that hangs: the deadline bounds the whole answer, however many retries are allowed."""
    started = time.monotonic()
    answer = _engine(engine, llm_server, "hang", timeout=30, retries=3, deadline=1.5).ask(QUESTION)
    assert time.monotonic() - started < 5  # translation and answer, each cut at 1.5 s
    assert answer.mode == "extractive" and any("did not finish within 1.5 s" in w for w in answer.warnings)
    assert len(_requests(llm_server, "hang")) == 2  # one try each: no retry fits in the deadline


@pytest.mark.parametrize("model", ["trickle", "headers"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_trickles_bytes_or_headers_is_cut_off_at_the_deadline(engine, llm_server, model, stream):
    started = time.monotonic()
    events = list(
        _engine(engine, llm_server, model, timeout=30, retries=0, deadline=1.5).ask_stream(QUESTION, stream=stream)
    )
    assert time.monotonic() - started < 5
    answer = events[-1].data
    assert answer.mode == "extractive" and any("did not finish within 1.5 s" in w for w in answer.warnings)


@pytest.mark.parametrize("model", ["shape-list", "shape-choices", "shape-content"])
@pytest.mark.parametrize("stream", [False, True])
def test_valid_json_of_the_wrong_shape_falls_back_to_the_extractive_answer(engine, llm_server, model, stream):
    events = list(_engine(engine, llm_server, model, retries=0).ask_stream(QUESTION, stream=stream))
    answer = events[-1].data
    assert events[-1].kind == "answer" and answer.mode == "extractive" and answer.citations
    assert any("wrong shape" in w for w in answer.warnings), answer.warnings


@pytest.mark.parametrize("stream", [False, True])
def test_no_piece_shows_a_marker_the_answer_drops(engine, llm_server, stream):
    events = list(_engine(engine, llm_server, "markers").ask_stream(QUESTION, stream=stream))
    shown = "".join(e.data for e in events if e.kind == "delta")
    answer = events[-1].data
    assert answer.mode == "llm" and shown.strip() == answer.answer
    assert answer.answer == "The project failed [1]. Not  nor  nor  nor [1] nor ."
    assert [c.n for c in answer.citations] == [1]
    assert any(w.endswith("[0], [-1], [99], [1234567890123456789012345]") for w in answer.warnings), answer.warnings


def test_a_reply_that_echoes_planted_instructions_is_flagged_and_its_fences_removed(engine, llm_server):
    answer = _engine(engine, llm_server, "echo").ask(QUESTION)
    assert answer.mode == "llm" and "<<<" not in answer.answer and "The project failed [1]." in answer.answer
    assert any("planted" in w for w in answer.warnings), answer.warnings
