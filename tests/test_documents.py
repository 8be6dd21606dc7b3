import pytest
from conftest import ROOT

from rag.documents import load, normalise, parse, read_text
from rag.errors import CorpusError

SEEDS = ROOT / "seeds"


def test_podcast_header_is_metadata_not_text():
    doc = load(SEEDS / "001_69e7be7a36498b79.txt")
    assert doc.title == "22. 要做中国OpenAI?李志飞劝各位同仁冷静点"
    assert doc.meta["date"] == "2023-04-16"
    assert doc.meta["show"] == "张小珺Jùn|商业访谈录"
    assert doc.meta["speakers"] == ["张小珺", "李志飞"]
    body = "".join(doc.text[s:e] for s, e in doc.regions)
    assert "cover of episode" not in body and "logo of podcast" not in body
    assert "活跃在人工intelligence" not in body  # a speaker bio is metadata


def test_an_apps_summary_ahead_of_the_transcript_is_the_episodes_description():
    doc = load(SEEDS / "001_69e7be7a36498b79.txt")
    summary = "".join(doc.text[s:e] for s, e in doc.summary)
    assert summary.startswith("李志飞认为,当前大模型创业者普遍焦虑") and "Initial PhD focus" in summary
    assert "好多 人都 这么 跟 我 说话" not in summary  # the transcript itself is speech
    assert doc.meta["description"].startswith("李志飞认为")
    # without a transcript marker after them, header lines are the transcript
    assert not parse("x.txt", "第一句话在这里。\n第二句话也在这里。\n").summary


MARKDOWN_EXPORT = """# How Figma found its first users

## Summary

Dylan Field explains that Figma picked its first designers from a graph of Twitter followers.

## Chapters

- 00:00 Intro
- 05:12 Finding designers

## Transcript

**Lenny (00:00:05):** How did you decide who to talk to first?

**Dylan Field (00:00:09):** I used Gephi, a network visualization tool, and looked at the most central designers.

**Lenny (00:01:10):** And then what happened?
"""


def test_a_markdown_exports_summary_and_chapters_are_the_episodes_description():
    """ "## Summary" and "## Chapters" before "## Transcript" describe the episode: not speech."""
    doc = parse("figma.md", MARKDOWN_EXPORT)
    summary = "".join(doc.text[s:e] for s, e in doc.summary)
    assert "Figma picked its first designers" in summary and "05:12 Finding designers" in summary
    assert "Gephi" not in summary and doc.meta["description"].startswith("Dylan Field explains")
    assert [seg.speaker for seg in doc.segments][1:] == ["Lenny", "Dylan Field", "Lenny"]
    assert "**" not in doc.text  # "**Lenny (00:00:05):**": the bold closes after the colon
    # a description's section is one whatever follows it; the next heading ends it
    plain = parse(
        "notes.md", "# Episode 12\n\n## Show notes\n\nWe cover pricing.\n\n## Part one\n\nSo pricing is hard.\n"
    )
    assert "".join(plain.text[s:e] for s, e in plain.summary) == "We cover pricing."
    # a section that nothing closes may be the transcript itself: left as text
    unclosed = parse("talk.md", "# Episode 12\n\n## Summary\n\nWe cover pricing.\n\nSo pricing is hard, I think.\n")
    assert not unclosed.summary and "So pricing is hard" in "".join(unclosed.text[s:e] for s, e in unclosed.regions)
    # nor one longer than a description: the transcript under a heading that named one
    talk = "".join(f"Line {n} of what the guest says about pricing.\n" for n in range(60))
    long = parse("talk.md", "# Episode 12\n\n## Summary\n\n" + talk + "\n## Part two\n\nMore.\n")
    assert not long.summary


FEISHU_MINUTES = """AI 播客第12期：算力之争
2024年3月5日 下午 2:00|1小时 2分钟 3秒

关键词:
大模型、算力、GPU

文字记录:

说话人 1 00:00
大家好，欢迎来到本期节目。

说话人 2 00:05
谢谢邀请，今天聊聊算力。

说话人 1 01:02
那我们先说GPU的价格。
"""


def test_a_minutes_export_keeps_its_title_date_and_keywords_out_of_the_speech():
    """Feishu Minutes (飞书妙记) writes the title, the date and length, 关键词: and 文字记录: above the turns."""
    doc = parse("minutes.txt", FEISHU_MINUTES)
    assert doc.title == "AI 播客第12期：算力之争" and doc.meta["date"] == "2024-03-05"
    assert "".join(doc.text[s:e] for s, e in doc.summary) == "大模型、算力、GPU"
    assert [(seg.t0, seg.speaker) for seg in doc.segments][1:] == [
        (0.0, "说话人 1"),
        (5.0, "说话人 2"),
        (62.0, "说话人 1"),
    ]
    assert "文字记录" not in doc.text and "2024年3月5日" not in doc.text
    # a name alone with its colon above speech is no heading: the header lines stay the transcript
    plain = parse("note.txt", "Note:\n第一句话在这里。\n第二句话也在这里。\n")
    assert not plain.summary and plain.text.startswith("Note:")


def test_front_matter_and_reader_links_are_metadata():
    doc = load(SEEDS / "004_65fee3c8eaa4b0c3.txt")
    assert doc.title.startswith("（限时公开）OpenAI的“指数级领先”")
    assert doc.meta["date"] == "2024-02-17"
    assert doc.meta["speakers"] == ["Neo Wang"]
    body = "".join(doc.text[s:e] for s, e in doc.regions)
    assert "omnivore" not in body.lower() and "date_saved" not in body
    assert body.startswith("他去给大家讲的时候")


def test_file_without_header_is_marked_untitled():
    doc = load(SEEDS / "003_1f20d8caa856f3ec.txt")
    assert not doc.titled and doc.regions[0][0] == 0


def test_titles_derived_from_what_sets_a_transcript_apart():
    from rag.indexing import derive_titles, load_corpus

    titles = {d.source: d.title for d in derive_titles(load_corpus(SEEDS)[0])}
    assert titles["003_1f20d8caa856f3ec.txt"].startswith("朱啸虎 · ")  # jieba's 朱 + 啸虎 joined back
    assert "亚马逊" in titles["000_2d6f43025af66c3e.txt"] and "会员朋友们" not in titles["000_2d6f43025af66c3e.txt"]
    assert titles["001_69e7be7a36498b79.txt"] == "22. 要做中国OpenAI?李志飞劝各位同仁冷静点"  # a title of its own stays


def test_markdown_heading_is_the_title(tmp_path):
    path = tmp_path / "episode.md"
    path.write_text("# Why Amazon Q failed\n\n亚马逊内部做过一个大模型，代号是Q，前后一年就宣告失败了。\n", "utf-8")
    doc = load(path)
    assert doc.title == "Why Amazon Q failed" and doc.titled
    assert "#" not in "".join(doc.text[s:e] for s, e in doc.regions)


def test_sidecar_metadata_wins_over_the_header(tmp_path):
    path = tmp_path / "ep1.txt"
    path.write_text("会员朋友们大家好，今天讲为什么大厂做不好大模型。", "utf-8")
    (tmp_path / "ep1.meta.json").write_text(
        '{"title": "大厂为什么做不好大模型", "show": "硅谷101", "date": "2025-03-01", "url": "https://example.com/1"}',
        "utf-8",
    )
    doc = load(path)
    assert doc.title == "大厂为什么做不好大模型" and doc.titled
    assert doc.meta == {"show": "硅谷101", "date": "2025-03-01", "url": "https://example.com/1"}
    (tmp_path / "ep1.meta.json").write_text("[1, 2]", "utf-8")
    with pytest.raises(CorpusError, match="ep1.meta.json: metadata must be a JSON object"):
        load(path)
    (tmp_path / "ep1.meta.json").write_text("{oops", "utf-8")
    with pytest.raises(CorpusError, match="ep1.meta.json: not a JSON metadata file"):
        load(path)


def test_word_segmentation_spaces_are_removed_and_offsets_map_back():
    text = "好多 人都 这么 跟 我 说话, 都很 焦虑。 用 OpenAI 的 模型"
    n = normalise(text)
    assert n.text == "好多人都这么跟我说话，都很焦虑。用 OpenAI 的模型"
    i = n.text.index("OpenAI")
    s, e = n.span(i, i + 6)
    assert text[s:e] == "OpenAI"


def test_pause_spaces_become_commas():
    text = "会员朋友们大家好 大家有没有想过 就是亚马逊Facebook这样的公司 它们有钱有业务"
    assert normalise(text).text == "会员朋友们大家好，大家有没有想过，就是亚马逊Facebook这样的公司，它们有钱有业务"


def test_normalised_slices_map_to_original_offsets_everywhere():
    text = read_text(SEEDS / "001_69e7be7a36498b79.txt")
    n = normalise(text, 1000, 3000)
    for i in range(0, len(n.text) - 10, 97):
        s, e = n.span(i, i + 10)
        assert normalise(text, s, e).text == n.text[i : i + 10].strip("\n ")


@pytest.mark.parametrize(
    "data, reason",
    # the last: bytes that are no UTF-8, GB18030, Big5 or Windows-1252 text (GBK is read: test_formats.py)
    [(b"", "empty"), (b"  \n", "empty"), (b"\x00\x01binary\x00", "binary"), (b"\x81\x30\x81\x30 abc", "not UTF-8")],
)
def test_unusable_files_are_named(tmp_path, data, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=f"bad.txt.*{reason}"):
        load(path)


def test_header_only_file_is_refused():
    with pytest.raises(CorpusError, match="no passage text"):
        parse("x.txt", "cover of episode 1. hi\n\nlogo of podcast Show\n")
