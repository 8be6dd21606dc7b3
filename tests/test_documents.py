import pytest

from rag.documents import load, normalise, parse, read_text
from rag.errors import CorpusError
from conftest import ROOT

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


def test_front_matter_and_reader_links_are_metadata():
    doc = load(SEEDS / "004_65fee3c8eaa4b0c3.txt")
    assert doc.title.startswith("（限时公开）OpenAI的“指数级领先”")
    assert doc.meta["date"] == "2024-02-17"
    assert doc.meta["speakers"] == ["Neo Wang"]
    body = "".join(doc.text[s:e] for s, e in doc.regions)
    assert "omnivore" not in body.lower() and "date_saved" not in body
    assert body.startswith("他去给大家讲的时候")


def test_file_without_header_gets_title_from_first_words():
    doc = load(SEEDS / "003_1f20d8caa856f3ec.txt")
    assert doc.title == "大概2个月前，有一次 AI 大模型发展方向的大辩论"
    assert doc.regions[0][0] == 0


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
    [(b"", "empty"), (b"  \n", "empty"), (b"\x00\x01binary\x00", "binary"), ("亚马逊".encode("gbk"), "not UTF-8")],
)
def test_unusable_files_are_named(tmp_path, data, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=f"bad.txt.*{reason}"):
        load(path)


def test_header_only_file_is_refused():
    with pytest.raises(CorpusError, match="no passage text"):
        parse("x.txt", "cover of episode 1. hi\n\nlogo of podcast Show\n")
