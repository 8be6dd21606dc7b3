import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def engine():
    """The real bundled embedder on the committed index."""
    import rag

    return rag.load()


@pytest.fixture(scope="session")
def embedder(engine):
    return engine.embedder


class CountingEmbedder:
    """The real embedder, counting the passages (`count`) and queries (`queries`) it embeds."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.count, self.queries = inner, inner.name, inner.dim, 0, 0

    def embed_passages(self, texts):
        self.count += len(texts)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):
        self.queries += len(texts)
        return self.inner.embed_queries(texts)


TINY = {
    "a_amazon.txt": "亚马逊内部做过一个大模型 代号是Q 这个项目前后一年就宣告失败了 原因是领导层不懂技术 团队在压力下只敢做稳妥的实验",
    "b_sora.md": "---\ntitle: |\n  Sora and the exponential lead\nauthor: |\n  Neo\ndate_saved: 2024-02-17 12:37:03\n---\n\n"
    "# Sora and the exponential lead\n\n[Read Original](https://example.com/x)\n\n---\n\n"
    "OpenAI 发布了 Sora 视频生成模型。作者认为领先者的迭代速度是指数级的，追赶者很难追上。",
}


@pytest.fixture
def tiny_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in TINY.items():
        (folder / name).write_text(text, "utf-8")
    return folder


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """A real OpenAI-compatible server process on 127.0.0.1 (tests/openai_server.py)."""
    portfile = tmp_path_factory.mktemp("llm") / "port"
    log = tmp_path_factory.mktemp("llm") / "requests.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_server.py"), str(portfile)], stderr=err)
    try:
        for _ in range(100):
            if portfile.exists() and portfile.read_text():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("test LLM server did not start")
        yield {"base_url": f"http://127.0.0.1:{portfile.read_text()}/v1", "log": log}
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, tries: int = 300) -> None:
    """Poll a health URL until it answers 200 (a server process is starting)."""
    import httpx

    for _ in range(tries):
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")
