"""Timed transcripts (SubRip, WebVTT, Whisper/WhisperX JSON): times and speakers in citations, and filters."""

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import ROOT, TINY
from fastapi.testclient import TestClient

from rag.cli import main
from rag.engine import Engine
from rag.indexing import build
from rag.server import create_app
from rag.settings import Settings

TIMED = ROOT / "tests" / "data" / "timed"


@pytest.fixture(scope="module")
def timed_index(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("mixed")
    for f in TIMED.iterdir():
        shutil.copy(f, folder / f.name)
    for name, text in TINY.items():  # plain text and Markdown beside the timed files
        (folder / name).write_text(text, "utf-8")
    dest = tmp_path_factory.mktemp("idx") / "idx"
    report = build(folder, dest, embedder)
    return report, dest


@pytest.fixture(scope="module")
def timed(timed_index, embedder):
    return Engine(timed_index[0].index, embedder)


def test_every_format_is_read_and_malformed_files_are_named(timed_index):
    report, _ = timed_index
    assert set(report.index.manifest.sources) == {"ep1.srt", "ep2.vtt", "ep3.json", "a_amazon.txt", "b_sora.md"}
    assert sorted(r.split(":")[0] for r in report.skipped) == ["broken.json", "broken.srt"]
    text = report.index.texts["ep2.vtt"]
    assert "<b>" not in text and "<v" not in text and "\r" not in text and "\ufeff" not in text
    assert report.index.documents["ep1.srt"]["title"] == "亚马逊的Q项目"  # from the sidecar


def test_a_citation_carries_the_time_and_speaker_of_its_cue(timed):
    answer = timed.ask("亚马逊的Q项目是谁亲自带队的？", source="ep1.srt")
    c = answer.citations[0]
    assert c.source == "ep1.srt" and c.quote == timed.index.texts["ep1.srt"][c.start : c.end]
    segments = timed.index.documents["ep1.srt"]["segments"]
    first = next(s for s in segments if s[0] <= c.start < s[1] + 1)  # the cue the quote starts in
    assert c.time_start == first[2] and c.time_end >= first[3]
    assert "Andy Jassy亲自带队" in c.text and c.speaker in ("嘉宾", None)
    assert c.audio == "https://example.com/ep1.mp3"
    late = timed.ask("Q项目用了多长时间宣告失败？", source="ep1.srt").citations
    # the point runs from the cue at 0:15 into the one at 12:34; both are the guest's
    assert any(x.time_end == 778.0 and x.location().endswith("–12:58] 嘉宾:") for x in late)
    html = answer._repr_html_()
    assert 'href="https://example.com/ep1.mp3#t=' in html


def test_whisperx_speakers_and_plain_files_without_times(timed):
    hits = timed.search("没有很强的底座模型能做 self play 吗", 3)
    assert hits[0].source == "ep3.json"
    answer = timed.ask("为什么没有底座模型就没法做 self play？", source="ep3.json")
    assert answer.citations and all(c.time_start is not None for c in answer.citations)
    plain = timed.ask("亚马逊的大模型为什么失败？", source="a_amazon.txt").citations[0]
    assert plain.time_start is None and plain.speaker is None and "[" not in plain.location().split("chars")[1]


@pytest.mark.parametrize(
    "where, sources",
    [
        ({"speaker": "李志飞"}, {"ep2.vtt"}),
        ({"speaker": "SPEAKER_00"}, {"ep3.json"}),
        ({"since": "2024"}, {"ep1.srt", "b_sora.md"}),  # b_sora.md was saved on 2024-02-17
        ({"since": "2024-03"}, {"ep1.srt"}),
        ({"until": "2023-12-31"}, {"ep2.vtt"}),
        ({"show": "商业访谈"}, {"ep1.srt", "ep2.vtt"}),
        ({"source": "b_sora.md"}, {"b_sora.md"}),
    ],
)
def test_filters_narrow_results_and_still_return_k(timed, where, sources):
    hits = timed.search("大模型", 3, **where)
    assert hits and {h.source for h in hits} <= sources
    from rag.retrieval import Filter

    assert len(hits) == min(3, int(Filter(**where).mask(timed.index).sum()))  # k come back however narrow


def test_a_filter_that_matches_nothing_is_a_refusal_that_says_so(timed):
    answer = timed.ask("亚马逊的大模型为什么失败？", speaker="Nobody")
    assert answer.abstained and answer.reasons == ["没有符合 speaker=Nobody 的转录稿"]
    from rag.errors import UsageError

    with pytest.raises(UsageError, match="since must be a date"):
        timed.search("x", 3, since="last week")


def test_filters_in_the_cli_and_over_http(timed_index, timed):
    _, dest = timed_index
    runner = CliRunner()
    r = runner.invoke(main, ["--index", str(dest), "search", "--json", "--speaker", "李志飞", "大模型公司"])
    assert r.exit_code == 0, r.output
    assert {h["source"] for h in json.loads(r.stdout)["hits"]} == {"ep2.vtt"}
    r = runner.invoke(
        main, ["--index", str(dest), "ask", "--source", "ep1.srt", "--no-stream", "亚马逊的Q项目是谁带队的？"]
    )
    assert r.exit_code == 0 and "ep1.srt, chars" in r.stdout and "[0:0" in r.stdout
    r = runner.invoke(main, ["--index", str(dest), "search", "--since", "yesterday", "x"])
    assert r.exit_code == 2 and "since must be a date" in r.stderr
    with TestClient(create_app(Settings(), engine=timed)) as c:
        hits = c.get("/search", params={"q": "大模型", "k": 3, "speaker": "李志飞"}).json()["hits"]
        assert hits and {h["source"] for h in hits} == {"ep2.vtt"}
        body = c.post("/ask", json={"question": "亚马逊的Q项目是谁带队的？", "source": "ep1.srt"}).json()
        assert body["citations"][0]["time_start"] is not None and body["citations"][0]["source"] == "ep1.srt"
        assert c.post("/ask", json={"question": "x", "since": "soon"}).status_code == 422


def test_search_hits_carry_time_and_speaker_like_citations(timed):
    hits = timed.search("亚马逊的Q项目是谁带队的？", 5)
    timed_hit = next(h for h in hits if h.source == "ep1.srt")
    assert timed_hit.time_start is not None and timed_hit.time_end > timed_hit.time_start
    assert {"time_start", "time_end", "speaker"} <= timed_hit.to_dict().keys()
    plain = [h for h in hits if h.source.endswith((".txt", ".md"))]
    assert all(h.time_start is None and h.speaker is None for h in plain)
    ep2 = timed.search("李志飞对创业者的建议", 5, source="ep2.vtt")[0]
    assert ep2.speaker is None or ep2.speaker == "李志飞"
