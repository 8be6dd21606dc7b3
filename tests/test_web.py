"""The web-facing parts of the HTTP app: SSE, context, page, token, limits, CORS, /v1/chat/completions."""

import json
import threading
import time
from contextlib import contextmanager

import pytest
import uvicorn
from conftest import free_port
from fastapi.testclient import TestClient

from rag.server import create_app
from rag.settings import Settings

AMAZON = "000_2d6f43025af66c3e.txt"


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(Settings(), engine=engine)) as c:
        yield c


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_ask_streams_server_sent_events_with_citations(client, engine):
    r = client.post("/ask", json={"question": "why did Amazon Q fail?"}, headers={"Accept": "text/event-stream"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    assert [e for e, _ in events][0] == "hits" and events[-1][0] == "answer"
    assert any(e == "delta" for e, _ in events)
    answer = events[-1][1]
    # what kind of answer it is comes once, before the text, and is not part of it
    kinds = [e for e, _ in events]
    assert kinds.count("notice") == 1 and kinds.index("notice") < kinds.index("delta")
    assert answer["notice"].startswith("Extractive answer") and answer["notice"] not in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["source"] == AMAZON
    c = answer["citations"][0]
    assert c["quote"] == engine.index.texts[c["source"]][c["start"] : c["end"]]


def test_streamed_bad_question_is_a_422_not_a_broken_stream(client):
    r = client.post("/ask", json={"question": "   "}, headers={"Accept": "text/event-stream"})
    assert r.status_code == 422 and "empty" in r.json()["detail"]


def test_context_returns_the_quote_in_its_surroundings(client, engine):
    c = engine.ask("why did Amazon Q fail?").citations[0]
    r = client.get("/context", params={"source": c.source, "start": c.start, "end": c.end, "window": 100})
    body = r.json()
    assert r.status_code == 200 and body["quote"] == c.quote and body["title"] == c.title
    text = engine.index.texts[c.source]
    assert body["before"] + body["quote"] + body["after"] == text[body["start"] : body["end"]]
    assert body["start"] == max(0, c.start - 100)


@pytest.mark.parametrize(
    "params, status",
    [
        ({"source": "nope.txt", "start": 0, "end": 5}, 404),
        ({"source": AMAZON, "start": 10, "end": 5}, 404),
        ({"source": AMAZON, "start": 0, "end": 10**9}, 404),
        ({"source": AMAZON, "start": -1, "end": 5}, 422),
        ({"source": AMAZON, "start": 0, "end": 5, "window": 10**6}, 422),
    ],
)
def test_bad_context_requests(client, params, status):
    r = client.get("/context", params=params)
    assert r.status_code == status and r.json()["detail"]


def test_page_and_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and '<form id="ask">' in page.text
    assert "http" not in page.text.split("<body>")[0].replace('href="static', "")  # no CDN in the head
    for asset in ("static/app.js", "static/style.css"):
        assert client.get("/" + asset).status_code == 200


def test_bearer_token_guards_every_data_endpoint(engine):
    with TestClient(create_app(Settings(api_token="s3cret"), engine=engine)) as c:
        for path in ("/healthz", "/", "/static/app.js", "/static/style.css"):  # no data in these
            assert c.get(path).status_code == 200, path
        for method, path, kwargs in [
            ("post", "/ask", {"json": {"question": "hi"}}),
            ("get", "/search?q=hi", {}),
            ("get", "/sources", {}),
            ("get", "/openapi.json", {}),
            ("post", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": "hi"}]}}),
        ]:
            r = getattr(c, method)(path, **kwargs)
            assert r.status_code == 401, path
        assert c.get("/sources", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/sources", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/sources?token=s3cret").status_code == 401  # a token in a URL would end up in logs
        assert c.get("/sources", headers={"Authorization": "Bearer \u00e9".encode("latin-1")}).status_code == 401


def test_body_size_limit(client):
    r = client.post(
        "/ask", content=b'{"question": "' + b"x" * 70000 + b'"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_body_size_limit_holds_without_or_against_content_length(client):
    def chunks():  # a chunked body: no Content-Length at all
        for _ in range(100):
            yield b"x" * 1000

    assert client.post("/ask", content=chunks(), headers={"Content-Type": "application/json"}).status_code == 413
    body = b'{"question": "' + b"x" * 70000 + b'"}'
    r = client.post("/ask", content=body, headers={"Content-Type": "application/json", "Content-Length": "5"})
    assert r.status_code in (400, 413)  # never read in full and answered


@pytest.mark.parametrize(
    "path, body",
    [
        ("/ask", b'{"question": "\\ud800"}'),
        ("/ask", b'{"question": "\\ud800", "k": "\\udfff"}'),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    ],
)
def test_lone_surrogates_are_a_422_not_a_500(client, path, body):
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]


def test_cors_is_off_unless_configured(client, engine):
    origin = {"Origin": "http://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/sources", headers=origin).headers
    with TestClient(create_app(Settings(cors_origins="http://elsewhere.example"), engine=engine)) as c:
        assert c.get("/sources", headers=origin).headers["access-control-allow-origin"] == "http://elsewhere.example"


@contextmanager
def _serving(app):
    """An app on a real socket on 127.0.0.1, in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(engine):
    with _serving(create_app(Settings(), engine=engine)) as url:
        yield url


def test_chat_completions_with_the_openai_client(live_server):
    from openai import OpenAI

    client = OpenAI(base_url=live_server + "/v1", api_key="unused")
    resp = client.chat.completions.create(
        model="transcripts",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "why did Amazon Q fail?"}],
    )
    text = resp.choices[0].message.content
    assert "[1]" in text and "Sources:" in text and AMAZON in text
    assert resp.model_extra["citations"][0]["source"] == AMAZON

    stream = client.chat.completions.create(
        model="transcripts", stream=True, messages=[{"role": "user", "content": "why did Amazon Q fail?"}]
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1]" in streamed and "Sources:" in streamed
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"]


def test_bad_chat_requests_are_4xx(client):
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert r.status_code == 422 and "no user message" in r.json()["detail"]


@pytest.fixture
def dripping_server(engine, llm_server):
    """A real `rag serve` app whose LLM drips its answer (tests/openai_server.py, model "drip"), with
    room for two LLM-backed requests at a time."""
    from rag.engine import Engine
    from rag.llm import OpenAIClient

    llm = OpenAIClient(model="drip", base_url=llm_server["base_url"], api_key="k", timeout=5, retries=0, deadline=8)
    with _serving(create_app(Settings(llm_concurrency=2), engine=Engine(engine.index, engine.embedder, llm))) as url:
        yield url


def _dropped(llm_server) -> int:
    return sum("dropped" in line for line in llm_server["log"].read_text().splitlines())


def test_a_client_that_goes_away_ends_its_upstream_llm_request(dripping_server, llm_server):
    import httpx

    before = _dropped(llm_server)
    with httpx.stream(
        "POST",
        dripping_server + "/ask",
        json={"question": "亚马逊的大模型为什么失败？"},
        headers={"Accept": "text/event-stream"},
        timeout=30,
    ) as r:
        for line in r.iter_lines():
            if line.startswith("event: delta"):
                break  # the answer has started streaming: hang up
    for _ in range(50):  # the LLM server sees its connection closed within a piece or two
        if _dropped(llm_server) > before:
            break
        time.sleep(0.2)
    assert _dropped(llm_server) > before


def test_hanging_llm_calls_hold_up_neither_health_nor_search(dripping_server):
    import httpx

    hanging = [
        threading.Thread(
            target=lambda: httpx.post(
                dripping_server + "/ask", timeout=40, json={"question": "why did Amazon Q fail?"}
            ),
            daemon=True,
        )
        for _ in range(6)
    ]
    for t in hanging:
        t.start()
    time.sleep(1.0)  # two are waiting on the LLM, four wait their turn
    for path in ("/healthz", "/search?q=self-play&k=3"):
        started = time.monotonic()
        assert httpx.get(dripping_server + path, timeout=10).status_code == 200
        assert time.monotonic() - started < 2, path
