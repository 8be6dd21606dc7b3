import subprocess
import sys

import httpx
import pytest
from conftest import free_port, wait_until_up
from fastapi.testclient import TestClient

from rag.server import create_app
from rag.settings import Settings

AMAZON = "000_2d6f43025af66c3e.txt"


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(Settings(), engine=engine)) as c:
        yield c


def test_ask(client):
    r = client.post("/ask", json={"question": "why did Amazon Q fail?", "k": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "extractive" and body["citations"][0]["source"] == AMAZON
    assert len(body["hits"]) == 4


def test_search_sources_health(client):
    r = client.get("/search", params={"q": "亚马逊 代号 Q", "k": 2})
    assert r.status_code == 200 and r.json()["hits"][0]["source"] == AMAZON and len(r.json()["hits"]) == 2
    assert len(client.get("/sources").json()["sources"]) == 5
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/ask", "/search", "/sources", "/healthz"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 2001},
        {"question": "hi", "k": 0},
        {"question": "hi", "k": 51},
        {"question": 5},
    ],
)
def test_bad_ask_bodies_are_422_with_reason(client, body):
    r = client.post("/ask", json=body)
    assert r.status_code == 422 and r.json()["detail"]


def test_bad_search_params_are_422(client):
    assert client.get("/search").status_code == 422
    assert client.get("/search", params={"q": "hi", "k": 999}).status_code == 422
    assert client.get("/search", params={"q": " "}).status_code == 422


def test_missing_index_is_503(tmp_path, embedder):
    from rag.errors import IndexMissingError
    from rag.index import open_index

    with pytest.raises(IndexMissingError):
        open_index(tmp_path / "none")


def test_rag_serve_answers_over_a_real_socket():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/healthz")
        r = httpx.post(url + "/ask", json={"question": "why did Amazon Q fail?"}, timeout=30)
        assert r.status_code == 200 and r.json()["citations"][0]["source"] == AMAZON
        assert httpx.get(url + "/docs").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
