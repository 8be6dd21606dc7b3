"""Whether the retrieved evidence answers a question, and if not, why: one decision, made here.

`judge(question, hits, evidence, index)` returns a `Verdict`. The engine, the CLI's `eval`,
scripts and tests call it; none of them repeats a rule. A question is refused when

1. it names something the transcripts never mention (rag.question: names are checked as the
   transcripts write them, through CC-CEDICT translations and pinyin readings, titles included),
   or it points back at a conversation it was not asked in ("who led it?" on its own);
2. it asks for a figure or a date (`Question.kind`) and no sentence of the best passages that
   speaks of what it asks about gives one;
3. it is off the transcripts' topics: too few of its content words are in the corpus (a question
   of two needs both), or its closest passage is far below what answerable questions reach.

The limits are named below, each with the margin it was chosen with (README, "Abstention").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .index import Index
from .lexical import fold, is_chinese
from .question import Question
from .retrieval import Evidence, Filter, Hit
from .translate import stem

# A question is off-topic when fewer than MIN_COVERAGE of its content words occur in the corpus
# (as written, glossed or translated), or when even its closest passage is under MIN_DENSE (cosine
# of e5-small vectors; cross-lingual pairs score lower, hence one floor per language) and it names
# nothing the transcripts write. Cosines of answerable and off-topic questions overlap (0.84-0.88),
# so the floors are only a safety net for what coverage misses. MIN_FIGURE_SUPPORT: see `figure_support`. All four were chosen by
# leave-one-set-out cross-validation over the labelled sets (scripts/answerability.py, README).
MIN_COVERAGE = 0.55
MIN_DENSE = {"zh": 0.84, "en": 0.79}
MIN_FIGURE_SUPPORT = 0.05
FIGURE_FROM = 6  # best passages searched for the figure or date a question asks for
_CUT = re.compile(r"[,，;；:：、]\s*$")  # a passage that ends here ends inside a sentence
HOLDER_FROM = 3  # best passages, one of which must come from an episode of the person whose view is asked

# A figure: Arabic, Chinese or English numerals with what they count, a percentage or a multiple, or a
# number of two digits or with a decimal point (2.9, 13, 2255.25点). Matched against text folded to
# Simplified characters and NFKC (full-width digits and ％ as half-width).
_NUM = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万亿几半]+)"
_EN_NUM = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|a few|several|a couple of|dozens? of|half)"
)
FIGURE = re.compile(
    rf"{_NUM}\s*(?:%|倍|成|亿|万|千|百|美金|美元|刀|元|块|人民币|个|家|张|款|次|年|个月|月|周|天|小时|分钟|秒|岁|"
    rf"token|tokens|[bBtTkKmM]\b|billion|million|thousand|dollars?|percent)|[$￥]\s*\d|\d{{2,}}|\d\.\d|"
    rf"\b{_EN_NUM}(?:[ -](?:and a half|and a quarter|or so))?[ -](?:years?|months?|weeks?|days?|hours?|minutes?|"
    rf"seconds?|percent|times|people|employees|users|customers|dollars|bucks|millions?|billions?|thousands?|"
    rf"hundreds?)\b",
    re.I,
)
DATE = re.compile(
    r"\d{4}\s*年|[一二三四五六七八九〇零]{2,4}年|\d{1,2}\s*月|[一二三四五六七八九十]{1,2}月份?|去年|今年|前年|明年|"
    r"\b(?:19|20)\d{2}\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
MONEY = re.compile(rf"{_NUM}\s*(?:亿|万|千)?\s*(?:美金|美元|刀|元|块|人民币|dollars?|billion|million)|[$￥]\s*\d")
ASKED = {"amount": FIGURE, "date": DATE}


@dataclass(frozen=True)
class Verdict:
    """Answer or refuse; `reasons` says why a refusal was made, in the question's language."""

    answerable: bool
    reasons: list[str] = field(default_factory=list)


def judge(
    question: Question, hits: list[Hit], evidence: Evidence, index: Index, where: Filter | None = None
) -> Verdict:
    """Whether the hits answer the question (see the module docstring for the rules)."""
    say = _MESSAGES[question.lang]
    if not hits and where:
        return Verdict(False, [say["filter"].format(where.describe())])
    reasons = []
    unknown = question.unknown_names
    if hits and not is_chinese(hits[0].text):
        # A name Chinese text might transliterate is judged after all when English passages answer:
        # they would write it as the question does, or as speech recognition misheard it (Tabarrok
        # as Stabarrok, Adviser as Advisors).
        unknown += tuple(
            n.text for n in question.names if not n.forms and not n.judged and index.spelled_like(n.text) is None
        )
        # and a name of several words must be written as one, not word by word apart
        unknown += tuple(run for run in question.name_runs if not index.mentions(run))
    if unknown:
        reasons.append(say["names"].format(", ".join(unknown)))
    if not question.searched and not question.names and question.points_back:
        reasons.append(say["context"].format(question.points_back))  # a follow-up asked without its conversation
    lang = question.lang
    if question.coverage < MIN_COVERAGE:
        if words_missing := [w for w in question.missing if w not in unknown]:  # names are said above
            reasons.append(say["words"].format(", ".join(words_missing)))
    elif evidence.dense_top < MIN_DENSE[lang] and not written_names(question):
        reasons.append(say["far"].format(question.text))
    if not reasons and question.holder and not voiced(question, hits, index):
        reasons.append(say["holder"].format(question.holder))
    if not reasons and question.kind in ASKED and figure_support(question, hits, index) < MIN_FIGURE_SUPPORT:
        reasons.append(say[question.kind])
    return Verdict(not reasons, reasons)


def voiced(question: Question, hits: list[Hit], index: Index) -> bool:
    """Whether one of the best passages comes from an episode that writes the person whose view the
    question asks for (in its text, title or speakers) and speaks of what is asked of them. True when the archive never writes them (nothing to tell
    by) or every episode does: "李志飞对DeepSeek怎么看？" is not answered by another speaker's DeepSeek."""
    theirs = holders_episodes(question, index)
    if not theirs:
        return True
    holder = fold(question.holder.lower())
    own = {t for t in question.tokens if t in holder} | {holder}  # the question's terms that name them
    share = TermShare(question, index, leave_out=own)  # what is asked of them, not their name
    return any(
        h.source in theirs and share(fold(h.text.lower()), english=not is_chinese(h.text)) > 0
        for h in hits[:HOLDER_FROM]
    )


def holders_episodes(question: Question, index: Index) -> set[str]:
    """The episodes that write the person whose view the question asks for (in any form the question's
    names give them: "Li Zhifei" as 李志飞), when some do and others do not; else empty, as there is
    nothing to tell their words by."""
    holder = fold(question.holder.lower())
    forms = [f for n in question.names if fold(n.text.lower()) == holder for f in n.forms] or [question.holder]
    theirs = set().union(*(index.episodes_writing(form, question.lexical_terms()) for form in forms))
    return theirs if len(theirs) < len(index.documents) else set()


def written_names(question: Question) -> list[str]:
    """The question's names that the transcripts write. A question naming one is on their topics
    however far its vector falls from theirs: "What is Sora?" has few words to embed."""
    return [n.text for n in question.names if n.forms]


def figure_support(question: Question, hits: list[Hit], index: Index) -> float:
    """How much of what the question asks about is said next to the figure or date it asks for.

    Over the sentences of the best passages that give one (each with the sentence before, which
    often names the subject): 0 unless the window names one of the question's names (a figure about
    X must be said next to X) and what an amount question counts (`Question.counted`), else the share,
    weighted by IDF, of the question's other terms it contains (1 if it has none). The largest value
    found; 0 when no sentence gives a figure.
    """
    pattern = MONEY if question.asks_money else ASKED[question.kind]
    counted_as = question.counted if pattern is FIGURE else frozenset()
    names = {fold(f.lower()) for n in question.names for f in n.forms}
    share = TermShare(question, index, leave_out=names)
    best = 0.0
    for hit in hits[:FIGURE_FROM]:
        # A figure a guest gives of themselves names them nowhere: who speaks, and the episode's
        # title and guests, stand beside every sentence of it.
        about = fold(" ".join([hit.title, *_people(index.documents[hit.source]["meta"])]).lower())
        previous = ""
        for text in _said_from(hit, index):
            text = unicodedata.normalize("NFKC", fold(text))
            window = (previous + text).lower()
            previous = text
            if not pattern.search(text) or (names and not any(n in window or n in about for n in names)):
                continue
            if counted_as and not any(t in window for t in counted_as):
                continue
            best = max(best, share(window, english=not is_chinese(text)))
    return best


def _said_from(hit: Hit, index: Index) -> list[str]:
    """The sentences of a hit's passage, and where the passage ends inside a sentence, the sentence
    of the next passage that ends it: "So I did not leave the office. I'm not exaggerating this,"
    goes on "I did not leave the office for the last 22 days", and an answer quotes both."""
    sentences = index.sentences_of(hit.source, hit.start)
    out = [text for text, *_ in sentences]
    if sentences and _CUT.search(sentences[-1][0]) and (after := index.following(hit.source, hit.start)):
        last = sentences[-1][2]
        out += [text for text, start, *_ in index.sentences_of(after.source, after.start) if start >= last][:1]
    return out


class TermShare:
    """The share, by IDF, of a question's subject terms that a sentence contains (1 when it has none).
    A Chinese question's terms meet an English sentence as the stems of their CEDICT glosses."""

    def __init__(
        self,
        question: Question,
        index: Index,
        leave_out: frozenset[str] | set[str] = frozenset(),
        weights=None,
        leave_out_english: frozenset[str] | set[str] = frozenset(),
    ):
        """`leave_out`: terms left out of the question's own; `leave_out_english`: stems left out of
        what a Chinese question's terms mean in English sentences."""
        self.weights = weights if weights is not None else term_weights(question, index, leave_out)
        self.english = (
            {}
            if question.lang == "en"
            else {
                t: w * index.bm25_en.idf(t)
                for t, w in question.english_terms
                if index.bm25_en.idf(t) > 0 and t not in leave_out_english
            }
        )

    def __call__(self, text: str, english: bool = False) -> float:
        """`text` lower-cased; `english`: whether it is an English sentence."""
        if english and self.english:
            return _share(self.english, {stem(w) for w in re.findall(r"[a-z]+", text)})
        return _share(self.weights, text)


def _share(weights: dict[str, float], window) -> float:
    """The share of the weight of terms that a window (text, or a set of stems) contains; 1 without terms."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in window) / total if total else 1.0


def _people(meta: dict) -> list[str]:
    """The names an episode's metadata gives of who takes part (guest, speakers, host)."""
    out = []
    for key in ("guest", "guests", "speakers", "host", "hosts", "author"):
        value = meta.get(key)
        out += [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []
    return out


def term_weights(
    question: Question, index: Index, leave_out: frozenset[str] | set[str] = frozenset()
) -> dict[str, float]:
    """The question's subject terms that some passage has, weighted by their IDF."""
    weights = {t: index.bm25.idf(t) for t in subject_terms(question) - leave_out}
    return {t: w for t, w in weights.items() if w > 0}


def subject_terms(question: Question) -> set[str]:
    """What the question asks about, as words a sentence of the transcripts may contain."""
    terms = {t for t in question.tokens if len(t) >= 2 and not _QUESTION_WORD.match(t)}
    terms |= {t for t, w in question.translations if w >= 0.5 and len(t) >= 2}
    terms |= {f.lower() for n in question.names for f in n.forms}
    return {t.lower() for t in terms}


_QUESTION_WORD = re.compile(
    r"^(?:什么|怎么|怎样|为什么|多少|多久|多大|多长|哪|如何|是否|认为|时候|发布|how|much|many|what|when|which)"
)

_MESSAGES = {
    "en": {
        "names": "they never mention {}",
        "context": "the question does not say who or what “{}” is (name it, or ask it as a follow-up in a conversation)",
        "filter": "no transcript matches {}",
        "words": "they never speak of {}",
        "far": "nothing in them comes close enough to “{}”",
        "amount": "they speak of this but give no figure for it",
        "date": "they speak of this but give no date for it",
        "holder": "none of the passages that come close is from an episode with {0}: what they say is someone else's view",
    },
    "zh": {
        "names": "从未提到 {}",
        "context": "问题没有说明“{}”指的是谁或什么（请写明，或在对话中接着提问）",
        "filter": "没有符合 {} 的转录稿",
        "words": "从未谈到 {}",
        "far": "没有与“{}”足够接近的内容",
        "amount": "谈到了相关内容，但没有给出这个数字",
        "date": "谈到了相关内容，但没有给出具体时间",
        "holder": "没有找到{0}对此的说法：相关内容都出自{0}没有参与的节目，是别人的看法",
    },
}
