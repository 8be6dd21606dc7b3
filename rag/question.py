"""A question, read once: its language, search terms, translations, names and the kind of answer it asks for.

`analyse(text, index)` returns a `Question` that retrieval, answerability and answering read;
none of them looks at the raw text again.

English questions about Chinese transcripts share no words with them, so their words are
translated through CC-CEDICT (rag.translate), and Chinese names written in pinyin ("Zhu Xiaohu")
are looked up in the corpus by their characters' readings (朱啸虎).

Names are what the corpus must mention for a question to be covered, and what a figure the
question asks for must be said next to: Latin-script words that are capitalised or carry digits
(Sora, RLHF, GPT-5, H800), and Chinese proper nouns of CC-CEDICT (百度, 盘古).
A name is known when the transcripts or their titles write it (with any spacing or hyphen between
its letters and digits: GPT-4 = GPT4), or write a translation of it (NVIDIA -> 英伟达), or its
pinyin reading (Yang Zhilin -> 杨植麟). Foreign names that Chinese text transliterates (Ilya,
Altman) cannot be checked offline and are judged only when CC-CEDICT knows their Chinese form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from .conversation import dangling_reference
from .dates import Day, written_dates
from .index import Index
from .lexical import STOPWORDS, english_query, fold, is_chinese, tokenize, words
from .translate import MIN_SOUND_KEY, expand, glossary, is_pinyin, pinyin_splits, sound_key, stem

DENSE_TERMS = 5  # translated terms appended to an English question before embedding
GLOSS_TERMS = 8  # English glosses appended to a Chinese question embedded for English passages
_CJK = re.compile(r"[\u3400-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Words by which questions point at the recording rather than its content ("what does the guest
# think..."): translating them finds passages where the host says 嘉宾, not the answer.
DISCOURSE = frozenset(
    "guest guests host hosts speaker speakers author authors interviewer interviewee narrator episode "
    "podcast transcript transcripts article source sources".split()
)
# English words that ask rather than name what is asked about; they carry no topic for coverage.
_FUNCTION_WORDS = frozenset(
    "much many has have had having can could would should will shall may might must there here into onto "
    "than then them your you yours our ours not any all some such very more most less also just only even "
    "still yet other others another each every both either whether while since until before after because "
    "but nor own same too over under again once during between through above below out off per via".split()
)
# The same in Chinese questions ("嘉宾认为……", "作者为什么……"): whether the transcripts have these
# words says nothing of whether they cover the question.
DISCOURSE_ZH = frozenset(
    "嘉宾 主持人 作者 文中 文章 本文 说话人 讲者 节目 播客 访谈 采访 转录稿 材料 本期 这期 那期 听众 读者 "
    "这位 那位 此人 该人 他们 她们 大家".split()
)
# A number and its measure word (三位, 两个, 几次) counts, it names no topic.
_COUNT_WORD = re.compile(r"^[\d一二两三四五六七八九十百千万几多]+[个位名家种次条件项年天月周岁倍点只本部篇层重]?$")
_UNTRANSLATED = STOPWORDS | DISCOURSE
_NOT_CONTENT = _UNTRANSLATED | _FUNCTION_WORDS
# A Latin-script name: a word with a capital or a digit, compounds (GPT-4, Claude 3.5) kept whole.
_NAME = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*(?:[-.+][A-Za-z0-9]+)*(?:'s)?")
_VERSION = re.compile(r" \d+(?:\.\d+)*\b")  # Llama 3, Gemini 1.5: a name's version after a space
# Month names (and their abbreviations) begin dates, not names: "July 10", "Sept 2023".
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_PINYIN_RUN = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")  # Yang Zhilin, Li Zhifei

# What kind of answer a question asks for, by its wording. "amount" and "date" questions are
# only answerable when the evidence gives a figure or a time (rag.answerability).
KINDS = {
    "amount": re.compile(
        # not "however much" (给多少钱都不值得, no matter how much): a concession asks for no figure
        r"多少(?![^，,。？?！!]{0,6}?[都也])|几(?:个|张|家|倍|次|年|成|天|月)|多大|多高|多长|多久|多贵|估值是|价格是|售价|参数量|"
        r"(?<!matter )\bhow (?:much|many|big|large|long|expensive)\b|"
        r"\bwhat (?:is |was |are |were )?(?:the |its |their )?(?:[\w']+ )?(?:price|valuation|revenue|amount|size|number|"
        r"cost|salary)s?\b|\bwhat (?:share|percentage|proportion|fraction) of\b",
        re.I,
    ),
    "date": re.compile(
        r"什么时候|何时|哪一?年|哪天|几月|^\s*when\b|[,;，；]\s*when\b|"
        r"\bwhen (?:did|does|do|was|were|is|are|will|has|have)\b|\bwhat (?:year|date|month|day)\b",
        re.I,
    ),
    "reason": re.compile(
        r"为什么|为何|为啥|原因|根源|缘故|怎么会|凭什么|\bwhy\b|\breasons?\b|\bhow come\b|\broot cause", re.I
    ),
    "person": re.compile(r"是谁|哪位|\bwho\b", re.I),
    "example": re.compile(r"例子|举.{0,3}例|什么例|\bexamples?\b|\binstances? of\b", re.I),
}

# An amount of money is asked for. How far a cost fell is a share (三成, 30%) as well; how long
# something took (花了多长时间) is a duration.
_MONEY_ASKED = re.compile(
    r"钱|价|估值|融资|收入|营收|成本|投资|花了|"
    r"\b(?:costs?|prices?|pay|paid|valuations?|revenues?|raised?|invest(?:ed|ment)?|funding|spend|spent|money)\b",
    re.I,
)
_CHANGE_ASKED = re.compile(
    r"降|涨|增长|下降|提高|减少|增加|\b(?:fall|fell|drop|rise|rose|grow|grew|cut|increase|decrease)", re.I
)
_DURATION_ASKED = re.compile(
    r"多长时间|多久|多少(?:天|年|个月|周|小时|分钟)|\bhow long\b|\bhow many (?:days|weeks|months|years|hours)", re.I
)

# Words by which a question speaks of an episode ("On the July 10 market show", "7月10日那期"): a date
# next to one is the episode's date; without one it may be the date of an event the episode discusses.
# "Show" only as a noun: at the end of a clause or before on/from/of ("the July 10 market show,"),
# not the verb of "what did the data show in March 2023".
_EPISODE_WORDS = re.compile(
    r"\b(?:episode|podcast|broadcast|programme|interview|recording|livestream)s?\b"
    r"|\bshows?\b(?=\s*(?:[,.?!;:)]|$|\s(?:on|from|of|notes)\b))|节目|那期|这期|一期|播客|访谈|直播",
    re.I,
)


@dataclass(frozen=True)
class Name:
    """A name the question uses, and the forms in which the corpus writes it (empty when unknown)."""

    text: str
    forms: tuple[str, ...]
    judged: bool = True  # False: a name the corpus could write in a form that cannot be checked

    @property
    def known(self) -> bool:
        return bool(self.forms) or not self.judged


@dataclass(frozen=True)
class Question:
    """Everything later stages need to know about a question."""

    text: str
    lang: str  # "zh" or "en": the language of the answer and of the labels
    cross_lingual: bool  # an English question about transcripts that may be Chinese
    tokens: tuple[str, ...]  # BM25 terms of the text itself
    translations: tuple[tuple[str, float], ...]  # Chinese terms for its English words and pinyin names
    dense_text: str  # what gets embedded to meet Chinese passages
    gloss_terms: tuple[str, ...]  # stems of its English words, for the gloss index
    names: tuple[Name, ...]
    coverage: float  # share of its content words that the corpus has (English words, Chinese words)
    missing: tuple[str, ...]  # its content words that the corpus lacks
    kind: str  # "amount", "date", "reason", "person", "example" or "other"
    searched: str = ""  # a follow-up's standalone form, when the conversation changed it (rag.conversation)
    focus: tuple[str, ...] = ()  # a follow-up's own terms ("and Meta?": meta), which its answer should speak of
    # How it meets English passages: the text embedded (an English question as it is; a Chinese one
    # followed by CEDICT's English glosses of its words), and stems for the English index, weighted.
    dense_text_en: str = ""
    # A Chinese question's English glosses alone (all that CEDICT gives and English passages use),
    # embedded beside dense_text_en and averaged with it: undiluted by the Chinese, they meet English
    # passages closer, while dense_text_en keeps the question's names and figures.
    glosses_en: str = ""
    english_terms: tuple[tuple[str, float], ...] = ()
    holder: str = ""  # whose view or words the question asks for ("李志飞怎么看…", "What does Seth Godin think…")
    counted: frozenset[str] = (
        frozenset()
    )  # what an amount question counts (员工 for 有多少员工), as a sentence writes it
    asks_money: bool = False  # an amount question about money: only a sum of money answers it
    glossary: tuple[tuple[str, tuple[str, ...]], ...] = ()  # its English words and phrases, and their Chinese terms
    voices: tuple[str, ...] = ()  # speakers the transcripts' speaker lines name whom it names (lower-cased)
    points_back: str = ""  # the word by which it leans on a conversation it may lack ("who led it?": it)
    name_runs: tuple[
        str, ...
    ] = ()  # names of two or more capitalised words ("Vision Pro"), whose words may each be written apart
    days: tuple[Day, ...] = ()  # the dates it writes ("the July 10 show"), which may name an episode by its date
    of_episode: bool = False  # it speaks of an episode ("show", "节目"): its dates are an episode's

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(n.text for n in self.names if not n.known)

    def lexical_terms(self, translation_weight: float = 1.0) -> list[tuple[str, float]]:
        """BM25 terms with weights: its own tokens, then translations it does not already have."""
        seen = set(self.tokens)
        return [(t, 1.0) for t in self.tokens] + [
            (t, w * translation_weight) for t, w in self.translations if t not in seen
        ]

    def with_expansion(self, expansion: str) -> Question:
        """The question searched also by `expansion` (an LLM's Chinese rendering of it)."""
        expansion = " ".join(expansion.split())
        if not expansion:
            return self
        extra = tuple((t, 1.0) for t in dict.fromkeys(tokenize(expansion)))
        return replace(self, translations=self.translations + extra, dense_text=f"{self.dense_text} {expansion}")


def language(text: str) -> str:
    """'zh' when a fair share of the letters are Chinese characters, else 'en'."""
    return "zh" if is_chinese(text) else "en"


def kind_of(text: str) -> str:
    return next((k for k, pattern in KINDS.items() if pattern.search(text)), "other")


def analyse(text: str, index: Index, translate_dense: bool = True) -> Question:
    """Read a question against an index's vocabulary and dictionaries."""
    lang, kind, holder = language(text), kind_of(text), holder_of(text)
    cross = lang == "en" and bool(_LATIN_WORD.search(text))
    names = tuple(_names(text, index, cross))
    glossed = glossary(text, index.lexicon, _UNTRANSLATED) if _LATIN_WORD.search(text) else []
    translations: dict[str, float] = {}
    for _, cands in glossed:  # each word's Chinese candidates share a weight of one (rag.translate.expand)
        for c in cands:
            translations[c] = max(translations.get(c, 0.0), 1.0 / len(cands) ** 0.5)
    for name in names:  # a pinyin name found in the corpus (杨植麟) searches like a translation
        for form in name.forms:
            if _CJK.match(form) and form != name.text:
                for token in tokenize(form):
                    translations[token] = 1.0
    glosses = _forward_glosses(text, index) if lang == "zh" and index.forward else {}
    coverage, missing = _coverage(text, index, names, glosses)
    dense_text = text
    if translate_dense and cross:
        ranked = sorted(translations.items(), key=lambda tw: -tw[1])  # stable: ties keep question order
        dense_text = " ".join([text, *[t for t, w in ranked if w >= 0.5][:DENSE_TERMS]])
    english_terms: dict[str, float] = dict.fromkeys(english_query(text, DISCOURSE), 1.0)
    for parts in glosses.values():  # a Chinese word's glosses share one weight
        stems = {stem(w) for part in parts for w in re.findall(r"[a-z]+", part)} - {stem(w) for w in STOPWORDS}
        stems &= index.forward_stems
        for s in stems:
            english_terms[s] = max(english_terms.get(s, 0.0), 1 / len(stems) ** 0.5)
    dense_text_en = " ".join([text, *dict.fromkeys(parts[0] for parts in glosses.values())][: GLOSS_TERMS + 1])
    glosses_en = " ".join(dict.fromkeys(part for parts in glosses.values() for part in parts))
    return Question(
        text=text,
        lang=lang,
        cross_lingual=cross,
        tokens=tuple(_with_corpus_words(tokenize(text), text, index)),
        translations=tuple(translations.items()),
        dense_text=dense_text,
        gloss_terms=tuple(english_query(text, DISCOURSE)) if cross else (),
        names=names,
        coverage=coverage,
        missing=missing,
        kind=kind,
        dense_text_en=dense_text_en,
        glosses_en=glosses_en,
        english_terms=tuple(english_terms.items()),
        holder=holder,
        counted=_counted(text, index) if kind == "amount" else frozenset(),
        name_runs=tuple(_name_runs(text, names)),
        days=tuple(sorted(written_dates(text), key=str)),
        of_episode=bool(_EPISODE_WORDS.search(text)),
        points_back=dangling_reference(text) or "",
        voices=_voices(text, holder, index),
        glossary=tuple((words_, tuple(cands)) for words_, cands in glossed),
        asks_money=(
            kind == "amount"
            and bool(_MONEY_ASKED.search(text))
            and not _CHANGE_ASKED.search(text)
            and not _DURATION_ASKED.search(text)
        ),
    )


def _voices(text: str, holder: str, index: Index) -> tuple[str, ...]:
    """The speakers of speaker-tagged transcripts whom the question names, or whose view it asks for."""
    text, holder = fold(text.lower()), fold(holder.lower())
    names = dict.fromkeys(index.speakers.values())
    return tuple(name for name in names if name in text or (holder and holder in name))


# Capitalised words in a row, joined by a space: a possessive or punctuation ends the run
# ("Apple's Vision Pro" is Apple and Vision Pro).
_RUN = re.compile(r"(?<![\w'])[A-Z][A-Za-z0-9]*(?: [A-Z][A-Za-z0-9]*)+(?![\w'])")


def _name_runs(text: str, names: tuple[Name, ...]) -> list[str]:
    """Multi-word names all of whose words the question's names found written: the run as a whole
    may still be unwritten (the corpus writes Vision and Pro, never Vision Pro)."""
    written = {n.text for n in names if n.forms}
    return [m.group() for m in _RUN.finditer(text) if all(w in written for w in m.group().split())]


# Questions that ask for someone's view or words: the person is the holder.
_PERSON = r"[A-Z][\w.\-']*(?: [A-Z][\w.\-']*){0,3}"
_HOLDER = [
    re.compile(
        r"^\s*(?:那么|那|请问)?(?:为什么|为何|凭什么)?(?P<x>"
        + _PERSON
        + r"|[^\s，,。？?、“”\"A-Za-z]{2,12}?)\s*(?:是)?"
        r"(?:怎么看|如何看待?|怎么评价|如何评价|怎么说|认为|觉得|"
        r"对[^，。？?]{1,20}?(?:怎么看|的看法|的态度|怎么评价|有什么看法|持什么态度))"
    ),
    re.compile(r"在(?P<x>" + _PERSON + r"|[^\s，,。？?、“”\"A-Za-z]{2,12}?)\s*看来"),
    re.compile(
        r"\b(?i:what) (?i:does|did|do) (?P<x>" + _PERSON + r") (?i:think|say|believe|feel|make of|suggest|recommend)\b"
    ),
    re.compile(
        r"\b(?i:how) (?i:does|did) (?P<x>" + _PERSON + r") (?i:see|view|describe|explain|feel about|think about)\b"
    ),
    re.compile(r"\b(?i:according to|in the view of) (?P<x>" + _PERSON + r")\b"),
    # what a named person says or advises: "Ryan Bell 说…", "Ryan Bell 有什么建议", "What advice does Ryan Bell give"
    # (a name in Latin letters only: "为什么说" would make 为什么 a person)
    re.compile(
        r"(?P<x>" + _PERSON + r")\s*(?:说(?![明法服]|不定)|讲(?![究座])|提到|推荐|建议|有什么建议|给了?什么建议|的建议)"
    ),
    re.compile(
        r"\b(?i:what) (?i:advice|tips?|recommendations?|lessons?) (?i:does|did|do) (?P<x>"
        + _PERSON
        + r") (?i:give|offer|have|share|draw)\b"
    ),
]
_NOT_HOLDERS = frozenset("大家 我们 你们 他们 作者 嘉宾 主持人 节目 这期 本期 the guest the host the author".split())


def _with_corpus_words(tokens: list[str], text: str, index: Index) -> list[str]:
    """The question's tokens and the longer words of the transcripts' vocabulary written inside it:
    jieba cuts an unknown name by its context (评价杨立昆的 gives 杨立 + 昆 where the transcript's
    杨立昆最近 gives 杨立昆), so a name the corpus has is found in the question as the corpus cut it."""
    have = set(tokens)
    found = []
    for run in _CJK_RUN.findall(fold(text.lower())):
        for n in range(3, min(len(run), 6) + 1):
            for i in range(len(run) - n + 1):
                piece = run[i : i + n]
                if piece not in have and piece in index.bm25.vocab and not any(piece in t for t in have):
                    found.append(piece)
                    have.add(piece)
    return tokens + found


def holder_of(text: str) -> str:
    """The person a question asks the view or words of ("李志飞对DeepSeek怎么看？": 李志飞), or ""."""
    for pattern in _HOLDER:
        if (m := pattern.search(text)) and m.group("x")[:1] not in "你我他她它这那":
            if not any(m.group("x").lower().startswith(w) for w in _NOT_HOLDERS):  # 节目里怎么评价… asks no one
                return m.group("x").strip()
    return ""


def _forward_glosses(text: str, index: Index) -> dict[str, list[str]]:
    """CEDICT's English glosses of a Chinese question's content words that English passages use
    (rag.translate.build_forward): 直觉 -> [intuition]."""
    out = {}
    for word in words(text):
        if len(word) < 2 or word in STOPWORDS or word in DISCOURSE_ZH or KINDS_WORDS.search(word):
            continue
        if parts := index.forward.get(word):  # "" for a word CEDICT knows whose glosses English passages lack
            out[word] = parts.split("|")
    return out


def _names(text: str, index: Index, cross: bool) -> list[Name]:
    out: list[Name] = []
    covered: list[tuple[int, int]] = []
    for m in _PINYIN_RUN.finditer(text):  # pinyin names first: "Zhu Xiaohu" is one name, not two
        parts = m.group().split()
        if all(is_pinyin(p, index.pinyin) for p in parts):
            # written as it is (an English transcript's Dana Lee), or in the characters it reads as
            forms = (m.group(),) if index.mentions(m.group()) else _pinyin_forms(parts, index)
            out.append(Name(m.group(), forms, judged=False))
            covered.append(m.span())
    latin: list[tuple[int, int, int]] = []  # (start, end, place in `out`) of the names judged below
    for m in _NAME.finditer(text):
        if any(s <= m.start() < e for s, e in covered):
            continue
        name = re.sub(r"'s$", "", m.group())
        if name.lower() in _MONTHS or re.fullmatch(r"(?:\d{2}){1,2}s", name):
            continue  # a date ("July 10", "the 1990s", "90s"), which the figure and date checks read
        if (v := _VERSION.match(text, m.end())) and name[:1].isupper() and name.lower() not in STOPWORDS:
            name += v.group()
        has_digit = any(ch.isdigit() for ch in name)
        has_upper = any(ch.isupper() for ch in name)
        if len(name) < 2 or name.lower() in STOPWORDS or name.isdigit():
            continue
        if not (has_digit or has_upper):
            continue  # a lower-case word is a word, not a name, in either language
        first_word = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in ".?!:;\"'“"
        if cross and not has_digit and (first_word or len(name) < 3):
            continue  # a capitalised first word is an ordinary word; "Li" is too short to judge
        latin.append((m.start(), m.start() + len(name), len(out)))
        out.append(_judge(name, index, cross))
    if cross:
        out = _sounded_runs(text, out, latin, index)
    out = _titles(text, out, latin, index)
    # Chinese proper nouns of CEDICT, made of whole words of the question: jieba splits some names
    # (字节 + 跳动), and a name inside a word (子产 in 电子产品) is none. Those the corpus never mentions
    # (盘古) are unknown; those it writes (百度) are known, in characters or by their English name.
    segmented = words(text)
    spans = dict.fromkeys("".join(segmented[i : i + n]) for n in (1, 2, 3) for i in range(len(segmented) - n + 1))
    out += [Name(w, ()) for w in spans if w in index.absent_names]
    out += [Name(w, (w, *index.present_names[w])) for w in spans if w in index.present_names]
    known = {n.text for n in out}
    out += [Name(w, forms) for w, forms in _misheard(text, index) if w not in known]
    return out


# Characters of grammar and common verbs, which names do not hold (的, 是, 什么, 哪, 会, 说…)
_FUNCTION_CHARS = frozenset(
    "的是了在有和就不都一个上也很到说要去你我他她它们会着没看好这那么什哪谁吗呢吧啊时为于与及等之把被让给从对向"
    "种些每多少几怎样如何呀嘛啦哦得地过来出起能可以应该而且但还又再才最更太非常已经自己做作用"
)


def _misheard(text: str, index: Index) -> list[tuple[str, tuple[str, ...]]]:
    """Three characters of the question that the transcripts never write, where they write the same
    sounds with one character changed: a name as speech recognition heard it (岩田聪 as 炎田聪). Three
    characters, as most Chinese names have (with two, every word has homophones), none of grammar,
    and not a word of the transcripts with a character beside it."""
    runs = [run for run in _CJK_RUN.findall(fold(text)) if len(run) >= 3]
    if not runs:
        return []  # an English question: nothing to look up by sound
    corpus, same, vocab = index.corpus_text, index.homophones, index.bm25.vocab
    out = []
    for run in runs:
        for i in range(len(run) - 2):
            window = run[i : i + 3]
            if not all(ch in same and ch not in _FUNCTION_CHARS for ch in window):
                continue
            if window[:2] in vocab or window[1:] in vocab or window in corpus:
                continue  # a word of the transcripts and a character beside it (模型 + 底), or written
            patterns = [window[:j] + f"[{same[window[j]].replace(window[j], '')}]" + window[j + 1 :] for j in range(3)]
            if forms := tuple(dict.fromkeys(f for p in patterns if "[]" not in p for f in re.findall(p, corpus))):
                out.append((window, forms))
    return out


def _titles(text: str, names: list[Name], spans: list[tuple[int, int, int]], index: Index) -> list[Name]:
    """The names less the words of titles: in a run of capitalised words of which the transcripts
    write one (Indian National Security Adviser, where they write "Indian"), an ordinary word that
    begins names in CC-CEDICT (National: rag.translate.ordinary_names) is a title's word, not a name
    the transcripts must write in any spelling."""
    if not index.ordinary_names:  # an archive without English passages keeps none
        return names
    titles: set[int] = set()
    runs: list[list[tuple[int, int, int]]] = []
    for span in spans:
        if runs and text[runs[-1][-1][1] : span[0]] == " ":
            runs[-1].append(span)
        else:
            runs.append([span])
    for run in runs:
        # written as it is: `_judge` found it so (index.mentions), its only form itself
        if len(run) >= 2 and any(names[k].forms == (names[k].text,) for *_, k in run):
            titles |= {k for *_, k in run if not names[k].forms and names[k].text.lower() in index.ordinary_names}
    return [n for k, n in enumerate(names) if k not in titles]


def _sounded_runs(text: str, names: list[Name], spans: list[tuple[int, int, int]], index: Index) -> list[Name]:
    """Names of two or three words that only together sound like a word of the transcripts (Yann
    LeCun, 杨立昆): each word of the run takes that word as its form."""
    out = list(names)
    for size in (3, 2):
        for i in range(len(spans) - size + 1):
            run = spans[i : i + size]
            if any(out[k].forms for *_, k in run) or any(b[0] - a[1] != 1 for a, b in pairwise(run)):
                continue
            if forms := _sounded(text[run[0][0] : run[-1][1]], index, whole=True):
                for *_, k in run:
                    out[k] = Name(out[k].text, forms)
    return out


def _sounded(name: str, index: Index, whole: bool = False) -> tuple[str, ...]:
    """The words of the transcripts that CC-CEDICT does not list and that sound like a foreign name
    (rag.translate.sound_key: its consonants against their pinyin's), when it has enough consonants
    to tell: Chinese transliterates names CEDICT lacks. A word counts when it is written with the
    characters of foreign names (奥特曼); a whole name (`whole`: first and last) also finds a Chinese
    name of its sound (Yann LeCun: 杨立昆, and 杨乐坤 as speech recognition heard it)."""
    key = sound_key(name)
    if len(key) < MIN_SOUND_KEY:
        return ()
    return tuple(w for w, kind in index.sound_keys.get(key, ()) if kind == "foreign" or whole)


def _judge(name: str, index: Index, cross: bool) -> Name:
    """Where the corpus writes a Latin-script name, if anywhere."""
    if index.mentions(name) or (name.endswith("s") and index.mentions(name[:-1])):  # GPUs -> GPU
        return Name(name, (name,))
    if any(ch.isdigit() for ch in name):
        # a version (GPT-5, H800, Llama 3) is only known as written, or as speech recognition heard it
        return Name(name, (heard,) if (heard := index.heard_as(name)) else ())
    # In a compound (ChatGPT-style) the parts that look like names are judged.
    parts = [p for p in re.split(r"[-.+]", name) if p[:1].isupper()]
    if len(parts) >= 1 and parts != [name]:
        judged = [_judge(p, index, cross) for p in parts]
        if not all(j.known for j in judged):
            return Name(name, ())
        return Name(name, tuple(f for j in judged for f in j.forms), all(j.judged for j in judged))
    if is_pinyin(name, index.pinyin) and (forms := _pinyin_forms([name], index)):
        return Name(name, forms)  # a Chinese name in pinyin, in the characters the transcripts use (Yuxin -> 雨昕)
    lower = name.lower()
    keys = {lower, stem(lower), lower.removesuffix("s")}  # GPUs -> gpu, which Snowball leaves
    if written := [w for k in keys for w in index.names.get(k, [])]:
        return Name(name, tuple(dict.fromkeys(written)))
    if translated := [t for t, _ in expand(name, index.lexicon, STOPWORDS)]:
        return Name(name, tuple(translated))
    if cross and is_pinyin(name, index.pinyin):
        return Name(name, (), judged=False)  # a Chinese name in pinyin that no run of characters matched
    if cross and (sounded := _sounded(name, index)):
        return Name(name, sounded)
    # A foreign name written as a word (Ilya, Altman, Moonshot): Chinese text transliterates or
    # translates such names, so it is judged only when CC-CEDICT knows its Chinese form. Acronyms,
    # mixed case and digits (TSMC, CoWoS, H800) stay in Latin script in Chinese text, and in a
    # Chinese question a Latin name is written as a Chinese corpus would write it. English passages
    # write such a name as speech recognition heard it (Tabarrok as Stabarrok), whatever the
    # question's language: in an archive with English passages it is judged as for an English question.
    titlecase_word = (cross or index.has_english) and name.isalpha() and name[0].isupper() and name[1:].islower()
    return Name(name, (), judged=not titlecase_word or any(k in index.names for k in keys))


def _pinyin_forms(parts: list[str], index: Index) -> tuple[str, ...]:
    """Runs of Chinese characters in the corpus whose readings spell the pinyin words (杨植麟 for
    Yang Zhilin). Every way of splitting the words into syllables is tried."""
    readings = index.readings
    found: dict[str, None] = {}
    for syllables in pinyin_splits("".join(p.lower() for p in parts), index.pinyin):
        if len(syllables) < 2 or not all(readings.get(s) for s in syllables):
            continue  # a syllable no character of the corpus reads as (Huang as hu + ang: none reads ang)
        pattern = "".join(f"[{readings[s]}]" for s in syllables)
        found.update(dict.fromkeys(re.findall(pattern, index.corpus_text)))
    return tuple(found)


def _coverage(
    text: str, index: Index, names: tuple[Name, ...], glosses: dict[str, list[str]]
) -> tuple[float, tuple[str, ...]]:
    """The share of the question's content words that the corpus has, as written or translated,
    and the words it lacks.

    English words count when the corpus has them, or a CC-CEDICT gloss of one of its words (stay
    for 待), or a translation, in any form (led for lead); names count as their Name says. Chinese words (jieba's precise
    segmentation, two characters or more) count when the corpus text contains them: a substring
    test, so a segmentation that differs from the corpus's only counts against a word that is truly absent
    (or said with a particle between its two characters, `_said_apart`);
    Traditional and Simplified characters count as one) or when English passages use one of its
    CEDICT glosses (`glosses`: 直觉 for intuition). Words that point at the recording (guest, 嘉宾,
    作者) are not checked.
    """
    named = {n.text for n in names}
    checked: list[tuple[str, bool]] = [(n.text, n.known) for n in names]
    vocab, glossed = index.bm25.vocab, index.bm25_en.vocab  # glossed: stems of the corpus words' CEDICT glosses
    for word in re.findall(r"[A-Za-z]+", text):
        if len(word) < 3 or word.lower() in _NOT_CONTENT or any(word in n for n in named):
            continue
        forms = {word.lower(), index.inflections.get(word.lower(), word.lower())}  # led: lead
        checked.append(
            (
                word,
                any(k in vocab or stem(k) in vocab or stem(k) in glossed for k in forms)
                or any(expand(k, index.lexicon, STOPWORDS) for k in forms),
            )
        )
    for word in words(text):
        if (
            len(word) < 2
            or word in STOPWORDS
            or word in DISCOURSE_ZH
            or word in named
            or KINDS_WORDS.search(word)
            or _COUNT_WORD.match(word)
        ):
            continue
        if word in index.corpus_text or word in glosses or _said_apart(word, index.corpus_text):
            checked.append((word, True))
        elif not index.forward or word in index.forward:
            # In an archive of both languages a word that CEDICT does not know (盖楼, a segmentation
            # such as 说往) could be said in English in any words: it is not judged.
            checked.append((word, False))
    distinct = dict(checked)  # a word counts once, however often the question says it
    if not distinct:
        return 1.0, ()
    missing = tuple(dict.fromkeys(w for w, ok in checked if not ok))
    return sum(distinct.values()) / len(distinct), missing


def _said_apart(word: str, text: str) -> bool:
    """Whether the text says a word of two Chinese characters with a structural particle between
    them, as speech does: 坏事 as "坏的事情", 好人 as "好的人" (not a measure word: 一共 is no 一个共识)."""
    return len(word) == 2 and re.search(f"{re.escape(word[0])}[的地得之]{re.escape(word[1])}", text) is not None


# Chinese words that ask rather than name (什么时候, 多少, 为什么): not content.
KINDS_WORDS = re.compile(
    r"^(?:什么|怎么|怎样|为什么|为何|多少|哪些|哪个|哪里|哪儿|哪位|哪几|几位|几个|是不是|有没有|如何|是否|认为|看待|"
    r"觉得|说明|提到|时候|最能|分别|各是)"
)


# What an amount question counts: "有多少员工" and "how many employees" count employees, "市值是多少"
# counts market value. A figure answers it only when said of that. A generic measure (规模, 长度)
# stands for the word before it: "用户规模" counts users, "上下文长度" measures the context.
_COUNTED_AFTER = re.compile(r"(?:多少|几)(?:个|张|家|位|名|种|款|次|块|条)?([\u3400-\u9fff]+)")
_COUNTED_BEFORE = re.compile(r"([\u3400-\u9fff]+)多少\s*[？?。！!]?\s*$")
_COUNTED_EN = re.compile(r"\bhow (?:many|much) ([a-z][a-z-]*)", re.I)
_GENERIC_MEASURES = frozenset("规模 数量 长度 大小 数字 数目 程度 时间 量 人 people time times".split())
_NOT_COUNTED = frozenset(
    "是 有 会 会有 达到 了 为 能 的 要 一共 总共 大概 到底 究竟 各 各自 各是 分别 "
    "does did do is are was were of the a".split()
)


# Units of one character, which CEDICT's forward glosses (words of two to six) leave out: "多少天"
# counts days. Matched inside English words: day in "22 days", time in "three times".
_UNIT_GLOSSES = {
    "天": "day",
    "年": "year",
    "月": "month",
    "周": "week",
    "岁": "year",
    "次": "time",
    "倍": "time",
    "层": "floor",
    "元": "yuan|dollar",
    "块": "yuan|dollar|buck",
    "本": "book",
    "篇": "article|paper",
}


def _counted(text: str, index: Index) -> frozenset[str]:
    """What an amount question counts, as the words (or, for English, the words and their Chinese
    translations) a sentence that gives its figure would contain; empty when the wording does not
    say, or says only a generic measure with nothing before it."""
    found = []
    for m in _COUNTED_AFTER.finditer(text):
        after = [w for w in words(m.group(1)) if w not in _NOT_COUNTED]
        if after and after[0] not in _GENERIC_MEASURES:
            found.append(after[0])
    if not found and (m_before := _COUNTED_BEFORE.search(text)):
        before = [w for w in words(m_before.group(1)) if w not in _NOT_COUNTED]
        while before and before[-1] in _GENERIC_MEASURES:
            before.pop()
        found += before[-1:]
    terms = set(found)
    for m in _COUNTED_EN.finditer(text):
        word = m.group(1).lower()
        if word in _NOT_COUNTED or word in _GENERIC_MEASURES:
            continue
        terms |= {word, word.removesuffix("s")} | {t for t, _ in expand(word, index.lexicon, STOPWORDS)}
    for word in found:  # said in English passages by one of CEDICT's glosses (面积: area), or a unit's (天: day)
        glosses = index.forward.get(word, "") or (_UNIT_GLOSSES.get(word, "") if index.forward else "")
        terms |= {w for part in glosses.split("|") for w in part.split() if w not in STOPWORDS}
    return frozenset(t.lower() for t in terms if t)
