"""Follow-up questions: a turn of a conversation made into a question that stands alone.

"why did Amazon Q fail?" then "and Meta?": the second is searched as it is meant, "and Meta? and Meta? why
did Amazon Q fail?", so that it finds why Meta failed. With an LLM configured, the history is
condensed through `prompts/condense.txt`; offline, a turn that cannot stand alone (short, a pronoun
or "and X?", "那 X 呢？") takes on the previous standalone question, and one that can is searched
as it is (a change of topic). Each turn still gets its own search, answer and citations.
"""

from __future__ import annotations

import re

from . import prompts
from .errors import LLMError
from .lexical import STOPWORDS, tokenize
from .llm import LLMClient

MAX_TURNS = 20  # previous questions kept; older ones are dropped
_ANAPHORA = re.compile(
    r"^\s*(?:and|but|so|also|what about|how about|then)\b|"
    r"\b(?:he|she|it|they|him|her|them|his|its|their|theirs|that|this|those|these|there|then)\b|"
    r"^\s*(?:那|还有|而|那么)|[他她它]们?|这个|那个|这些|那些|这家|那家|该|此|呢[?？]?\s*$",
    re.I,
)
STANDALONE_TERMS = 4  # a question with fewer content terms than this leans on what came before


def needs_context(question: str) -> bool:
    """Whether a turn leans on the conversation: it points back (pronouns, "and X?", 那…呢) or is
    too short to say what it is about."""
    return bool(_ANAPHORA.search(question)) or len(_content_terms(question)) < STANDALONE_TERMS


def dangling_reference(question: str) -> str | None:
    """The word by which a question points back at a conversation it may not have ("who led it?":
    it, "他为什么离开？": 他), when that and at most one content term is all it says; else None."""
    m = _ANAPHORA.search(question)
    return m.group().strip() if m and len(_content_terms(question)) < 2 else None


def _content_terms(question: str) -> list[str]:
    return [t for t in tokenize(question) if t not in STOPWORDS and len(t) > 1]


def standalone(question: str, history: list[str]) -> str:
    """The question as it is meant, offline: each turn that leans on the conversation takes on the
    previous standalone question."""
    previous = ""
    for turn in [*history[-MAX_TURNS:], question]:
        # the turn itself counts twice what it leans on: "and Meta?" is about Meta first (scripts/conversations.py)
        previous = f"{turn} {turn} {previous}".strip() if previous and needs_context(turn) else turn
        previous = previous[:2000]
    return previous


def condense(question: str, history: list[str], llm: LLMClient | None, prompts_dir=None) -> tuple[str, list[str]]:
    """The standalone question (by the LLM when one is configured, else `standalone`), and warnings."""
    if not history:
        return question, []
    if llm is not None:
        try:
            turns = "\n".join(f"- {h}" for h in history[-MAX_TURNS:])
            system = prompts.render("condense", prompts_dir)
            user = prompts.render("condense_user", prompts_dir, history=turns, question=question)
            text = " ".join(llm.complete(system, user).split())
            if text:
                return text[:2000], []
        except LLMError as e:
            return standalone(question, history), [
                f"condensing the conversation by the LLM failed ({e}); used the previous question instead"
            ]
    return standalone(question, history), []
