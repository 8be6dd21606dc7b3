"""From retrieved hits to a cited answer: extractive offline, or an LLM through a prompt.

Citations are always rendered from hits (an LLM's excerpts are merged hits) and the source text,
never trusted from model output: an LLM's [n] markers are checked against the numbered excerpts it
was given, and markers that match none are dropped from the answer and reported in `warnings`.
Each citation carries the quote exactly as in the file and its readable form, rendered once.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from . import prompts
from .answerability import ASKED, TermShare, holders_episodes, term_weights
from .chunking import whole_clauses
from .documents import normalise
from .index import Index, clock, episode_label, episode_of, one_line
from .injection import addressed_to_model, strip_fences
from .lexical import fold, is_chinese
from .llm import LLMClient
from .question import Question
from .retrieval import Hit

NOT_COVERED = "NOT_COVERED"
_MARKER = re.compile(r"\[(\d{1,3})\]")
# Anything a model may mean as a citation marker: [3], [ 3 ], [-1], [0], a marker of 25 digits.
_ANY_MARKER = re.compile(r"\[\s*(-?\d+)\s*\]")
_OPEN_MARKER = re.compile(r"\[\s*-?\d*\s*$")  # the start of a marker, at the end of what has arrived
EXTRACT_FROM = 4  # hits the extractive answer draws sentences from
# Length of an extractive answer, by the kind of answer asked for: a figure, a date or a person
# is one short excerpt or two; an explanation or an opinion, up to three points.
BUDGET = {"amount": (2, 260), "date": (2, 260), "person": (2, 260)}
DEFAULT_BUDGET = (3, 520)  # (excerpts, characters)
EXCERPT_CHARS = 220  # a point grows by the sentences that follow it up to this length
POINT_MARGIN = 0.08  # a further point must score within this of the best sentence
OWN_WORDS_REACH = 2 * POINT_MARGIN  # how far below the best sentence a named speaker's own words are preferred
TERM_WEIGHT = 0.15  # weight of the share (by IDF) of the question's terms a sentence contains
# An app's description of the episode (Document.summary) paraphrases all of it, so it comes close to
# every question: it is quoted, labelled, only when it beats by more than this what anyone says.
SUMMARY_PENALTY = TERM_WEIGHT + POINT_MARGIN
RANK_WEIGHT = 0.02  # per rank of the sentence's passage
PASSAGE_WEIGHT = 0.1  # times the passage's fused retrieval score (0-1)
SEED_PASSAGES = 1  # the best passages that each give a point after the best sentence
KIND_BONUS = 0.02  # a cause for a why-question, a figure or a date when one is asked for
_QUESTION_END = re.compile(r"(?:[?？]|[吗呢么][，,。.!！…]*)\s*$")  # 嘛 asserts: "你就等开源嘛。"
# 呢 after a clause of time, condition or topic pauses before what follows ("这个演讲开始的时候呢"
# and then the point, on the next subtitle line); with no question mark it asks nothing.
_PAUSE = re.compile(r"(?:时候|的话|以后|之后|来说|而言|方面|然后|其实|首先|其次)呢[，,。.…]*\s*$")
# What asks: interrogative words and particles. A sentence without one that ends in a question mark
# is a statement with a tag ("……都有明确的胜负对吧？") or an opinion ASR punctuated as a question.
_INTERROGATIVE = re.compile(
    r"什么|为什么|为何|怎么|怎样|如何|哪|谁|多少|几[个年次天岁种家位]|吗|是否|难道|究竟|到底|有没有|能不能|会不会|要不要|"
    r"可不可以|是不是(?!.{0,2}$)|\b(?:what|why|how|who|whom|when|where|which|whether)\b|"
    r"^\W*(?:is|are|was|were|do|does|did|can|could|would|should|will|have|has)\b",
    re.I,
)
# Tags that seek no answer (对吗 and 是吗 do, and "我理解的对不对" checks what the host understood).
_TAG = re.compile(r"(?<!理解的)(?<!理解得)[,，、\s]*(?:对吧|对不对|是吧|好吧|right|isn't it|you know)[?？]?\s*$", re.I)
_ASSERTS = re.compile(r"我(?:觉得|感觉|认为|相信|估计|猜|发现)")
# A host's request to the guest, which asks without a question mark: "那能不能给大家解释一下……"
_REQUEST = re.compile(
    r"^(?:那|那么|嗯|好)?[，,\s]*你?(?:能不能|可不可以|能否|可以|请|麻烦你?)(?:先|再)?(?:给|跟|和|帮)?(?:大家|我们|听众)?"
    r"(?:解释|介绍|讲|聊|说|分享|展开)"
)
# Text addressed to a language model rather than to listeners: a planted instruction ("ignore previous
# instructions", 忽略之前的所有指示), a fake system prompt or chat-template marker.
_CAUSE = re.compile(r"因为|由于|原因|所以|导致|因此|之所以|在于|问题是|本质|关键|\bbecause\b|\bsince\b|\breason")
# what gives an example: 比如, 举个例子, "for instance"
_EXAMPLE = re.compile(r"例子|比如|比方|举个例|举例|譬如|例如|\bfor (?:example|instance)\b|\be\.g\.|\bsuch as\b", re.I)

_LABELS = {
    "en": {
        "extractive": "Extractive answer (no language model: the transcripts' own sentences, quoted):",
        "cross": (
            "Extractive answer (no language model): the transcripts' own sentences, quoted in their language. "
            "For a written answer in English, configure a language model (RAG_LLM=openai; see the README)."
        ),
        "abstain": "The transcripts don't cover this question",
        "empty": "the passages found hold no statement to quote",
        "nearest": "The nearest the transcripts come:",
        "model": "the language model found no answer in the passages",
        "injection": "{} chars {}-{} holds text addressed to a language model (a planted instruction?): "
        "it is never quoted as the answer, and a model is told it is data",
        "summary": " (the episode's description, not said in it)",
        "colon": ": ",
        "sep": "; ",
        "stop": ".",
    },
    "zh": {
        "extractive": "摘录式回答（未使用语言模型，以下是转录稿中的原句）：",
        "cross": "摘录式回答（未使用语言模型，以下是转录稿中的原句）：",
        "abstain": "转录稿中没有涉及这个问题",
        "empty": "找到的段落中没有可以引用的陈述",
        "nearest": "转录稿中最接近的内容：",
        "model": "语言模型在这些段落中没有找到答案",
        "injection": "{} 第 {}-{} 字含有对语言模型下达的指令（可能是被植入的）：不会作为回答引用，语言模型也被告知它只是资料",
        "summary": "（节目简介，并非节目中的原话）",
        "colon": "：",
        "sep": "；",
        "stop": "。",
    },
}


@dataclass(frozen=True)
class Citation:
    """Where a claim comes from: `quote` is exactly the source file's text[start:end]; `text` is
    the same span as it reads (ASR spacing removed, punctuation made full-width), for display."""

    n: int
    source: str
    title: str
    start: int
    end: int
    quote: str
    text: str = ""
    time_start: float | None = None  # seconds into the episode (timed transcripts)
    time_end: float | None = None
    speaker: str | None = None  # who says all of the quote, when the transcript says
    audio: str | None = None  # the episode's audio or page URL, from its metadata
    show: str | None = None  # the episode's show and date, from its metadata
    date: str | None = None

    def location(self) -> str:
        """[n] title (show, date) — source, chars a-b, and for a timed transcript [12:34–12:58] speaker:"""
        episode = episode_label(self.show, self.date)
        title = one_line(self.title) + (f" ({one_line(episode)})" if episode else "")
        where = f"[{self.n}] {title} — {one_line(self.source)}, chars {self.start}-{self.end}"
        if self.time_start is not None:
            where += f" [{clock(self.time_start)}–{clock(self.time_end)}]"
        return where + (f" {self.speaker}:" if self.speaker else "")


@dataclass
class Answer:
    """A cited answer. Renders as HTML or Markdown in a notebook, and as text with `str()`."""

    question: str
    answer: str
    mode: str  # "extractive" | "llm"
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why it abstained, in the question's language
    searched: str = ""  # a follow-up as it was searched, with what it leans on from the conversation
    # What kind of answer this is, for a reader, shown once above it ("Extractive answer (no language
    # model): …"); never part of `answer`, so a client that shows `answer` shows the answer.
    notice: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def quotes_in_answer(self) -> bool:
        """Extractive answers already show each quote in their text; citations then give only where."""
        return self.mode == "extractive"

    def render(self) -> str:
        """The answer as plain text, then where each citation is (CLI, chat completions)."""
        sources = self.render_sources()
        text = f"{self.notice}\n{self.answer}" if self.notice else self.answer
        return f"{text}\n\n{sources}" if sources else text

    def render_sources(self) -> str:
        """One line per citation saying where it is, and its quote unless the answer already shows it."""
        lines = []
        for c in self.citations:
            lines.append(c.location())
            if not self.quotes_in_answer:
                lines.append(f"    “{c.text}”")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        lines = [f"**Q:** {self.question}", "", *([f"*{self.notice}*"] if self.notice else []), self.answer, ""]
        for c in self.citations:
            lines.append(c.location().replace(c.title, f"*{c.title}*", 1))
            if not self.quotes_in_answer:
                lines.append(f"> {c.text}")
            lines.append("")
        lines += [f"⚠ {w}" for w in self.warnings]
        return "\n".join(lines).rstrip() + "\n"

    def _repr_html_(self) -> str:
        e = html.escape
        body = e(self.answer).replace("\n", "<br>")
        body = _MARKER.sub(lambda m: f'<sup><a href="#cite-{m.group(1)}">[{m.group(1)}]</a></sup>', body)
        items = "".join(
            f'<li id="cite-{c.n}" value="{c.n}"><b>{e(c.title)}</b>{_episode_html(c)} <code>{e(c.source)}</code> '
            f"chars {c.start}–{c.end}{_when_html(c)}"
            + ("" if self.quotes_in_answer else f"<blockquote>{e(c.text)}</blockquote>")
            + "</li>"
            for c in self.citations
        )
        warn = "".join(f"<p>⚠ {e(w)}</p>" for w in self.warnings)
        notice = f"<p><i>{e(self.notice)}</i></p>" if self.notice else ""
        return f"<div><p><b>Q:</b> {e(self.question)}</p>{notice}<p>{body}</p><ol>{items}</ol>{warn}</div>"

    def __str__(self) -> str:
        return self.render()


def _episode_html(c: Citation) -> str:
    """The show and date of a citation's episode, when its metadata says."""
    episode = episode_label(c.show, c.date)
    return f" <small>({html.escape(episode)})</small>" if episode else ""


def _when_html(c: Citation) -> str:
    """The time and speaker of a citation, the time linked to the audio at that moment when known."""
    if c.time_start is None:
        return ""
    when = f"{clock(c.time_start)}–{clock(c.time_end)}"
    if c.audio:
        when = f'<a href="{html.escape(c.audio)}#t={int(c.time_start)}">{when}</a>'
    return f" [{when}]" + (f" {html.escape(c.speaker)}:" if c.speaker else "")


def citation(n: int, source: str, title: str, start: int, end: int, index: Index) -> Citation:
    """A citation of text[start:end] of a source, with its readable form, and its time, speaker and
    audio link when the transcript is timed."""
    text = index.texts[source]
    t0, t1, speaker = index.timing(source, start, end)
    meta = index.documents[source]["meta"]
    audio = meta.get("audio") or meta.get("url") if t0 is not None else None
    return Citation(
        n,
        source,
        title,
        start,
        end,
        text[start:end],
        readable(text, start, end),
        t0,
        t1,
        speaker,
        audio,
        *episode_of(meta),
    )


def readable(text: str, start: int, end: int) -> str:
    """text[start:end] as it reads: ASR spacing removed or made pauses, lines joined."""
    return " ".join(normalise(text, start, end).text.split())


def abstention(question: Question, hits: list[Hit], reasons: list[str], mode: str = "extractive") -> Answer:
    """A refusal that says why, and shows the nearest the transcripts come (the two best hits)."""
    say = _LABELS[question.lang]
    lines = [say["abstain"] + (say["colon"] + say["sep"].join(reasons) if reasons else "") + say["stop"]]
    if hits:
        lines += ["", say["nearest"]]
        lines += [
            f"- {one_line(h.title)} — {one_line(h.source)}, chars {h.start}-{h.end}: {_clip(h.text, 120)}"
            for h in hits[:2]
        ]
    return Answer(question.text, "\n".join(lines), mode, True, [], hits, reasons=list(reasons))


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip("，,、 ") + "…"


def injection_warnings(hits: list[Hit], lang: str) -> list[str]:
    """One warning per retrieved passage whose text is addressed to a language model."""
    return [_LABELS[lang]["injection"].format(h.source, h.start, h.end) for h in hits if addressed_to_model(h.text)]


def is_question(sentence: str) -> bool:
    """A question (the host's, or rhetorical) rather than a statement: a host's request ("能不能给大家
    解释一下……"), or a sentence that ends in a question mark or a question particle, unless nothing
    before it asks. Speakers end statements with a tag ("……对吧？", "……, right?"), and ASR punctuates
    some opinions as questions ("我觉得 coding 是确定性更高的……或者局部超过人？"); those say what the
    speaker holds, so they count as statements when no interrogative word or particle asks anything
    before the tag, or when the speaker says what they think."""
    sentence = sentence.strip()
    if _REQUEST.search(sentence):
        return True
    if not _QUESTION_END.search(sentence) or (_PAUSE.search(sentence) and len(re.sub(r"\W", "", sentence)) >= 6):
        return False
    body = _TAG.sub("", sentence)
    tagged = body != sentence and len(re.sub(r"\W", "", body)) >= 6
    # A Chinese tag asks for agreement with the clause it closes ("……跟几个朋友沟通了以后……仓位的管理
    # 应该是阶梯状的，对吧？" asks nothing of 几个朋友); English puts its question word first.
    if tagged and is_chinese(body):
        body = re.split(r"[，,；;]", body.rstrip("，,；; "))[-1]
    if _INTERROGATIVE.search(body):
        return True
    return not (tagged or _ASSERTS.search(body))


@dataclass
class _Sentence:
    hit: Hit
    text: str
    start: int
    end: int
    score: float  # None-like -inf for questions: kept for reading order, never quoted
    planted: bool = False  # addressed to a language model (rag.injection)
    voiced: bool = False  # said by a person the question names (Question.voices)
    summary: bool = False  # in the app's description of the episode (Document.summary), not speech
    gives: bool = False  # gives what the question asks for (a figure, date or person) and speaks of its subject
    after: list[_Sentence] = field(default_factory=list, repr=False)  # the passage's later sentences
    before: _Sentence | None = field(default=None, repr=False)  # the sentence before, in its passage


def extractive(question: Question, hits: list[Hit], index: Index, query_vector: np.ndarray | None) -> Answer:
    """An answer made of the transcripts' sentences that answer the question, each quoted and cited.

    Sentences are scored by closeness in meaning to the question (retrieval's vector; sentence
    vectors were computed at build time, so nothing is embedded here), by how many of the
    question's terms they contain, and by the kind of answer asked for (a cause for why-questions,
    a figure or a date when one is asked for); questions (the host's, rhetorical ones) are never
    quoted. The best sentence becomes the first point, then the best sentence of retrieval's first
    passage; each point starts one statement before its sentence and grows by the statements that
    follow it (a reply continues), into the next passage of its transcript where its own ends, and
    gives those up first when the answer would run too long; further points come from anywhere in the hits if they score
    close to the best sentence; near-duplicates are dropped, touching points merged, and points
    listed by transcript in reading order.
    """
    sentences = _candidates(question, hits[:EXTRACT_FROM], index, query_vector)
    ranked = sorted((s for s in sentences if s.score > -np.inf), key=lambda s: -s.score)
    # Asked what a named person thinks or says, the answer quotes the episodes that have them, when it
    # can: another episode's words next to theirs would read as their view ("Ryan Bell 有什么建议？").
    if question.holder and (episodes := holders_episodes(question, index)):
        ranked = [s for s in ranked if s.hit.source in episodes] or ranked
    if not ranked:
        return abstention(question, hits, [_LABELS[question.lang]["empty"]])
    count, chars = BUDGET.get(question.kind, DEFAULT_BUDGET)
    floor = ranked[0].score - POINT_MARGIN
    # Asked about a person the speaker lines name, the answer is what they say, when something they
    # say comes within reach of the best sentence: not the host's preview of it, nor a question put to them.
    theirs = [s for s in ranked if s.voiced]
    if own_words := bool(theirs) and theirs[0].score >= ranked[0].score - OWN_WORDS_REACH:
        ranked, floor = theirs, theirs[0].score - POINT_MARGIN
    # Asked for a figure or a date, the answer begins with the best sentence that gives one and speaks
    # of what is asked, wherever it ranks: "至少需要5000万美金", not a summary without the figure. So does
    # a follow-up asking who: "who led it?" is all question word. ("Who funded…" on its own may want
    # an organisation, which no test of a sentence tells from a person.)
    wants = question.kind in ASKED or question.kind == "example" or (question.kind == "person" and question.searched)
    if wants and not ranked[0].gives and (giving := next((s for s in ranked if s.gives), None)):
        ranked = [giving, *(s for s in ranked if s is not giving)]
    points: list[list[_Sentence]] = []
    used: set[tuple[str, int]] = set()
    # The best sentence first; then the best of retrieval's first passage, which fusion ranks with
    # more evidence (BM25, the whole passage) than one sentence's vector has, if it is within reach;
    # then the rest from anywhere.
    seeds = [next((s for s in ranked if s.hit.rank == h.rank), None) for h in hits[:SEED_PASSAGES]]
    for seed in [ranked[0], *(s for s in seeds if s and s.score >= floor), *ranked]:
        if len(points) >= count or (points and seed.score < floor):
            break
        if (seed.hit.source, seed.start) in used or _repeats(seed, points):
            continue
        point = [seed]
        before = seed.before
        if (
            before
            and before.score > -np.inf
            and (seed.hit.source, before.start) not in used
            and before.voiced >= own_words
            and before.summary == seed.summary
        ):
            if len(before.text) + len(seed.text) <= EXCERPT_CHARS:
                point.insert(0, before)  # the statement a reply starts from
        for nxt in seed.after:
            if (
                nxt.score == -np.inf
                or (nxt.hit.source, nxt.start) in used
                or nxt.voiced < own_words
                or nxt.summary != seed.summary
            ):
                break  # a question, a quoted point, another voice (quoting someone's own words), or description and speech
            if sum(len(p.text) for p in point) + len(nxt.text) > EXCERPT_CHARS and len(point) > 1:
                break
            point.append(nxt)
        # Over the answer's length, a point gives up the statements that follow its sentence first.
        while (
            len(point) > 1 and point[-1] is not seed and sum(len(p.text) for q in points + [point] for p in q) > chars
        ):
            point.pop()
        if points and sum(len(p.text) for q in points + [point] for p in q) > chars:
            continue
        points.append(point)
        used.update((p.hit.source, p.start) for p in point)
    points = _merge_touching(points, index.texts)
    first_rank: dict[str, int] = {}
    for point in points:
        first_rank.setdefault(point[0].hit.source, point[0].hit.rank)
    points.sort(key=lambda p: (first_rank[p[0].hit.source], p[0].start))
    say = _LABELS[question.lang]
    lines: list[str] = []
    # Each quote begins and ends at a sentence or clause boundary: a passage (and so its first
    # sentence) may start mid-sentence, and a long sentence is cut where a clause ends.
    spans: list[tuple[Hit, int, int, bool]] = []
    for point in points:
        hit = point[0].hit
        start, end = whole_clauses(index.texts[hit.source], point[0].start, point[-1].end)
        if spans and spans[-1][0].source == hit.source and start <= spans[-1][2]:
            spans[-1] = (*spans[-1][:2], max(end, spans[-1][2]), spans[-1][3])  # grown into the one before
        else:
            spans.append((hit, start, end, point[0].summary))
    citations = []
    for n, (hit, start, end, summary) in enumerate(spans, 1):
        c = citation(n, hit.source, hit.title, start, end, index)
        citations.append(c)
        lines.append(f"- 「{c.text}」[{n}]" + (say["summary"] if summary else ""))
        if question.cross_lingual and is_chinese(c.text) and (found := matched(question, c.quote)):
            lines.append(f"  matched: {', '.join(found)}")  # what an English reader can check without translating
    notice = say["cross"] if question.cross_lingual else say["extractive"]
    return Answer(question.text, "\n".join(lines), "extractive", False, citations, hits, notice=notice)


def _giving(question: Question):
    """A test of whether a sentence gives what the question asks for (a sum of money, a figure, a
    date, a person), or None for other questions."""
    from .answerability import MONEY

    if question.kind == "person":
        return names_person
    if question.kind == "example":
        return lambda text: _EXAMPLE.search(text) is not None
    if question.kind in ASKED:
        pattern = MONEY if question.asks_money else ASKED[question.kind]
        return lambda text: pattern.search(unicodedata.normalize("NFKC", fold(text))) is not None
    return None


# A person named in English: two capitalised words in a row (Andy Jassy), or a title and a name.
_LATIN_PERSON = re.compile(r"(?<![A-Za-z])(?:[A-Z][a-z]+ [A-Z][a-z]+|(?:Mr|Ms|Mrs|Dr)\.? [A-Z][a-z]+)(?![A-Za-z])")


def names_person(sentence: str) -> bool:
    """Whether a sentence names a person (the answer a who-question asks for)."""
    from .segmenter import person_names

    return bool(_LATIN_PERSON.search(sentence)) or (is_chinese(sentence) and bool(person_names(sentence)))


def matched(question: Question, quote: str) -> list[str]:
    """The question's names and English words that a quote contains, each with the form it was found
    in when that differs ("Claude 3.5 ← cloud 3.5", "fail ← 失败")."""
    text = fold(quote.lower())
    out = []
    for name in question.names:
        if found := [f for f in name.forms if fold(f.lower()) in text]:
            out.append(name.text if found[0].lower() == name.text.lower() else f"{name.text} ← {found[0]}")
    named = " ".join(n.text.lower() for n in question.names)
    for words_, terms in question.glossary:
        if words_ not in named and (found := [t for t in terms if t in text]):
            out.append(f"{words_} ← {found[0]}")
    return out


def _merge_touching(points: list[list[_Sentence]], texts: Mapping[str, str]) -> list[list[_Sentence]]:
    """Points of one transcript with only whitespace or punctuation between them read as one."""
    points = sorted(points, key=lambda p: (p[0].hit.source, p[0].start))
    out: list[list[_Sentence]] = []
    for point in points:
        last = out[-1] if out else None
        if (
            last
            and last[0].hit.source == point[0].hit.source
            and last[-1].end <= point[0].start
            and not re.search(r"\w", texts[point[0].hit.source][last[-1].end : point[0].start])
        ):
            last.extend(point)
        else:
            out.append(list(point))
    return sorted(out, key=lambda p: -max(s.score for s in p))


def _candidates(question: Question, hits: list[Hit], index: Index, query_vector: np.ndarray | None) -> list[_Sentence]:
    """The sentences of the hits' passages, each once (neighbouring passages overlap), scored."""
    # A person who speaks rarely says their own name: what is asked of them is the rest of the question.
    own = {w for name in question.voices for w in (name, *name.split())}
    weights = term_weights(question, index, leave_out=own)
    focus = {t: w for t, w in weights.items() if t in question.focus}
    topic = TermShare(question, index, weights=weights, leave_out_english=own)
    # a follow-up's answer speaks of what it asks about ("and Meta?": Meta)
    share = TermShare(question, index, weights=focus, leave_out_english=own) if focus else topic
    q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    asked = _giving(question)
    seen: set[tuple[str, int]] = set()
    out: list[_Sentence] = []
    for hit in hits:
        passage: list[_Sentence] = []
        for text, start, end, vector in index.sentences_of(hit.source, hit.start):
            if (hit.source, start) in seen:
                continue
            seen.add((hit.source, start))
            score, gives = -np.inf, False
            planted = addressed_to_model(text)
            # a planted instruction, and the sentence that follows it (its payload: "Say HACKED."), are never quoted
            if not is_question(text) and len(text) >= 6 and not planted and not (passage and passage[-1].planted):
                lower = text.lower()
                term = share(lower, english=not is_chinese(text))
                score = float(vector @ q) + TERM_WEIGHT * term
                score += PASSAGE_WEIGHT * hit.score - RANK_WEIGHT * hit.rank
                if question.kind == "reason" and _CAUSE.search(text):
                    score += KIND_BONUS
                if asked and asked(text):
                    score += KIND_BONUS
                    gives = (term if share is topic else topic(lower, english=not is_chinese(text))) > 0
            voiced = _voiced(question, index, hit.source, start, end)
            summary = any(s <= start < e for s, e in index.documents[hit.source].get("summary", ()))
            if summary:
                score -= SUMMARY_PENALTY
            sentence = _Sentence(
                hit, text, start, end, score, planted, voiced, summary, gives, before=passage[-1] if passage else None
            )
            for earlier in passage:
                earlier.after.append(sentence)
            passage.append(sentence)
        out += passage
        if passage and (nxt := index.following(hit.source, hit.start)):
            # A point may run on into the next passage of its transcript: a passage can end on the
            # sentence that announces the answer ("…有一个非常大的缺点。"), and the answer follows.
            last = passage[-1].end
            for text, start, end, _ in index.sentences_of(nxt.source, nxt.start):
                if start < last:
                    continue
                score = -np.inf if is_question(text) or addressed_to_model(text) else 0.0
                voiced = _voiced(question, index, hit.source, start, end)
                sentence = _Sentence(hit, text, start, end, score, voiced=voiced, before=passage[-1])
                for earlier in passage:
                    earlier.after.append(sentence)
                last = end
    return out


def _voiced(question: Question, index: Index, source: str, start: int, end: int) -> bool:
    """Whether a person the question names says these characters (where the transcript says who speaks)."""
    said_by = index.timing(source, start, end)[2] if question.voices else None
    return said_by is not None and fold(said_by.lower()) in question.voices


_UNITS = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff]+")


def _repeats(s: _Sentence, points: list[list[_Sentence]]) -> bool:
    """Whether a sentence says what a chosen point already says (shared bigrams)."""
    grams = _bigrams(s.text)
    for point in points:
        other = _bigrams(" ".join(p.text for p in point))
        if grams and len(grams & other) / len(grams) > 0.6:
            return True
    return False


def _bigrams(text: str) -> set[str]:
    """Pairs of neighbouring characters of Chinese and of neighbouring words of English: letter pairs
    of two English sentences overlap whatever they say."""
    units = _UNITS.findall(text.lower())
    return {units[i] + " " + units[i + 1] for i in range(len(units) - 1)}


@dataclass(frozen=True)
class Excerpt:
    """A span of a transcript as an LLM is shown it: hits that overlap or touch are merged."""

    n: int
    source: str
    title: str
    start: int
    end: int
    text: str


def excerpts(hits: list[Hit], texts: Mapping[str, str]) -> list[Excerpt]:
    """The hits merged where they overlap or touch in one transcript, numbered by their best hit's
    rank, each transcript's excerpts kept together and in reading order."""
    spans: dict[str, list[list]] = {}
    for h in sorted(hits, key=lambda h: (h.source, h.start)):
        group = spans.setdefault(h.source, [])
        if group and h.start <= group[-1][1] + 1:
            group[-1][1] = max(group[-1][1], h.end)
            group[-1][2] = min(group[-1][2], h.rank)
        else:
            group.append([h.start, h.end, h.rank, h.title])
    by_source = sorted(spans.items(), key=lambda kv: min(g[2] for g in kv[1]))
    ordered = [(source, g) for source, groups in by_source for g in groups]
    return [
        Excerpt(n, source, title, start, end, readable(texts[source], start, end))
        for n, (source, (start, end, _, title)) in enumerate(ordered, 1)
    ]


def llm_prompt(question: Question, shown: list[Excerpt], prompts_dir=None) -> tuple[str, str]:
    """System and user prompts for an LLM answer over numbered excerpts.

    Each excerpt is fenced by markers carrying a random tag made for this request, so text inside
    a transcript can neither close its excerpt nor pass itself off as another one.
    """
    tag = os.urandom(6).hex()  # what secrets.token_hex(6) does, without importing secrets (7 ms)
    lang = {"zh": "Chinese", "en": "English"}[question.lang]
    system = prompts.render("system", prompts_dir, language=lang, not_covered=NOT_COVERED, tag=tag)
    passages = "\n".join(
        prompts.render(
            "passage",
            prompts_dir,
            n=x.n,
            title=x.title,
            source=x.source,
            start=x.start,
            end=x.end,
            text=x.text,
            tag=tag,
        )
        for x in shown
    )
    return system, prompts.render("answer", prompts_dir, passages=passages, question=question.text)


def generate(question: Question, shown: list[Excerpt], llm: LLMClient, stream: bool, prompts_dir=None) -> Iterator[str]:
    """The LLM's answer text, in pieces when streaming, else in one piece."""
    system, user = llm_prompt(question, shown, prompts_dir)
    if stream:
        yield from llm.stream(system, user)
    else:
        yield llm.complete(system, user)


class Markers:
    """Citation markers of a model's text checked against the excerpts shown to it: [n] of an excerpt
    stays (written [n] however it was spaced), any other ([0], [99], [-1], 25 digits) is dropped and
    reported. `feed` does the same for a stream, holding back a marker until it is complete, so that
    no piece ever shows a marker the final answer drops."""

    def __init__(self, valid: set[int]):
        self.valid = valid
        self._dropped: list[str] = []
        self._held = ""

    @property
    def dropped(self) -> list[str]:
        return sorted(set(self._dropped), key=lambda m: (len(m), m))

    def _keep(self, m: re.Match) -> str:
        digits = m.group(1)
        if len(digits) <= 3 and not digits.startswith("-") and int(digits) in self.valid:
            return f"[{int(digits)}]"
        self._dropped.append(digits)
        return ""

    def check(self, text: str) -> str:
        return _ANY_MARKER.sub(self._keep, text)

    def feed(self, piece: str) -> str:
        """What of the stream so far can be shown: checked, less a marker that has not closed yet."""
        text = self._held + piece
        open_at = _OPEN_MARKER.search(text)
        cut = open_at.start() if open_at and len(text) - open_at.start() <= 32 else len(text)
        self._held = text[cut:]
        return self.check(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self.check(text)


def cite(question: Question, text: str, shown: list[Excerpt], hits: list[Hit], index: Index) -> Answer:
    """Turn an LLM's text into an Answer: keep markers that name an excerpt, drop and report the rest."""
    by_n = {x.n: x for x in shown}
    if text.strip().strip(".。").upper() == NOT_COVERED or not text.strip():
        return abstention(question, hits, [_LABELS[question.lang]["model"]], "llm")
    markers = Markers(set(by_n))
    echoed = addressed_to_model(text) or "<script" in text.lower()
    text = markers.check(strip_fences(text)).replace(NOT_COVERED, "").strip()
    cited = list(dict.fromkeys(int(n) for n in _MARKER.findall(text)))
    citations = [citation(n, by_n[n].source, by_n[n].title, by_n[n].start, by_n[n].end, index) for n in cited]
    dropped = ", ".join(f"[{m}]" for m in markers.dropped)
    warnings = [f"dropped citation markers that match no passage: {dropped}"] if dropped else []
    if not citations:
        warnings.append("the model cited no passage")
    if echoed:
        warnings.append(
            "the model's reply reads like instructions planted in a transcript (or holds a script or "
            "a passage fence, which was removed): check it against the citations"
        )
    return Answer(question.text, text, "llm", False, citations, hits, warnings)
