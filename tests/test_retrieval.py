import numpy as np
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


@pytest.mark.parametrize("question", ["杨立昆", "节目里怎么评价杨立昆的观点？"])
def test_a_name_the_corpus_writes_weighs_as_much_inside_a_longer_question(engine, question):
    # jieba cuts 评价杨立昆的 into 杨立 + 昆, the transcript's 杨立昆最近 into 杨立昆
    assert "杨立昆" in engine.search(question, 3)[0].text


def test_hits_point_into_the_source_text(engine):
    from rag.documents import normalise

    for h in engine.search("强化学习和 self-play 的新范式", 8):
        assert normalise(engine.index.texts[h.source], h.start, h.end).text == h.text


@pytest.mark.parametrize(
    "question, k, message",
    [
        ("", 5, "empty"),
        ("   \n", 5, "empty"),
        ("x" * (MAX_QUERY_CHARS + 1), 5, "limit"),
        ("hi", 0, "k must be"),
        ("hi", MAX_K + 1, "k must be"),
    ],
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
        ("Sora 说明了什么？", []),  # only in a title, which counts as text
        ("李志飞对创业公司的 advice 是什么？", []),  # a lower-case word is no name
        ("GPT-5 什么时候发布？", ["GPT-5"]),  # GPT-4 is mentioned, not this version
        ("When did Meta release Llama 3?", ["Llama 3"]),
        ("How did GPT4 compare with GPT-3.5?", []),  # written GPT4 and GPT3.5 in the transcripts
    ],
)
def test_unknown_names(engine, question, unknown):
    assert list(engine.retriever.analyse(question).unknown_names) == unknown


def test_pinyin_names_are_found_in_the_characters_the_transcripts_use(engine):
    q = engine.retriever.analyse("What did Yang Zhilin and Zhu Xiaohu disagree about?")
    assert [(n.text, n.forms) for n in q.names] == [("Yang Zhilin", ("杨植麟",)), ("Zhu Xiaohu", ("朱啸虎",))]
    assert "杨植麟" in q.dense_text or "朱啸虎" in q.dense_text or "啸虎" in dict(q.translations)
    assert engine.search(q, 3)[0].source == "003_1f20d8caa856f3ec.txt"


def test_an_english_question_names_a_foreign_person_as_the_transcripts_write_them(engine):
    """Musk is 马斯克 in the transcripts; Zuckerberg (扎克伯格) is never mentioned, and the answer says so."""
    musk = engine.retriever.analyse("What did Musk say about AI?")
    assert [(n.text, n.forms) for n in musk.names] == [("Musk", ("马斯克",))]
    assert "马斯克" in engine.search(musk, 3)[0].text.replace(" ", "")
    assert engine.retriever.analyse("What does Zuckerberg want from AI?").unknown_names == ("Zuckerberg",)


def test_a_foreign_name_cedict_lacks_is_found_by_its_sound(engine):
    """Yann LeCun is in no dictionary here; the transcripts write his Chinese name, 杨立昆, and speech
    recognition's 杨乐坤: y-ng l k-n, the consonants of the whole name. A single word needs characters
    of foreign names to match; names of three consonants (Dylan: 打脸) are never matched by sound."""
    q = engine.retriever.analyse("What does the author think of Yann LeCun?")
    assert {n.text: set(n.forms) for n in q.names} == {"Yann": {"杨立昆", "杨乐坤"}, "LeCun": {"杨立昆", "杨乐坤"}}
    answer = engine.ask("What does the author think of Yann LeCun?")
    assert not answer.abstained and any("杨立昆最近一两年" in c.quote for c in answer.citations)
    assert "LeCun ← 杨立昆" in answer.answer  # the English reader is told which spelling matched
    for question in ("What does Dylan think of AI?", "What does Jensen think of AI?"):
        assert all(not n.forms for n in engine.retriever.analyse(question).names)


def test_a_chinese_name_written_with_a_homophone_finds_the_transcripts_spelling(engine):
    """朱晓虎 for 朱啸虎 (xiao = xiao), as a listener or speech recognition writes it: the question
    searches the transcripts' spelling. Three characters of grammar or a word and its neighbour
    (模型 + 底) are no name, however many homophones they have."""
    q = engine.retriever.analyse("朱晓虎怎么看AI创业？")
    assert ("朱晓虎", ("朱啸虎",)) in [(n.text, n.forms) for n in q.names]
    assert [h.source for h in engine.search(q, 3)] == ["003_1f20d8caa856f3ec.txt"] * 3
    assert [n.text for n in engine.retriever.analyse("作者怎么看大模型底层公司的格局，会有几家？").names] == []


@pytest.mark.parametrize("question", ["What does Jensen Huang say about GPUs?", "黄仁勋 Huang 怎么看 GPU？"])
def test_a_name_that_splits_into_a_syllable_no_character_reads_is_no_error(engine, question):
    """Huang splits as hu + ang too, and no character of the corpus reads ang."""
    q = engine.retriever.analyse(question)
    assert "Huang" in [n.text for n in q.names]
    assert engine.ask(question).hits


@pytest.mark.parametrize("question", ["Yuxin 给了说话人什么建议？", "What lesson did Yuxin share with the speaker?"])
def test_a_pinyin_name_in_either_language_is_found_in_characters(engine, question):
    q = engine.retriever.analyse(question)
    assert [(n.text, n.forms) for n in q.names] == [("Yuxin", ("雨昕",))] and not q.unknown_names


def test_the_kind_of_answer_asked_for():
    from rag.question import kind_of

    assert kind_of("How much did Microsoft invest in OpenAI?") == "amount"
    assert kind_of("月之暗面一共融资了多少钱？") == "amount"
    assert kind_of("GPT-5 什么时候发布？") == "date" and kind_of("When did Andy Jassy become CEO?") == "date"
    assert kind_of("Who funded the research when Li was a PhD student?") == "person"  # "when" is a conjunction
    assert kind_of("How quickly did the speaker say GPT's inference cost would fall?") == "other"
    assert kind_of("Why did Amazon Q fail?") == "reason"
    assert (
        kind_of("谷歌在AI上落后的根源是什么？") == "reason"
        and kind_of("What is the root cause of the slump?") == "reason"
    )
    assert kind_of("What lesson did Yuxin share with the speaker?") == "other"  # share, the verb
    assert kind_of("Roughly what share of total human work could it replace?") == "amount"
    assert kind_of("What is the monthly price of a ChatGPT Plus subscription?") == "amount"
    # a concession ("however much") asks for no figure
    assert kind_of("他说什么样的工作给多少钱都不值得做？") == "other" and kind_of("多少人也做不完吗？") == "other"
    assert kind_of("No matter how much they pay, why would he stay?") == "reason"
    assert kind_of("他们一共有多少员工，都在北京吗？") == "amount"  # 都 after the clause ends


def test_words_for_the_recording_are_not_translated(engine):
    terms = dict(engine.retriever.analyse("What does the guest think of the host's data?").translations)
    assert "数据" in terms and "嘉宾" not in terms


@pytest.mark.parametrize(
    "question, coverage",
    [
        ("How do I bake sourdough bread?", 0.0),
        ("Why did Amazon's large-model project fail?", 1.0),
        ("为什么GPT-3的发布是一次转变？", 1.0),  # GPT, not "GPT-"
        ("亚马逊的项目为什么失败？", 1.0),  # Chinese words count by the corpus text
        ("怎么做红烧肉？", 0.0),
    ],
)
def test_coverage_of_english_words(engine, question, coverage):
    assert engine.retriever.analyse(question).coverage == coverage


def test_compounds_meet_their_words():
    from rag.lexical import tokenize

    assert tokenize("self-play and GPT-4") == ["self-play", "self", "play", "gpt-4", "gpt"]
    assert tokenize("self play") == ["self", "play"] and tokenize("OpenAI 3.5") == ["openai", "3.5"]


def test_hyphenated_english_finds_the_spaced_transcript_words(engine):
    hits = engine.search("How does self-play make up for the shortage of training data?", 5)
    assert any("self play 这个方法本质是用 AI 无限的算力来补数据不足" in h.text for h in hits)


def test_a_question_naming_someone_prefers_the_episodes_that_name_them(tmp_path, embedder):
    """Another episode sharing more of the question's words ranks below the one that names its person."""
    from rag.indexing import build
    from rag.retrieval import Retriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "interview-with-ryan-bell.txt").write_text(
        "My advice to new artists is simple: publish early and keep a steady rhythm, because people remember "
        "who was there first. I also think new artists should find friends who code.",
        "utf-8",
    )
    (corpus / "generative-art-roundtable.txt").write_text(
        "What advice would you give new generative artists who are starting today? Advice for new artists is "
        "hard, new artists should learn to code and study the artists they admire.",
        "utf-8",
    )
    (corpus / "bread-baking.txt").write_text(
        "Bread needs flour, water, salt and time. Knead the dough, let it rise overnight, and bake it in a very "
        "hot oven until the crust is dark.",
        "utf-8",
    )
    index = build(corpus, tmp_path / "idx", embedder).index
    question = "What advice does Ryan Bell give new artists?"
    assert Retriever(index, embedder, name_weight=0).search(question, 1)[0].source == "generative-art-roundtable.txt"
    assert Retriever(index, embedder).search(question, 1)[0].source == "interview-with-ryan-bell.txt"


def test_a_name_only_its_own_episode_writes_picks_the_episode_not_the_passage(tmp_path, embedder):
    """ "How did Ryan Bell…" in an archive where only his interview (whose title names him) writes his
    name: the passage that answers, which never says "Ryan", ranks above the introduction that does."""
    from rag.engine import Engine
    from rag.indexing import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    intro = (
        "Today my guest is Ryan Bell, a generative artist. Ryan, welcome to the show. Ryan Bell, how did you start? "
    )
    answer = (
        "To keep my fractal collection from giving blank or solid colour images, I compressed every output and "
        "checked whether it compressed down to zero, and threw those seeds away. "
    )
    filler = "We talked about galleries, markets and collectors for a while, and about the prices of prints. "
    (corpus / "ryan.md").write_text(
        "---\ntitle: A generative artist's journey ft. Ryan Bell\n---\n\n" + intro + filler * 6 + answer + filler * 6,
        "utf-8",
    )
    (corpus / "other.md").write_text("---\ntitle: Cities and rents\n---\n\n" + filler * 10, "utf-8")
    engine = Engine(build(corpus, tmp_path / "idx", embedder).index, embedder)
    question = "How did Ryan Bell stop his fractal collection from producing blank outputs?"
    retriever = engine.retriever
    assert {"ryan", "bell"} <= retriever._subject_terms(retriever._episodes_writing(retriever.analyse(question)))
    hits = engine.search(question, k=3)
    assert "fractal collection" in hits[0].text and "guest is Ryan Bell" not in hits[0].text
    # written by another episode too, the name is a search term again
    (corpus / "mention.md").write_text(
        "---\ntitle: Art news\n---\n\nRyan Bell showed new fractals this week. " + filler, "utf-8"
    )
    engine = Engine(build(corpus, tmp_path / "idx", embedder).index, embedder)
    retriever = engine.retriever
    assert not retriever._subject_terms(retriever._episodes_writing(retriever.analyse(question)))


def test_a_question_giving_an_episodes_date_searches_that_episode_first(tmp_path, embedder):
    """ "On the July 10 show, …" in an archive of daily shows that all talk alike: the episode of that
    date (by its file name, title or metadata) is searched first."""
    from rag.engine import Engine
    from rag.indexing import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = "The index moved sideways again today, and volumes were thin across the board. "
    (corpus / "market-show-2024-07-10.txt").write_text(
        filler * 4 + "If you hold only a small position, my advice is to keep it and do nothing for now. " + filler * 4,
        "utf-8",
    )
    (corpus / "market-show-2024-07-11.txt").write_text(
        filler * 4 + "Listeners holding only a light position should sell it before the weekend. " + filler * 4,
        "utf-8",
    )
    (corpus / "notes.md").write_text(
        "---\ntitle: 眼哥股市会 7月12日\n---\n\n"
        + filler * 4
        + "A light position can be held over the weekend. "
        + filler,
        "utf-8",
    )
    engine = Engine(build(corpus, tmp_path / "idx", embedder).index, embedder)
    question = "On the July 10 market show, what does the host tell listeners holding only a light position to do?"
    assert engine.retriever.analyse(question).days == ((None, 7, 10),)
    assert engine.search(question, k=1)[0].source == "market-show-2024-07-10.txt"
    engine.retriever.day_weight = 0  # by words alone, the next day's show answers
    assert engine.search(question, k=1)[0].source == "market-show-2024-07-11.txt"
    engine.retriever.day_weight = 1.0
    assert engine.search("What did the July 12 show tell people with light positions?", k=1)[0].source == "notes.md"
    # a date no episode has, or that every episode has, changes nothing
    assert not engine.retriever._dated_episodes(engine.retriever.analyse("What happened on March 3, 2020?"))
    # with no word for an episode, a date may be an event's, which a later episode discusses
    (corpus / "market-show-2024-07-11.txt").write_text(
        filler * 4 + "The July 10 rally came from a surprise rate cut by the central bank. " + filler * 4, "utf-8"
    )
    engine = Engine(build(corpus, tmp_path / "idx", embedder).index, embedder)
    question = "What caused the July 10 rally?"
    assert not engine.retriever.analyse(question).of_episode
    assert engine.search(question, k=1)[0].source == "market-show-2024-07-11.txt"
    assert engine.retriever.analyse("7月10日那期节目说了什么？").of_episode
    assert not engine.retriever.analyse("What did the data show in March 2023?").of_episode  # the verb


def test_chinese_questions_about_an_archive_of_english_alone_are_read_through_cedicts_glosses(tmp_path, embedder):
    """An archive of English transcripts only: a Chinese question meets them through CC-CEDICT's
    English glosses of its words (forward.tsv, written for any archive with English passages), finds
    the passage that answers and is answered, not refused as if its words were never spoken; and a
    Latin name it writes as the user knows it (Tabarrok), which speech recognition heard otherwise
    (Stabarrok), is not held against it, as it would not be in an English question."""
    from rag.engine import Engine
    from rag.indexing import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = [
        "We talked about galleries, markets and collectors for a while, and about the prices of prints.",
        "The weather in the city was grey all week, and the trains ran late most mornings.",
        "Our sponsor this week makes project software for engineering teams of every size.",
        "Thanks for listening, and please leave a review wherever you get your podcasts.",
    ]
    (corpus / "seth.md").write_text(
        "---\ntitle: Seth on taste\n---\n\n"
        + " ".join(filler * 12)
        + " I define good taste as knowing what other people want just before they do. "
        + " ".join(filler * 12),
        "utf-8",
    )
    (corpus / "cities.md").write_text(
        "---\ntitle: Building up\n---\n\n"
        + " ".join(reversed(filler * 12))
        + " Alex Stabarrok says that building tall buildings in Mumbai is like reclaiming land from the sky. "
        + " A former Indian NSA, a security adviser, said it is natural for small states to play two big powers. "
        + " ".join(filler * 12),
        "utf-8",
    )
    index = build(corpus, tmp_path / "idx", embedder).index
    assert not index.passage_chinese.any() and index.has_english and len(index.forward) > 10_000
    engine = Engine(index, embedder)
    answer = engine.ask("Seth 是怎么定义好品味的？")
    assert not answer.abstained, answer.reasons
    assert "good taste" in answer.hits[0].text
    answer = engine.ask("Alex Tabarrok 为什么说在孟买盖高楼就像填海造地？")
    assert not answer.abstained, answer.reasons
    assert "reclaiming land" in answer.hits[0].text

    # A title's ordinary words (National, Security) need not be written where the transcripts write
    # one word of it (Indian); a run of which they write nothing is still a name they never mention
    answer = engine.ask("Which former Indian National Security Adviser said small states play two big powers?")
    assert not answer.abstained, answer.reasons
    assert "national" in index.ordinary_names and not index.mentions("National")
    assert engine.ask("What did the Federal Reserve say about Mumbai?").abstained
    # English passages are searched with the question and its glosses, and with the glosses alone,
    # the two vectors averaged; an English question embeds itself only
    asked: list[list[str]] = []

    class Recording:
        name, dim = embedder.name, embedder.dim

        def embed_queries(self, texts):
            asked.append(list(texts))
            return embedder.embed_queries(texts)

    Engine(index, Recording()).search("Seth 是怎么定义好品味的？")
    q = engine.retriever.analyse("Seth 是怎么定义好品味的？")
    assert asked == [[q.dense_text_en, q.glosses_en]] and "taste" in q.glosses_en.split()
    assert q.dense_text_en.startswith("Seth 是怎么定义好品味的？") and "Seth" not in q.glosses_en
    Engine(index, Recording()).search("How does Seth define good taste?")
    assert asked[-1] == ["How does Seth define good taste?"]


def test_the_mean_direction_of_one_vector_is_that_vector_to_the_last_bit():
    from rag.retrieval import _mean_direction

    rng = np.random.default_rng(3)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 384)).astype(np.float32))
    assert _mean_direction([a]) is a
    mean = _mean_direction([a, b])
    assert mean.dtype == np.float32 and abs(float(np.linalg.norm(mean)) - 1) < 1e-6
    assert float(mean @ a) == pytest.approx(float(mean @ b), abs=1e-6) and float(mean @ a) > float(a @ b)


def test_a_chinese_word_said_with_a_particle_between_its_characters_is_spoken_of():
    """坏事 where the transcript says "坏的事情": the word counts as the corpus's; a word whose
    characters stand apart by more than a particle, or by a content character, does not."""
    from types import SimpleNamespace

    from rag.question import _coverage

    index = SimpleNamespace(
        corpus_text="回踩其实不是一个特别坏的事情，因为昨天涨得太快。大家都很好奇地看着。",
        bm25=SimpleNamespace(vocab=set()),
        bm25_en=SimpleNamespace(vocab=set()),
        forward={},
    )
    assert _coverage("为什么回踩是坏事？", index, (), {}) == (1.0, ())
    assert _coverage("他的决定是好事吗？", index, (), {})[1] == ("决定", "好事")
    assert "大事" in _coverage("这是大事吗？", index, (), {})[1]  # 大家 is no 大的事
