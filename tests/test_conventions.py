"""Conventions of real transcript files, each on a fixture written in its shape: speaker tags inside cues
and lines, Markdown and Otter turns, YouTube's rolling captions, Whisper JSON, front matter, file-name
titles; and Traditional and Simplified Chinese matched as one script."""

import json
from pathlib import Path

import pytest

from rag.answering import citation
from rag.documents import load, name_title
from rag.engine import Engine
from rag.indexing import build
from rag.lexical import fold, tokenize


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def _cue_texts(doc) -> list[tuple[str, float | None, str | None]]:
    return [(doc.text[s.start : s.end], s.t0, s.speaker) for s in doc.segments]


def test_chinese_asr_tags_at_the_head_of_srt_cues_name_the_speaker_and_leave_the_text(tmp_path):
    path = _write(
        tmp_path,
        "ep.srt",
        "1\n00:00:01,000 --> 00:00:04,000\n【说话人0】大家好，欢迎收听本期节目\n\n"
        "2\n00:00:04,000 --> 00:00:09,000\n说话人1：谢谢邀请，很高兴来聊聊长期投资\n",
    )
    assert _cue_texts(load(path)) == [
        ("大家好，欢迎收听本期节目", 1.0, "说话人0"),
        ("谢谢邀请，很高兴来聊聊长期投资", 4.0, "说话人1"),
    ]


def test_subtitle_editors_markup_in_srt_cues_is_not_text(tmp_path):
    """Font tags and SubStation overrides ({\\an8}: place at the top) that editors leave in SubRip;
    braces without a backslash are speech."""
    path = _write(
        tmp_path,
        "ep.srt",
        '1\n00:00:01,000 --> 00:00:04,000\n{\\an8}<font color="#ffffff">Welcome to the show.</font>\n\n'
        "2\n00:00:04,000 --> 00:00:08,000\n{\\i1}Alex:{\\i0} The set {a, b} is small.\n",
    )
    assert _cue_texts(load(path)) == [("Welcome to the show.", 1.0, None), ("The set {a, b} is small.", 4.0, "Alex")]


def test_a_cue_of_two_voices_loses_its_dialogue_dashes(tmp_path):
    """Subtitles write two speakers in one cue as dashed lines; a single dashed line is text."""
    path = _write(
        tmp_path,
        "ep.srt",
        "1\n00:00:01,000 --> 00:00:04,000\n- Are you ready?\n- Yes, I am.\n\n"
        "2\n00:00:04,000 --> 00:00:08,000\n- 2 means two, not minus two.\n",
    )
    assert [t for t, *_ in _cue_texts(load(path))] == ["Are you ready? Yes, I am.", "- 2 means two, not minus two."]


def test_bracketed_names_and_caption_speaker_changes_in_webvtt(tmp_path):
    path = _write(
        tmp_path,
        "ep.vtt",
        "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n[Amit Varma]: Welcome to the show.\n\n"
        "00:00:03.000 --> 00:00:06.000\n>> Thanks for having me here.\n\n"
        "00:00:06.000 --> 00:00:09.000\n>> ANNA: Let us begin with cities.\n",
    )
    assert _cue_texts(load(path)) == [
        ("Welcome to the show.", 0.0, "Amit Varma"),
        ("Thanks for having me here.", 3.0, None),
        ("Let us begin with cities.", 6.0, "ANNA"),
    ]


def test_youtube_auto_captions_give_each_word_once(tmp_path):
    path = _write(
        tmp_path,
        "yt.vtt",
        (
            "WEBVTT\nKind: captions\nLanguage: en\n\n"
            "00:00:00.030 --> 00:00:02.110 align:start position:0%\n\n"
            "so<00:00:00.480><c> today</c><00:00:00.840><c> we</c><00:00:01.020><c> talk</c>\n\n"
            "00:00:02.110 --> 00:00:02.120 align:start position:0%\nso today we talk\n \n\n"
            "00:00:02.120 --> 00:00:04.600 align:start position:0%\nso today we talk\n"
            "about<00:00:02.600><c> floor</c><00:00:03.000><c> space</c>\n\n"
            "00:00:04.600 --> 00:00:04.610 align:start position:0%\nabout floor space\n \n"
        ),
    )
    doc = load(path)
    assert doc.text.split() == "so today we talk about floor space".split()


def test_whisper_json_as_segments_or_a_bare_list_with_numbered_speakers(tmp_path):
    segments = [
        {"start": 0.0, "end": 2.5, "text": " Hello and welcome.", "speaker": 0},
        {"start": 2.5, "end": 6.0, "text": " Thanks, great to be here.", "speaker": 1},
    ]
    bare = load(_write(tmp_path, "bare.json", json.dumps(segments)))
    wrapped = load(_write(tmp_path, "wrapped.json", json.dumps({"text": "...", "segments": segments})))
    assert (
        _cue_texts(bare)
        == _cue_texts(wrapped)
        == [("Hello and welcome.", 0.0, "Speaker 0"), ("Thanks, great to be here.", 2.5, "Speaker 1")]
    )


MARKDOWN = """---
title: "Building remarkable products"
publish_date: 2024-12-08
podcast: Example Podcast
guest: Dr. Jane Doe
---

# A wrong heading: with a colon, like a turn

## Transcript

Lenny Host (00:00):
Before you came on, I asked what people wanted to know.

Dr. Jane Doe (01:10:12):
Tension sits at the center of every strategy worth having.

(01:11:40):
And a second paragraph by the same speaker about promises.
"""


def test_markdown_turns_give_speaker_and_time_and_the_header_is_never_text(tmp_path):
    doc = load(_write(tmp_path, "interview.md", MARKDOWN))
    assert doc.title == "Building remarkable products"
    assert doc.meta["date"] == "2024-12-08" and doc.meta["show"] == "Example Podcast"
    assert "Dr. Jane Doe" in doc.meta["speakers"]
    assert _cue_texts(doc) == [
        ("Before you came on, I asked what people wanted to know.", 0.0, "Lenny Host"),
        ("Tension sits at the center of every strategy worth having.", 4212.0, "Dr. Jane Doe"),
        ("And a second paragraph by the same speaker about promises.", 4300.0, "Dr. Jane Doe"),
    ]
    assert "(01:10:12)" not in doc.text and "Transcript" not in doc.text and "wrong heading" not in doc.text


def test_otter_headers_and_whisper_console_lines(tmp_path):
    otter = load(
        _write(
            tmp_path,
            "otter.txt",
            "Speaker 1  00:03\nSo what got you started?\n\nJane Doe  1:02\n"
            "I was building tools for myself.\n\nSpeaker 1  2:15\nAnd then?\n",
        )
    )
    assert _cue_texts(otter) == [
        ("So what got you started?", 3.0, "Speaker 1"),
        ("I was building tools for myself.", 62.0, "Jane Doe"),
        ("And then?", 135.0, "Speaker 1"),
    ]
    console = load(
        _write(
            tmp_path,
            "console.txt",
            "[00:00.000 --> 00:04.000]  Welcome back to the show.\n"
            "[00:04.000 --> 00:08.500]  Today we talk about cities.\n"
            "[00:08.500 --> 00:12.000]  And about floor space.\n",
        )
    )
    assert [(t, t0) for t, t0, _ in _cue_texts(console)] == [
        ("Welcome back to the show.", 0.0),
        ("Today we talk about cities.", 4.0),
        ("And about floor space.", 8.5),
    ]


@pytest.mark.parametrize(
    "name,text",
    [
        (
            "bracketed.txt",
            "[00:00:05] Alice: Hello, welcome.\n[00:00:09] Bob: Thanks for having me.\n[00:01:14] Alice: Rents?\n",
        ),
        (
            "time_first.txt",
            "00:00:05 Alice: Hello, welcome.\n00:00:09 Bob: Thanks for having me.\n00:01:14 Alice: Rents?\n",
        ),
        (
            "zoom.txt",
            "[Alice] 00:00:05\nHello, welcome.\n[Bob] 00:00:09\nThanks for having me.\n[Alice] 00:01:14\nRents?\n",
        ),
        (  # Trint, Sonix: the time, then the name alone, the speech below
            "trint.txt",
            "[00:00:05] Alice\n\nHello, welcome.\n\n[00:00:09] Bob\n\nThanks for having me.\n\n[00:01:14] Alice\n\nRents?\n",
        ),
        (
            "name_below.txt",
            "00:00:05 Alice\nHello, welcome.\n00:00:09 Bob\nThanks for having me.\n1:14 Alice\nRents?\n",
        ),
        (
            "tabbed.txt",
            "00:00:05\tAlice\tHello, welcome.\n00:00:09\tBob\tThanks for having me.\n00:01:14\tAlice\tRents?\n",
        ),
    ],
)
def test_a_time_at_the_head_of_a_line_marks_a_turn_and_a_recurring_name_after_it_the_speaker(tmp_path, name, text):
    assert _cue_texts(load(_write(tmp_path, name, text))) == [
        ("Hello, welcome.", 5.0, "Alice"),
        ("Thanks for having me.", 9.0, "Bob"),
        ("Rents?", 74.0, "Alice"),
    ]


def test_a_short_line_after_a_time_is_speech_unless_the_file_names_speakers_that_way(tmp_path):
    """A time then a few capitalised words, with nothing below them, is what was said at that time."""
    doc = load(
        _write(tmp_path, "said.txt", "[00:00:05] Welcome Back\n[00:00:09] Hello There\n[00:01:14] Welcome Back\n")
    )
    assert _cue_texts(doc) == [("Welcome Back", 5.0, None), ("Hello There", 9.0, None), ("Welcome Back", 74.0, None)]
    doc = load(
        _write(
            tmp_path, "once.txt", "0:05 Alice\nHello.\n0:09 so we began\n0:12 then\n0:20 and more\n1:14 Bob\nRents?\n"
        )
    )
    assert [s for *_, s in _cue_texts(doc)] == [None] * 5  # no convention, and no name recurs


def test_a_copied_youtube_transcript_has_each_time_on_its_own_line(tmp_path):
    doc = load(
        _write(tmp_path, "copied.txt", "0:00\nhello and welcome\n0:04\nto the show about cities\n1:02\nNote: rents\n")
    )
    assert _cue_texts(doc) == [
        ("hello and welcome", 0.0, None),
        ("to the show about cities", 4.0, None),
        ("Note: rents", 62.0, None),
    ]


def test_tagged_lines_of_a_plain_text_transcript(tmp_path):
    doc = load(
        _write(
            tmp_path,
            "asr.txt",
            "【说话人0】今天我们聊聊长期投资。\n【说话人1】好的，先说说指数基金。\n"
            "说话人0：为什么是指数基金？\n说话人1：因为成本低，而且分散。\n",
        )
    )
    assert [(t, s) for t, _, s in _cue_texts(doc)] == [
        ("今天我们聊聊长期投资。", "说话人0"),
        ("好的，先说说指数基金。", "说话人1"),
        ("为什么是指数基金？", "说话人0"),
        ("因为成本低，而且分散。", "说话人1"),
    ]


@pytest.mark.parametrize(
    "text,title,meta",
    [
        (
            "Title: The cost of cities\nDate: March 5, 2024\nGuest: Jane Doe\nHost: Amit Varma\n\nWelcome to the show.\n",
            "The cost of cities",
            {"date": "2024-03-05", "speakers": ["Jane Doe", "Amit Varma"]},
        ),
        (
            "标题：城市的成本\n日期：2024年3月5日\n嘉宾：张三、李四\n\n大家好，欢迎收听。\n",
            "城市的成本",
            {"date": "2024-03-05", "speakers": ["张三", "李四"]},
        ),
        (
            "# The cost of cities\n\n**Date:** 2024/3/5\n**Podcast:** The Show\n\nWelcome to the show.\n",
            "The cost of cities",
            {"date": "2024-03-05", "show": "The Show"},
        ),
    ],
)
def test_a_header_of_key_value_lines_is_metadata_not_text(tmp_path, text, title, meta):
    doc = load(_write(tmp_path, "export.txt", text))
    assert doc.title == title and doc.meta == meta
    assert doc.text[doc.regions[0][0] :].lstrip().startswith(("Welcome", "大家好"))


def test_speaker_turns_at_the_top_are_not_a_header(tmp_path):
    doc = load(
        _write(
            tmp_path,
            "turns.txt",
            "Host: Welcome to the show.\nGuest: Thanks for having me.\nHost: Rents?\nGuest: High.\n",
        )
    )
    assert doc.meta == {} and [s.speaker for s in doc.segments] == ["Host", "Guest", "Host", "Guest"]


@pytest.mark.parametrize(
    "text",
    [
        "**Lenny:** How did you pick them?\n\n**Dylan:** With a graph.\n\n**Lenny:** Then?\n\n**Dylan:** Emails.\n",
        "**Lenny**: How did you pick them?\n\n**Dylan**: With a graph.\n\n**Lenny**: Then?\n\n**Dylan**: Emails.\n",
        "[00:00:05] **Lenny**: How did you pick them?\n[00:00:09] **Dylan**: With a graph.\n"
        "[00:00:12] **Lenny**: Then?\n[00:00:15] **Dylan**: Emails.\n",
        # marks between a time and a name are no part of the name
        "00:00:05 - Lenny: How did you pick them?\n00:00:09 - Dylan: With a graph.\n"
        "00:00:12 - Lenny: Then?\n00:00:15 - Dylan: Emails.\n",
        "Lenny | 00:00:05\nHow did you pick them?\n\nDylan | 00:00:09\nWith a graph.\n\n"
        "Lenny | 00:00:12\nThen?\n\nDylan | 00:00:15\nEmails.\n",
    ],
)
def test_a_speaker_name_is_read_without_the_marks_around_it(tmp_path, text):
    """Markdown bold ("**Lenny:** …", "**Lenny**: …") and separators ("00:00:05 - Lenny:", "Lenny | 00:00:05")."""
    doc = load(_write(tmp_path, "export.md", text))
    assert [s.speaker for s in doc.segments] == ["Lenny", "Dylan", "Lenny", "Dylan"]
    assert "*" not in doc.text and doc.text.startswith("How did you pick them?")


def test_a_line_with_a_colon_is_text_unless_its_name_recurs(tmp_path):
    doc = load(
        _write(
            tmp_path,
            "notes.txt",
            "Note: this episode was recorded live.\nWe talk about cities and "
            "what they cost.\nThe rest is a long monologue.\n",
        )
    )
    assert not doc.segments and doc.text.startswith("Note: this episode")


@pytest.mark.parametrize(
    "name,title",
    [
        ("某播客-Vol12-聊聊长期投资-逐字稿.txt", "某播客 Vol12 聊聊长期投资 逐字稿"),
        ("seth-godin-interview.md", "seth godin interview"),
        ("000_2d6f43025af66c3e.txt", ""),
        ("uEBAKXcegqVTBkUv.mp3.srt", ""),
        ("E11.mp3.vtt", ""),
    ],
)
def test_a_file_without_a_title_is_titled_by_a_name_with_words(name, title):
    assert name_title(name) == title


def test_untitled_file_takes_its_worded_name_as_title(tmp_path):
    doc = load(
        _write(tmp_path, "某播客-Vol12-聊聊长期投资-逐字稿.txt", "说话人很多。我觉得大家都在聊长期投资这件事情。\n")
    )
    assert doc.titled and doc.title == "某播客 Vol12 聊聊长期投资 逐字稿"


def test_sidecar_named_after_the_whole_file_name(tmp_path):
    _write(tmp_path, "ep.mp3.srt", "1\n00:00:00,000 --> 00:00:02,000\nhello there friends\n")
    _write(tmp_path, "ep.mp3.srt.meta.json", json.dumps({"title": "Episode One", "date": "2023-01-02"}))
    doc = load(tmp_path / "ep.mp3.srt")
    assert doc.title == "Episode One" and doc.meta["date"] == "2023-01-02"


def test_traditional_and_simplified_fold_to_one_script_for_matching():
    assert fold("劉備說：著作權") == "刘备说：著作权"
    assert tokenize("劉強東") == tokenize("刘强东")
    assert fold("plain English") == "plain English"


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("conventions")
    _write(folder, "interview.md", MARKDOWN)
    _write(
        folder,
        "asr.srt",
        "1\n00:00:01,000 --> 00:00:05,000\n【说话人0】劉強東說京東的物流成本在二零二一年降了三成\n\n"
        "2\n00:00:05,000 --> 00:00:09,000\n【说话人1】那這個成本是怎麼降下來的呢\n",
    )
    return build(folder, tmp_path_factory.mktemp("idx") / "idx", embedder).index


def test_a_citation_from_a_tagged_turn_carries_speaker_and_time_and_no_tag(mixed_index, embedder):
    engine = Engine(mixed_index, embedder)
    hit = engine.search("What does Jane Doe say sits at the center of every strategy?", 1)[0]
    text = mixed_index.documents[hit.source]["text"]
    start = text.index("Tension")
    c = citation(1, hit.source, hit.title, start, text.index("\n", start), mixed_index)
    assert (c.quote, c.speaker, c.time_start) == (
        "Tension sits at the center of every strategy worth having.",
        "Dr. Jane Doe",
        4212.0,
    )
    assert "[1:10:12–" in c.location() and "Dr. Jane Doe" in c.location()


def test_a_simplified_question_finds_a_name_written_in_traditional(mixed_index, embedder):
    engine = Engine(mixed_index, embedder)
    answer = engine.ask("刘强东说京东的物流成本降了多少？")
    assert not answer.abstained, answer.answer
    assert answer.citations[0].speaker == "说话人0" and "【" not in answer.citations[0].quote
