import pytest

from rag.lexical import STOPWORDS
from rag.translate import (
    build_glosses,
    build_inflections,
    build_lexicon,
    build_names,
    chinese_names,
    expand,
    is_pinyin,
    names_in_text,
    pinyin_readings,
    pinyin_sound_keys,
    pinyin_splits,
    sound_key,
    stem,
    unlisted_words,
)


def test_lexicon_maps_english_glosses_to_corpus_words_only():
    lexicon = build_lexicon(["失败", "搜索引擎", "数据", "亚马逊", "失"])
    assert "失败" in lexicon[stem("failure")] and "失" not in lexicon.get(stem("fail"), [])
    assert lexicon[f"{stem('search')} {stem('engine')}"] == ["搜索引擎"]  # keys are stemmed words
    assert all(w in {"失败", "搜索引擎", "数据", "亚马逊"} for ws in lexicon.values() for w in ws)


def test_expand_prefers_phrases_and_stems_words():
    lexicon = build_lexicon(["失败", "搜索引擎", "引擎", "数据", "亚马逊"])
    terms = dict(expand("Why did the Amazon search engine fail?", lexicon, STOPWORDS))
    assert terms["亚马逊"] == 1.0 and "搜索引擎" in terms and "失败" in terms
    assert "引擎" not in terms  # "engine" is covered by the phrase
    assert stem("failed") == stem("fails") == "fail"
    assert stem("improved") == stem("improve")  # a crude suffix strip would leave "improv" and "improve"


def test_names_and_pinyin():
    names = build_names(["微软", "腾讯"])
    assert names["microsoft"] == ["微软"] and names["tencent"] == ["腾讯"]
    assert names["samsung"] == []  # a name CEDICT knows and the corpus does not use
    readings = pinyin_readings(["杨植麟和朱啸虎"])
    assert is_pinyin("Yuxin", readings) and is_pinyin("Zhipu", readings)
    assert not is_pinyin("Tencent", readings) and not is_pinyin("CoWoS", readings)
    assert (
        "杨" in readings["yang"] and "啸" in readings["xiao"] and "亚" not in readings["ya"]
    )  # only the texts' characters
    assert ["xiao", "hu"] in pinyin_splits("xiaohu", readings) and ["xi", "ao", "hu"] in pinyin_splits(
        "xiaohu", readings
    )


def test_a_foreign_person_is_known_by_the_surname_chinese_writes():
    """CC-CEDICT glosses 伊隆·马斯克 "Elon Musk (1971-)" and 扎克伯格 "Mark Zuckerberg (1984-)": an English
    question says Musk or Zuckerberg, a Chinese transcript writes 马斯克 or 扎克伯格. A first name names
    no one (Mark is also a currency, Elon nothing); a Chinese person's gloss is their pinyin (秋瑾 Qiu Jin)."""
    names = build_names(["马斯克", "扎克伯格", "马克", "秋瑾"])
    assert names["musk"] == ["马斯克"] and names["zuckerberg"] == ["扎克伯格"]
    assert "扎克伯格" not in names.get("mark", []) and not names.get("elon")
    assert names["qiu"] == ["秋瑾"] and "秋瑾" not in names.get("jin", [])


def test_names_are_found_in_text_that_segmentation_splits():
    assert names_in_text(["像英伟达也发布了更加厉害的平台", "三星"]) == {"英伟达"}  # two-character names need a token


def test_possessives_are_translated_as_their_word():
    lexicon = build_lexicon(["亚马逊", "项目"])
    assert dict(expand("Amazon's project", lexicon, STOPWORDS)) == {"亚马逊": 1.0, "项目": 1.0}


def test_passages_carry_the_english_glosses_of_their_words():
    from rag.lexical import english_query, english_tokens, tokenize

    glosses = build_glosses(["离开", "数据", "离"], STOPWORDS)
    assert {stem("depart"), stem("leave")} <= set(glosses["离开"]) and "离" not in glosses
    tokens = english_tokens(tokenize("他离开了 OpenAI 的 data 团队"), glosses)
    assert stem("depart") in tokens and "openai" in tokens and stem("data") in tokens
    assert english_query("Why did he depart from the company?") == [stem("depart"), stem("company")]


def test_chinese_names_are_split_by_whether_the_texts_mention_them():
    present, absent = chinese_names(
        ["百度和英伟达都做大模型，谷歌也是", "google 的模型", "小米做手机很成功"], ["google"]
    )
    assert {"华为", "北京"} <= set(absent)  # proper nouns (capitalised pinyin in CEDICT) not in the texts
    assert not {"百度", "英伟达", "谷歌"} & set(absent)  # in the texts, or named in English (谷歌 = Google)
    assert "模型" not in absent and "模型" not in present  # not a proper noun
    assert present["百度"] == [] and present["谷歌"] == ["google"]  # with the English names the texts use
    assert not {"小米", "成功"} & present.keys()  # also common words (millet, success): no names when written


def test_irregular_forms_of_the_corpus_glosses_are_kept():
    inflections = build_inflections(["领导", "容易"])  # to lead, easy
    assert inflections["led"] == "lead" and inflections["easier"] == "easy"
    assert "leads" not in inflections  # a regular form: its stem already meets lead's
    assert "drew" not in inflections  # no gloss of these words is "draw"


@pytest.mark.parametrize(
    "british, american_",
    [
        ("neighbours", "neighbor"),
        ("colour", "color"),
        ("behaviour", "behavior"),
        ("favourite", "favorite"),
        ("realised", "realized"),
        ("organisation", "organization"),
        ("analyse", "analyze"),
        ("centre", "center"),
        ("theatres", "theaters"),
        ("dialogue", "dialog"),
        ("defence", "defense"),
        ("programme", "program"),
    ],
)
def test_british_and_american_spellings_have_one_stem(british, american_):
    """A British, Indian or Australian transcript meets an American question and CEDICT's glosses."""
    assert stem(british) == stem(american_)


@pytest.mark.parametrize("word", ["hour", "four", "your", "tourist", "journey", "resources", "fence", "rise", "basis"])
def test_words_that_only_look_british_keep_their_spelling(word):
    from rag.translate import american

    assert american(word) == word


def test_a_name_and_its_chinese_transliteration_share_a_sound_key():
    """Consonants as Chinese writes a foreign name: voiced and voiceless alike, r as l, a syllable's
    final n or ng as n; every reading of a character counts."""
    readings = {"杨": ["yang"], "立": ["li"], "昆": ["kun"], "特": ["te"], "斯": ["si"], "拉": ["la"]}
    assert sound_key("Yann LeCun") == "NLKN" and "NLKN" in pinyin_sound_keys("杨立昆", readings)
    assert sound_key("Tesla") == "TSL" and pinyin_sound_keys("特斯拉", readings) == {"TSL"}
    assert pinyin_sound_keys("杨不昆", readings) == set()  # a character without a reading
    assert sound_key("Zuckerberg") == "SKLPLK" and sound_key("Quinn") == "KWN" and sound_key("Pichai") == "PC"


def test_unlisted_words_keep_foreign_names_and_chinese_shaped_names_only():
    """Words CC-CEDICT lacks: a transliteration (its characters those of CEDICT's foreign names), a
    surname and two characters; not a phrase (一两天) nor a word CEDICT lists (马斯克)."""
    kinds = unlisted_words(["奥特曼斯", "杨立昆", "一两天", "马斯克", "耍", "Altman"])
    assert kinds == {"奥特曼斯": "foreign", "杨立昆": "name"}


def test_words_are_found_in_text_as_by_trying_every_length_at_every_character():
    """Reading a word on only while it begins a wanted one finds what trying every length at every
    character finds: words inside words, overlapping ones, words at the ends of runs, runs shorter than
    the shortest word, characters outside the CJK block between them."""
    import random
    import re

    from rag.translate import _words_in_text

    def every_length(texts, wanted):
        shortest, longest = min(map(len, wanted)), max(map(len, wanted))
        found = set()
        for text in texts:
            for run in re.findall(rf"[\u3400-\u9fff]{{{shortest},}}", text):
                for i in range(len(run)):
                    found |= {
                        run[i:j] for j in range(i + shortest, min(len(run), i + longest) + 1) if run[i:j] in wanted
                    }
        return found

    rng = random.Random(3)
    alphabet = "英伟达三星马斯克特斯拉华为的了是在"
    for _ in range(200):
        wanted = {"".join(rng.choice(alphabet) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 30))}
        texts = ["".join(rng.choice(alphabet + " a1，") for _ in range(rng.randint(0, 80))) for _ in range(5)]
        assert _words_in_text(texts, wanted) == every_length(texts, wanted)
    assert _words_in_text(["马斯克特斯拉"], {"马斯克", "特斯拉", "斯克特", "马斯克特斯拉"}) == {
        "马斯克",
        "特斯拉",
        "斯克特",
        "马斯克特斯拉",
    }
