import pytest

from rag.errors import UsageError
from rag.retrieval import MAX_K, MAX_QUERY_CHARS


@pytest.mark.parametrize("question", ["why did Amazon Q fail?", "亚马逊内部的大模型项目Q为什么失败了？"])
def test_amazon_q_is_found_in_its_transcript(engine, question):
    hits = engine.search(question, 5)
    assert hits[0].source == "000_2d6f43025af66c3e.txt"
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].score >= hits[-1].score
    assert any("代号是Q" in h.text for h in hits)


def test_hits_point_into_the_source_text(engine):
    from rag.documents import normalise

    for h in engine.search("强化学习和 self-play 的新范式", 8):
        assert normalise(engine.index.texts[h.source], h.start, h.end).text == h.text


@pytest.mark.parametrize(
    "question, k, message",
    [("", 5, "empty"), ("   \n", 5, "empty"), ("x" * (MAX_QUERY_CHARS + 1), 5, "limit"),
     ("hi", 0, "k must be"), ("hi", MAX_K + 1, "k must be")],
)
def test_bad_queries_are_usage_errors(engine, question, k, message):
    with pytest.raises(UsageError, match=message):
        engine.search(question, k)


def test_english_question_finds_chinese_passage(engine):
    hits = engine.search("Who personally led Amazon's internal large-model project, and what was its code name?", 5)
    assert any("Andy Jassy亲自带队" in h.text for h in hits[:3])


@pytest.mark.parametrize(
    "question, unknown",
    [
        ("智谱AI的GLM-4模型是什么时候发布的？", ["GLM-4"]),
        ("How many H800 GPUs did Zhipu use for training?", ["H800"]),
        ("What did the speaker tell a senior Tencent executive?", []),  # 腾讯 is in the corpus
        ("What lesson did Yuxin share with the speaker?", []),  # a pinyin name cannot be judged
        ("What does the author say about ChatGPT-style AI and Sora?", []),
        ("What did Li say about NVIDIA's new computing platform?", []),  # 英伟达, which jieba splits
        ("What did Ilya say at MIT in 2018?", []),  # transliterated as 伊利亚: cannot be judged
        ("What did Samsung announce?", ["Samsung"]),  # CEDICT's 三星 is not in the corpus
        ("How good is Anthropic's Claude at coding?", ["Claude"]),
        ("华为盘古大模型在哪些行业落地了？", ["盘古"]),  # a CEDICT proper noun the corpus never uses
        ("字节跳动的大模型怎么样？", ["字节跳动"]),  # jieba splits it into 字节 + 跳动
        ("李志飞拿哪类消费电子产品来比喻？", []),  # 子产 (a proper noun) inside 电子产品 is no name
        ("谷歌和英伟达怎么看大模型？", []),  # in the corpus
    ],
)
def test_unknown_names(engine, question, unknown):
    assert engine.retriever.unknown_names(question) == unknown


def test_words_for_the_recording_are_not_translated(engine):
    terms = dict(engine.retriever.translations("What does the guest think of the host's data?"))
    assert "数据" in terms and "嘉宾" not in terms


@pytest.mark.parametrize(
    "question, coverage",
    [
        ("How do I bake sourdough bread?", 0.0),
        ("Why did Amazon's large-model project fail?", 1.0),
        ("为什么GPT-3的发布是一次转变？", 1.0),  # GPT, not "GPT-"
        ("亚马逊的项目为什么失败？", 1.0),  # Chinese words are not counted
    ],
)
def test_coverage_of_english_words(engine, question, coverage):
    assert engine.retriever.coverage(question) == coverage


def test_compounds_meet_their_words():
    from rag.lexical import tokenize

    assert tokenize("self-play and GPT-4") == ["self-play", "self", "play", "gpt-4", "gpt"]
    assert tokenize("self play") == ["self", "play"] and tokenize("OpenAI 3.5") == ["openai", "3.5"]


def test_hyphenated_english_finds_the_spaced_transcript_words(engine):
    hits = engine.search("How does self-play make up for the shortage of training data?", 5)
    assert any("self play 这个方法本质是用 AI 无限的算力来补数据不足" in h.text for h in hits)
