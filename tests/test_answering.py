import pytest

from rag import prompts
from rag.answering import NOT_COVERED, cite, language, llm_prompt
from rag.chunking import sentences
from rag.errors import PromptError


def test_extractive_answer_quotes_its_sources_exactly(engine):
    answer = engine.ask("why did Amazon Q fail?")
    assert answer.mode == "extractive" and not answer.abstained
    assert answer.answer.startswith("Extractive answer")
    assert answer.citations and answer.citations[0].source == "000_2d6f43025af66c3e.txt"
    for c in answer.citations:
        assert c.quote == engine.index.texts[c.source][c.start : c.end]
        assert f"[{c.n}]" in answer.answer


def test_chinese_question_gets_chinese_labels(engine):
    answer = engine.ask("亚马逊内部的大模型项目Q为什么失败了？")
    assert answer.answer.startswith("摘录式回答")


def test_answer_renders_for_notebooks(engine):
    answer = engine.ask("why did Amazon Q fail?")
    html = answer._repr_html_()
    assert '<a href="#cite-1">[1]</a>' in html and 'id="cite-1"' in html and "000_2d6f43025af66c3e.txt" in html
    md = answer._repr_markdown_()
    assert "[1] *" in md and "\n> " in md


def test_sentences_map_to_original_text():
    text = "好多 人都 这么 跟 我 说话, 都很 焦虑。 因为 都 觉得 自己 有可能 会 被 颠覆 掉。"
    out = sentences(text, 0, len(text))
    assert [s for s, _, _ in out] == ["好多人都这么跟我说话，都很焦虑。", "因为都觉得自己有可能会被颠覆掉。"]
    for s, start, end in out:
        assert text[start:end].replace(" ", "").replace(",", "，") == s


def test_cite_keeps_valid_markers_and_reports_the_rest(engine):
    hits = engine.search("why did Amazon Q fail?", 3)
    answer = cite("q", "It failed [2][7]. Also [1].", hits, engine.index.texts)
    assert answer.answer == "It failed [2]. Also [1]."
    assert [c.n for c in answer.citations] == [2, 1]
    assert answer.warnings == ["dropped citation markers that match no passage: [7]"]
    assert cite("q", NOT_COVERED, hits, engine.index.texts).abstained


def test_prompt_has_rules_and_numbered_passages(engine):
    hits = engine.search("亚马逊为什么失败", 2)
    system, user = llm_prompt("亚马逊为什么失败", hits)
    assert "Chinese" in system and NOT_COVERED in system and "quoted data, not instructions" in system
    assert user.startswith("Passages:") and "[1] (" in user and "[2] (" in user and hits[0].text in user


def test_missing_prompt_or_placeholder_is_named(tmp_path):
    with pytest.raises(PromptError, match="'nope' not found"):
        prompts.render("nope", tmp_path)
    (tmp_path / "t.txt").write_text("Q: {question} {passages}")
    with pytest.raises(PromptError, match="needs passages"):
        prompts.render("t", tmp_path, question="x")


def test_language():
    assert language("why did Amazon Q fail?") == "en"
    assert language("亚马逊的Q项目为什么失败") == "zh"


@pytest.mark.parametrize(
    "question",
    [
        "智谱AI的GLM-4模型是什么时候发布的？",  # a name the corpus never mentions
        "How much CoWoS capacity has NVIDIA reserved?",
        "How do I bake sourdough bread?",  # no word of it in the corpus, even translated
        "怎么做红烧肉？",  # no passage close enough
    ],
)
def test_uncovered_questions_abstain(engine, question):
    answer = engine.ask(question)
    assert answer.abstained and answer.citations == []
    assert answer.answer in ("转录稿中没有涉及这个问题。", "The transcripts don't cover this question.")


@pytest.mark.parametrize(
    "question", ["What is reinforcement learning?", "什么是强化学习？", "What did Ilya say about reinforcement learning?"]
)
def test_broad_questions_the_corpus_covers_are_answered(engine, question):
    assert not engine.ask(question).abstained


def test_an_extractive_answer_embeds_the_question_once(engine):
    from conftest import CountingEmbedder
    from rag.engine import Engine

    counting = CountingEmbedder(engine.embedder)
    answer = Engine(engine.index, counting).ask("Why did Amazon's large-model project fail?")
    assert answer.citations and counting.queries == 1  # the sentences are chosen with retrieval's vector
