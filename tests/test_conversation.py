"""Follow-up questions in every interface: Python, CLI, HTTP /ask, chat completions, the LLM condenser."""

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from rag.cli import main
from rag.conversation import needs_context, standalone
from rag.server import create_app
from rag.settings import Settings

AMAZON = "000_2d6f43025af66c3e.txt"


@pytest.mark.parametrize(
    "turn, leans",
    [
        ("and Meta?", True),
        ("who led it?", True),
        ("那 Meta 呢？", True),
        ("他在谷歌待了多久？", True),
        ("为什么这么难？", True),
        ("有哪些公司在用通义千问？", False),
        ("What does Li think about Chinese startups?", False),
    ],
)
def test_which_turns_lean_on_the_conversation(turn, leans):
    assert needs_context(turn) is leans


def test_a_follow_up_takes_on_the_previous_standalone_question():
    assert standalone("and Meta?", ["why did Amazon Q fail?"]) == "and Meta? and Meta? why did Amazon Q fail?"
    chained = standalone("what did he say about the KPIs?", ["why did Amazon Q fail?", "who led it?"])
    assert chained.endswith("who led it? who led it? why did Amazon Q fail?")
    assert standalone("有哪些公司在用通义千问？", ["亚马逊的大模型项目为什么失败？"]) == "有哪些公司在用通义千问？"


def test_a_follow_up_is_answered_about_the_right_topic_with_its_own_citations(engine):
    alone = engine.search("who led it?", 20)
    assert engine.ask("who led it?").abstained  # on its own the turn says too little to answer
    answer = engine.chat(["why did Amazon Q fail?", "who led it?"])
    assert not answer.abstained and answer.question == "who led it?" and "Amazon Q" in answer.searched
    assert answer.citations and answer.citations[0].source == AMAZON
    assert any("Andy Jassy亲自带队" in h.text for h in answer.hits)
    assert not any("Andy Jassy亲自带队" in h.text for h in alone)  # searched alone, not even in the first 20
    # answered with who, not again with why: a person, and not the first answer over again
    first = engine.ask("why did Amazon Q fail?")
    assert "Andy Jassy" in answer.answer and answer.answer != first.answer
    assert [c.quote for c in answer.citations] != [c.quote for c in first.citations]
    chat = engine.chat(
        [
            {"role": "user", "content": "亚马逊的大模型项目为什么失败？"},
            {"role": "assistant", "content": "…"},
            {"role": "user", "content": "那 Meta 呢？"},
        ]
    )
    assert chat.notice.startswith("摘录式回答") and any("Meta" in h.text for h in chat.hits[:3])


def test_rag_chat_keeps_the_conversation(tmp_path):
    r = CliRunner().invoke(main, ["chat"], input="why did Amazon Q fail?\nwho led it?\n/new\nwho led it?\n")
    assert r.exit_code == 0, r.output
    first, rest = r.stdout.split("(searched as: who led it? who led it? why did Amazon Q fail?)")
    assert first.count("Extractive answer") == 2  # the question, then the follow-up read with it
    assert first.startswith("> why did Amazon Q fail?\n") and "\n> who led it?\n" in first  # piped questions echoed
    assert "searched as" not in rest and "The transcripts don't cover this question" in rest  # /new forgot it


def test_http_ask_and_chat_completions_take_the_history(engine):
    with TestClient(create_app(Settings(), engine=engine)) as c:
        body = c.post("/ask", json={"question": "who led it?", "history": ["why did Amazon Q fail?"]}).json()
        assert "Amazon Q" in body["searched"] and body["citations"][0]["source"] == AMAZON
        assert c.post("/ask", json={"question": "x", "history": ["q"] * 21}).status_code == 422
        resp = c.post(
            "/v1/chat/completions",
            json={
                "messages": [
                    {"role": "user", "content": "why did Amazon Q fail?"},
                    {"role": "assistant", "content": "It failed."},
                    {"role": "user", "content": "who led it?"},
                ]
            },
        ).json()
        assert resp["citations"] and resp["citations"][0]["source"] == AMAZON


def test_with_an_llm_the_conversation_is_condensed_through_its_prompt(engine, llm_server):
    from rag.engine import Engine
    from rag.llm import OpenAIClient

    llm = OpenAIClient(model="cite", base_url=llm_server["base_url"], api_key="k")
    answer = Engine(engine.index, engine.embedder, llm).chat(["why did Amazon Q fail?", "who led it?"])
    assert answer.searched == "Who personally led Amazon's internal large-model project Q?"  # the server's rewrite
    lines = [json.loads(x) for x in llm_server["log"].read_text().splitlines() if x.startswith("{")]
    assert any(x.get("model") == "cite" for x in lines)


def test_the_answer_to_a_follow_up_speaks_of_what_it_asks_about(engine):
    answer = engine.chat(["why did Amazon Q fail?", "and Meta?"])
    assert answer.citations and all("Meta" in c.text for c in answer.citations)
