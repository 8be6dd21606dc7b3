"""From retrieved hits to a cited answer: extractive offline, or an LLM through a prompt.

Citations are always rendered from hits and the source text, never trusted from model output:
an LLM's [n] markers are checked against the numbered passages it was given, and markers
that match none are dropped from the answer and reported in `warnings`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from . import prompts
from .index import Index
from .llm import LLMClient
from .retrieval import Hit

NOT_COVERED = "NOT_COVERED"
_MARKER = re.compile(r"\[(\d{1,3})\]")
_CJK = re.compile(r"[\u3400-\u9fff]")
EXTRACT_FROM = 4  # top hits the extractive answer draws sentences from
EXTRACT_SENTENCES = 3

_LABELS = {
    "en": {
        "extractive": "Extractive answer (no language model: the most relevant sentences of the transcripts, quoted):",
        "abstain": "The transcripts don't cover this question.",
    },
    "zh": {
        "extractive": "摘录式回答（未使用语言模型，以下是转录稿中最相关的原句）：",
        "abstain": "转录稿中没有涉及这个问题。",
    },
}


@dataclass(frozen=True)
class Citation:
    """Where a claim comes from: `quote` is exactly the source file's text[start:end]."""

    n: int
    source: str
    title: str
    start: int
    end: int
    quote: str


@dataclass
class Answer:
    """A cited answer. Renders as HTML or Markdown in a notebook."""

    question: str
    answer: str
    mode: str  # "extractive" | "llm"
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def _repr_markdown_(self) -> str:
        lines = [f"**Q:** {self.question}", "", self.answer, ""]
        for c in self.citations:
            quote = " ".join(c.quote.split())
            lines.append(f"[{c.n}] *{c.title}* — `{c.source}` chars {c.start}–{c.end}")
            lines.append(f"> {quote}")
            lines.append("")
        lines += [f"⚠ {w}" for w in self.warnings]
        return "\n".join(lines).rstrip() + "\n"

    def _repr_html_(self) -> str:
        e = html.escape
        body = e(self.answer).replace("\n", "<br>")
        body = _MARKER.sub(lambda m: f'<sup><a href="#cite-{m.group(1)}">[{m.group(1)}]</a></sup>', body)
        items = "".join(
            f'<li id="cite-{c.n}" value="{c.n}"><b>{e(c.title)}</b> <code>{e(c.source)}</code> '
            f"chars {c.start}–{c.end}<blockquote>{e(' '.join(c.quote.split()))}</blockquote></li>"
            for c in self.citations
        )
        warn = "".join(f"<p>⚠ {e(w)}</p>" for w in self.warnings)
        return f"<div><p><b>Q:</b> {e(self.question)}</p><p>{body}</p><ol>{items}</ol>{warn}</div>"

    def __str__(self) -> str:
        return self._repr_markdown_()


def language(text: str) -> str:
    """'zh' when a fair share of the letters are Chinese characters, else 'en'."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(1 for ch in letters if _CJK.match(ch))
    return "zh" if letters and cjk / len(letters) >= 0.2 else "en"


def abstention(question: str, hits: list[Hit], mode: str = "extractive") -> Answer:
    return Answer(question, _LABELS[language(question)]["abstain"], mode, True, [], hits)


def extractive(question: str, hits: list[Hit], index: Index, query_vector: np.ndarray) -> Answer:
    """An answer made of the retrieved sentences closest in meaning to the question, each cited.

    `query_vector` is the question's vector from retrieval, and sentence vectors were computed when
    the index was built, so nothing is embedded here.
    """
    candidates = [(h, *s) for h in hits[:EXTRACT_FROM] for s in index.sentences_of(h.source, h.start)]
    if not candidates:
        return abstention(question, hits)
    q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    vecs = np.stack([c[4] for c in candidates])
    # Cosine to the question, nudged towards the passages retrieval ranked first.
    score = vecs @ q - 0.01 * np.array([c[0].rank for c in candidates])
    chosen = sorted(np.argsort(-score)[:EXTRACT_SENTENCES], key=lambda i: (candidates[i][0].rank, candidates[i][2]))
    lines, citations = [_LABELS[language(question)]["extractive"]], []
    texts = index.texts
    for n, i in enumerate(chosen, 1):
        hit, sentence, s, e, _ = candidates[i]
        lines.append(f"- 「{sentence}」[{n}]")
        citations.append(Citation(n, hit.source, hit.title, s, e, texts[hit.source][s:e]))
    return Answer(question, "\n".join(lines), "extractive", False, citations, hits)


def llm_prompt(question: str, hits: list[Hit], prompts_dir=None) -> tuple[str, str]:
    """System and user prompts for an LLM answer over numbered passages."""
    lang = {"zh": "Chinese", "en": "English"}[language(question)]
    system = prompts.render("system", prompts_dir, language=lang, not_covered=NOT_COVERED)
    passages = "\n".join(
        prompts.render("passage", prompts_dir, n=h.rank, title=h.title, source=h.source, start=h.start,
                       end=h.end, text=h.text)
        for h in hits
    )
    return system, prompts.render("answer", prompts_dir, passages=passages, question=question)


def generate(question: str, hits: list[Hit], llm: LLMClient, stream: bool, prompts_dir=None) -> Iterator[str]:
    """The LLM's answer text, in pieces when streaming, else in one piece."""
    system, user = llm_prompt(question, hits, prompts_dir)
    if stream:
        yield from llm.stream(system, user)
    else:
        yield llm.complete(system, user)


def cite(question: str, text: str, hits: list[Hit], texts: dict[str, str]) -> Answer:
    """Turn an LLM's text into an Answer: keep markers that name a passage, drop and report the rest."""
    by_rank = {h.rank: h for h in hits}
    if text.strip().strip(".。").upper() == NOT_COVERED or not text.strip():
        return abstention(question, hits, "llm")
    dropped: list[int] = []

    def keep(m: re.Match) -> str:
        n = int(m.group(1))
        if n in by_rank:
            return m.group(0)
        dropped.append(n)
        return ""

    text = _MARKER.sub(keep, text).replace(NOT_COVERED, "").strip()
    cited = list(dict.fromkeys(int(n) for n in _MARKER.findall(text)))
    citations = [
        Citation(n, by_rank[n].source, by_rank[n].title, by_rank[n].start, by_rank[n].end,
                 texts[by_rank[n].source][by_rank[n].start : by_rank[n].end])
        for n in cited
    ]
    warnings = [f"dropped citation markers that match no passage: {sorted(set(dropped))}"] if dropped else []
    if not citations:
        warnings.append("the model cited no passage")
    return Answer(question, text, "llm", False, citations, hits, warnings)
