from itertools import pairwise

import pytest
from conftest import ROOT

from rag.chunking import ChunkSettings, split
from rag.documents import load, normalise, parse


def test_unpunctuated_text_is_cut_into_bounded_passages():
    doc = load(ROOT / "seeds" / "004_65fee3c8eaa4b0c3.txt")  # a 24 KB line with no punctuation
    passages = split(doc, ChunkSettings(300, 60))
    assert len(passages) > 20
    assert all(len(p.text) <= 300 for p in passages)
    # Consecutive passages overlap or touch: nothing but whitespace is lost between them.
    for a, b in pairwise(passages):
        assert b.start <= a.end or not doc.text[a.end : b.start].strip()


def test_passages_know_their_offsets():
    for name in ("000_2d6f43025af66c3e.txt", "001_69e7be7a36498b79.txt", "002_a6941fd32f71c0fa.txt"):
        doc = load(ROOT / "seeds" / name)
        for p in split(doc):
            assert p.source == name and p.title == doc.title
            assert normalise(doc.text, p.start, p.end).text == p.text


def test_no_junk_passages():
    text = "---\n\n正文第一段讲的是大模型的训练成本和数据问题。\n\n---\n\n第二段讲强化学习和自我对弈的新范式。\n\n---\n"
    passages = split(parse("x.txt", text), ChunkSettings(40, 0))
    assert [p.text for p in passages] == [
        "正文第一段讲的是大模型的训练成本和数据问题。",
        "第二段讲强化学习和自我对弈的新范式。",
    ]


def test_the_segmenter_cuts_chinese_as_python_jieba_does():
    """rjieba (loaded in a fraction of jieba's time) stands in for jieba: same words, corpus and questions."""
    import re

    import jieba

    from rag.lexical import words

    runs = [
        r for f in sorted((ROOT / "seeds").glob("*.txt")) for r in re.findall(r"[\u3400-\u9fff]+", f.read_text("utf-8"))
    ]
    runs += ["亚马逊的大模型为什么失败", "朱啸虎怎么看大模型创业", "强化学习的新范式是什么"]
    assert len(runs) > 1000
    assert [words(r) for r in runs] == [jieba.lcut(r) for r in runs]


@pytest.mark.parametrize("helper", ["works", "cannot start", "fails", "hangs"])
def test_prefetched_words_are_rjiebas_own_and_a_failed_helper_falls_back(helper):
    """A CLI question's Chinese is segmented by a child process while the index loads (rag.segmenter):
    its words are those rjieba gives in process, and when the child can't run, they come in process."""
    import json
    import re
    import subprocess
    import sys

    from rag.segmenter import cut, cut_for_search

    text = (ROOT / "seeds" / "001_69e7be7a36498b79.txt").read_text("utf-8")[:3000]
    runs = list(dict.fromkeys(re.findall(r"[\u3400-\u9fff]+", text)))
    assert len(runs) > 20
    breakage = {
        "works": "",
        "cannot start": "sys.executable = '/nonexistent/python'; ",
        "fails": "s._CHILD = 'raise SystemExit(3)'; ",
        "hangs": "s._CHILD = 'import time; time.sleep(60)'; s._WAIT_S = 0.5; ",
    }[helper]
    code = (
        f"import json, sys; from rag import segmenter as s; {breakage}s.prefetch(sys.argv[1]); "
        "words = [[s.cut(r), s.cut_for_search(r)] for r in json.loads(sys.argv[2])]; "
        "print(json.dumps(['rjieba' in sys.modules, words]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, text, json.dumps(runs)], capture_output=True, text=True, check=True
    )
    loaded_in_process, words = json.loads(out.stdout)
    assert loaded_in_process is (helper != "works")
    assert words == [[cut(r), cut_for_search(r)] for r in runs]


@pytest.mark.parametrize("name", ["004_65fee3c8eaa4b0c3.txt", "000_2d6f43025af66c3e.txt"])
def test_a_long_line_goes_to_the_splitter_a_block_at_a_time(monkeypatch, name):
    """A one-line body (no punctuation, or ASR spacing) is split in blocks of at most BLOCK characters,
    each ending at a separator: about as many passages as from the whole line, each within the size
    and mapped back to its text, and nothing lost between them."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag import chunking

    doc = load(ROOT / "seeds" / name)
    whole = split(doc)
    given: list[int] = []
    split_text = RecursiveCharacterTextSplitter.split_text
    monkeypatch.setattr(
        RecursiveCharacterTextSplitter,
        "split_text",
        lambda self, text: given.append(len(text)) or split_text(self, text),
    )
    monkeypatch.setattr(chunking, "BLOCK", 2000)
    blocked = split(doc)
    assert len(given) >= 4 and max(given) <= 2000
    assert all(
        len(p.text) <= ChunkSettings.size and normalise(doc.text, p.start, p.end).text == p.text for p in blocked
    )
    for a, b in pairwise(blocked):
        assert b.start <= a.end or not doc.text[a.end : b.start].strip()
    assert abs(len(blocked) - len(whole)) <= 0.15 * len(whole)  # a cut adds at most a short passage
