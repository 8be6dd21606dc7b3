"""A real headless Chromium (Debian's package) against a real `rag serve`: ask, stream, open a citation."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, free_port, wait_until_up

from rag.evaluation import norm

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed (scripts/test.sh installs it)")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def served():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/healthz")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def _ask(page, question: str) -> None:
    page.fill("#question", question)
    page.click("#submit")


def test_ask_stream_and_open_a_citation(served, page, tmp_path):
    page.goto(served + "/")
    _ask(page, "why did Amazon Q fail?")
    page.wait_for_selector("#citations li", timeout=30000)
    assert "Extractive answer" in page.inner_text("#notice")  # once, above the answer, not in it
    assert "Extractive answer" not in page.inner_text("#answer")
    assert "000_2d6f43025af66c3e.txt" in page.inner_text("#citations")
    page.click("#answer .cite >> nth=0")
    page.wait_for_selector("#context:not([hidden]) mark", timeout=10000)
    quote = page.inner_text("#context mark")  # the original text, ASR spacing and all
    first = page.inner_text("#answer").split("「", 1)[1].split("」[1]", 1)[0]  # the readable form, shown once
    assert norm(quote) == norm(first) and len(norm(first)) > 20
    assert page.locator("#citations li >> nth=0 >> blockquote").count() == 0  # not repeated under the answer
    # RAG_SCREENSHOT_DIR=docs refreshes the README's screenshot; otherwise it goes to a temporary folder.
    folder = ROOT / os.environ["RAG_SCREENSHOT_DIR"] if os.environ.get("RAG_SCREENSHOT_DIR") else tmp_path
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / "screenshot.png"), full_page=False)
    assert (folder / "screenshot.png").stat().st_size > 10_000


def test_abstention_and_errors_are_shown(served, page):
    page.goto(served + "/")
    _ask(page, "智谱AI的GLM-4模型是什么时候发布的？")
    page.wait_for_selector("#answer.abstained", timeout=30000)
    assert "转录稿中没有涉及这个问题" in page.inner_text("#answer")
    # the nearest passages open in context, like citations, and say which episode and when
    assert page.locator("#nearest li").count() == 2 and "20" in page.inner_text("#nearest li >> nth=0 >> .where")
    page.click("#nearest li >> nth=0 >> a.title")
    page.wait_for_selector("#context:not([hidden]) mark", timeout=10000)
    assert norm(page.inner_text("#context mark"))[:20] in norm(page.inner_text("#nearest li >> nth=0 >> blockquote"))
    page.click("#context-close")
    page.fill("#question", "x" * 1999 + "  ")
    page.evaluate("document.getElementById('question').value = ' '.repeat(5) + 'x'.repeat(2001)")
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=10000)
    assert "2000" in page.inner_text("#status")


def test_page_with_a_token_works_and_keeps_it_out_of_urls_and_logs(page, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "RAG_API_TOKEN": "tok-7f3a9c"}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--port", str(port)], env=env, stdout=err, stderr=err
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/healthz")
        page.goto(url + "/#token=tok-7f3a9c")
        _ask(page, "why did Amazon Q fail?")
        page.wait_for_selector("#citations li", timeout=30000)
        assert "000_2d6f43025af66c3e.txt" in page.inner_text("#citations")
        assert "tok-7f3a9c" not in page.url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log.read_text()
    assert "POST /ask" in text and "tok-7f3a9c" not in text


def test_a_follow_up_on_the_page_is_read_with_the_conversation(served, page):
    page.goto(served + "/")
    _ask(page, "why did Amazon Q fail?")
    page.wait_for_selector("#conversation:not([hidden])", timeout=30000)
    _ask(page, "who led it?")
    page.wait_for_function("document.querySelectorAll('#turns li').length === 2", timeout=30000)
    assert "searched as: who led it? who led it? why did Amazon Q fail?" in page.inner_text("#status")
    assert "000_2d6f43025af66c3e.txt" in page.inner_text("#citations")
    page.click("#new-conversation")
    assert page.locator("#conversation").is_hidden()


def test_a_timed_citation_links_to_its_moment_in_the_audio(page, tmp_path):
    """A real `rag serve` over an index of a SubRip transcript whose sidecar names its audio."""
    folder = tmp_path / "timed"
    folder.mkdir()
    for name in ("ep1.srt", "ep1.meta.json"):
        shutil.copy(ROOT / "tests" / "data" / "timed" / name, folder / name)
    index = tmp_path / "idx"
    subprocess.run(
        [sys.executable, "-m", "rag", "--index", str(index), "build", str(folder)], check=True, capture_output=True
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "--index", str(index), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/healthz", tries=600)
        page.goto(url + "/")
        _ask(page, "亚马逊的Q项目是谁亲自带队的？")
        page.wait_for_selector("#citations li a.when", timeout=30000)
        link = page.locator("#citations li a.when").first
        assert link.get_attribute("href").startswith("https://example.com/ep1.mp3#t=")
        assert "嘉宾:" in page.inner_text("#citations li >> nth=0")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_sources_panel_lists_the_episodes_with_their_shows_and_dates(served, page):
    page.goto(served + "/")
    page.click("#sources summary")
    page.wait_for_function("document.querySelectorAll('#sources-list li').length === 5", timeout=10000)
    listed = page.inner_text("#sources-list")
    assert "22. 要做中国OpenAI?李志飞劝各位同仁冷静点" in listed and "2023-04-16" in listed and "passages" in listed
