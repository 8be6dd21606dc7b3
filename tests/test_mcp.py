"""`rag mcp` with the official SDK's own client, over stdio and over streamable HTTP (bearer token)."""

import os
import subprocess
import sys

import anyio
import pytest
from conftest import ROOT, free_port, wait_until_up

pytest.importorskip("mcp")
AMAZON = "000_2d6f43025af66c3e.txt"


async def _exercise(client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"search", "ask", "sources"}
    answer = (await client.call_tool("ask", {"question": "why did Amazon Q fail?"})).structured_content
    assert answer["abstained"] is False and answer["citations"][0]["source"] == AMAZON
    c = answer["citations"][0]
    text = (await client.read_resource(f"transcript://{AMAZON}")).contents[0].text
    assert text[c["start"] : c["end"]] == c["quote"]  # the citation quotes the resource exactly
    refused = (await client.call_tool("ask", {"question": "GPT-5 什么时候发布？"})).structured_content
    assert refused["abstained"] and refused["reasons"] == ["从未提到 GPT-5"]
    hits = (await client.call_tool("search", {"question": "self-play", "k": 2})).structured_content["hits"]
    assert len(hits) == 2 and hits[0]["source"] == "002_a6941fd32f71c0fa.txt"
    sources = (await client.call_tool("sources", {})).structured_content["sources"]
    assert len(sources) == 5
    bad = await client.call_tool("ask", {"question": " "})
    assert bad.is_error and "the question is empty" in bad.content[0].text


def test_over_stdio():
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rag", "--index", str(ROOT / "index"), "mcp"],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )

    async def main():
        async with Client(params) as client:
            await _exercise(client)

    anyio.run(main)


def test_over_streamable_http_with_a_token(tmp_path):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    env = {**os.environ, "RAG_API_TOKEN": "mcp-s3cret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "--index", str(ROOT / "index"), "mcp", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", tries=600)  # open, like rag serve's

        async def main():
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer mcp-s3cret"}, timeout=60) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    await _exercise(client)
            async with httpx2.AsyncClient(timeout=10) as http:
                r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
                assert r.status_code == 401

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_line_that_is_no_json_rpc_message_gets_a_parse_error_over_raw_stdio():
    """A client that sends garbage is told so, instead of waiting forever, and the session goes on."""
    import json

    lines = [
        "garbage",
        '{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "\\ud800"}}',
        "[" * 50_000 + "]" * 50_000,
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            }
        ),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "--index", str(ROOT / "index"), "mcp"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r.get("error", {}).get("code") for r in replies[:3]] == [-32700] * 3
    assert all(r["id"] is None for r in replies[:3])
    assert replies[3]["id"] == 7 and "result" in replies[3]
