"""The engine: an index, its embedder, a retriever and an answer writer, loaded once and reused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from . import prompts
from .embedders import DEFAULT_EMBEDDER, Embedder, make_embedder
from .errors import LLMError, UsageError
from .index import Index, open_index
from .llm import LLMClient, make_llm
from .question import Question, language
from .retrieval import MAX_QUERY_CHARS, Evidence, Filter, Hit, Hits, Retriever, check_query
from .settings import DEFAULT_INDEX

if TYPE_CHECKING:
    from .answerability import Verdict
    from .answering import Answer

# Answering (rag.answering, rag.answerability, rag.conversation and the transcripts' normalisation
# they quote through) is imported by the methods that answer: `rag search` starts 25 ms sooner.


class Conversation(list):
    """The answers of a conversation's turns, in order (`Engine.conversation`); an HTML page in a notebook."""

    def _repr_html_(self) -> str:
        return "<div>" + "<hr>".join(a._repr_html_() for a in self) + "</div>"

    def __str__(self) -> str:
        return "\n\n".join(f"> {a.question}\n{a.render()}" for a in self)


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: `hits` first, then `delta` pieces of text, then the final `answer`."""

    kind: str  # "hits" | "notice" | "delta" | "answer"
    data: object


class Engine:
    """Answers questions from one index.

    >>> engine = rag.load()
    >>> engine.ask("why did Amazon Q fail?").citations[0].source
    '000_2d6f43025af66c3e.txt'
    """

    def __init__(self, index: Index, embedder: Embedder, llm: LLMClient | None = None, prompts_dir: Path | None = None):
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder)
        self.llm = llm
        self.prompts_dir = prompts_dir

    def search(self, question: str, k: int = 6, **where) -> Hits:
        """The k passages most relevant to the question, best first.

        Keyword arguments narrow the search (rag.retrieval.Filter): source=, show=, speaker=,
        since=, until= (dates such as "2024" or "2024-02-17").
        """
        return Hits(self.retriever.search(question, k, Filter(**where)))

    def ask(self, question: str, k: int = 6, history: Sequence[str] = (), **where) -> Answer:
        """A cited answer, or an abstention when the transcripts don't cover the question. `history`:
        the conversation's earlier questions (see `chat`); keyword arguments narrow the transcripts
        it draws on, as for `search`."""
        for event in self.ask_stream(question, k, stream=False, where=Filter(**where), history=history):
            if event.kind == "answer":
                return cast("Answer", event.data)
        raise AssertionError("ask_stream ended without an answer")

    def chat(self, messages: list, k: int = 6, **where) -> Answer:
        """The answer to the last user message of a conversation, read in the light of the earlier
        ones ("and Meta?" after "why did Amazon Q fail?").

        Args:
            messages: {"role", "content"} dicts (as for chat completions) or plain strings, all of
                which then count as the user's.

        Example:
            >>> engine.chat(["why did Amazon Q fail?", "and Meta?"]).citations[0].source
            '000_2d6f43025af66c3e.txt'
        """
        turns = [
            m if isinstance(m, str) else m.get("content") or ""
            for m in messages
            if isinstance(m, str) or m.get("role") == "user"
        ]
        if not turns:
            raise UsageError("no user message to answer")
        return self.ask(turns[-1], k, history=turns[:-1], **where)

    def conversation(self, questions: list[str], k: int = 6, **where) -> Conversation:
        """Every turn of a conversation answered, each read with the questions before it; shows as
        one HTML page of questions, answers and citations in a notebook.

        Example:
            >>> [a.question for a in engine.conversation(["why did Amazon Q fail?", "who led it?"])]
            ['why did Amazon Q fail?', 'who led it?']
        """
        if not questions:
            raise UsageError("no question to answer")
        return Conversation([self.ask(q, k, history=questions[:i], **where) for i, q in enumerate(questions)])

    def ask_stream(
        self,
        question: str,
        k: int = 6,
        stream: bool = True,
        where: Filter | None = None,
        history: Sequence[str] = (),
    ) -> Iterator[Event]:
        """Events of an answer as it is produced; with an LLM and `stream`, text arrives in `delta` pieces.
        `history`: the conversation's earlier questions, oldest first (see rag.conversation)."""
        from . import answering
        from .answerability import judge

        q, warnings = self._read(check_query(question, k), history)
        hits, evidence = self.retriever.search_with_evidence(q, k, where)
        yield Event("hits", hits)
        verdict = judge(q, hits, evidence, self.index, where)
        if not verdict.answerable:
            answer = answering.abstention(q, hits, verdict.reasons)
        elif self.llm is None:
            answer = answering.extractive(q, hits, self.index, evidence.query_vector)
        else:
            answer = yield from self._llm_answer(q, hits, evidence, stream)
        if self.llm is None or answer.mode == "extractive" or answer.abstained:
            if answer.notice:
                yield Event("notice", answer.notice)
            yield Event("delta", answer.answer)
        answer.warnings[:0] = warnings + answering.injection_warnings(hits, q.lang) + self._whole_episodes(hits, where)
        answer.searched = q.searched
        yield Event("answer", answer)

    def _whole_episodes(self, hits: list[Hit], where: Filter | None) -> list[str]:
        """A warning when a speaker filter kept transcripts whose lines do not say who speaks: of
        those it kept every passage of an episode listing the speaker, the host's questions too."""
        if not where or not where.speaker:
            return []
        unmarked = sorted({h.source for h in hits if not self.index.documents[h.source].get("segments")})
        if not unmarked:
            return []
        return [
            f"{', '.join(unmarked)} only list their speakers, not who says each line: the speaker filter "
            f"kept whole episodes that list {where.speaker}, whoever speaks in them"
        ]

    def _read(self, question: str, history: Sequence[str]) -> tuple[Question, list[str]]:
        """The question analysed as it is meant: a follow-up with what it leans on from the
        conversation, an English question with an LLM's Chinese rendering when one is configured."""
        from .answerability import subject_terms
        from .conversation import condense

        meant, warnings = condense(
            question, [h for h in history if isinstance(h, str) and h.strip()], self.llm, self.prompts_dir
        )
        q = self.retriever.analyse(meant)
        if meant != question:  # searched as meant; answered and labelled in the language of what was asked
            asked = self.retriever.analyse(question)
            own = subject_terms(asked)
            # "who led it?" after "why did Amazon Q fail?" asks for a person, not a reason
            kind = asked.kind if asked.kind != "other" else q.kind
            q = replace(q, text=question, lang=language(question), searched=meant, focus=tuple(sorted(own)), kind=kind)
        expansion, more = self._llm_translation(q)
        return q.with_expansion(expansion), warnings + more

    def judged_search(self, question: str, k: int = 6, where: Filter | None = None) -> tuple[list[Hit], Verdict]:
        """The hits for a question and whether they answer it, without writing an answer."""
        from .answerability import judge

        q = self.retriever.analyse(question)
        hits, evidence = self.retriever.search_with_evidence(q, k, where)
        return hits, judge(q, hits, evidence, self.index, where)

    def _llm_translation(self, question: Question) -> tuple[str, list[str]]:
        """With an LLM configured, a Chinese search query for an English question (and any warning)."""
        if self.llm is None or not question.cross_lingual:
            return "", []
        try:
            system = prompts.render("translate", self.prompts_dir)
            return self.llm.complete(system, question.searched or question.text).strip()[:MAX_QUERY_CHARS], []
        except LLMError as e:
            return "", [f"query translation by the LLM failed ({e}); searched with the offline dictionary only"]

    def _llm_answer(self, question: Question, hits: list[Hit], evidence: Evidence, stream: bool):
        from . import answering

        parts: list[str] = []
        sent = 0  # characters passed on; text that may still become the NOT_COVERED reply is held back
        shown = answering.excerpts(hits, self.index.texts)
        markers = answering.Markers({x.n for x in shown})  # a piece never shows a marker the answer drops
        checked = ""
        assert self.llm is not None, "only an engine with a language model writes"
        try:
            for piece in answering.generate(question, shown, self.llm, stream, self.prompts_dir):
                parts.append(piece)
                checked += markers.feed(piece)
                if not answering.NOT_COVERED.startswith("".join(parts).strip()) and checked[sent:]:
                    yield Event("delta", checked[sent:])
                    sent = len(checked)
            checked += markers.flush()
            if sent and checked[sent:]:
                yield Event("delta", checked[sent:])
        except LLMError as e:
            fallback = answering.extractive(question, hits, self.index, evidence.query_vector)
            fallback.warnings.append(f"{e}; showing the extractive answer instead")
            if sent:
                yield Event("delta", "\n\n")
            return fallback
        return answering.cite(question, "".join(parts), shown, hits, self.index)


def load(
    index: str | Path | None = None,
    embedder: str | Embedder = DEFAULT_EMBEDDER,
    llm: str | LLMClient = "extractive",
    embed_model: str | None = None,
    prompts_dir: Path | None = None,
    **llm_options,
) -> Engine:
    """Load an index and everything needed to ask it.

    Args:
        index: index directory; the bundled index of the seed transcripts by default.
        embedder: the embedder the index was built with, by name or as an object.
        llm: "extractive" (offline) or "openai" (pass model=, base_url=, api_key=), or a client object.
        embed_model: model for the sentence-transformers or openai embedders.

    Returns:
        An Engine; `engine.ask(question)` returns an Answer.

    Example:
        >>> import rag
        >>> answer = rag.load().ask("亚马逊的大模型为什么失败？")
    """
    idx = open_index(Path(index) if index else DEFAULT_INDEX)
    emb = make_embedder(embedder, embed_model) if isinstance(embedder, str) else embedder
    client = make_llm(llm, **llm_options) if isinstance(llm, str) else llm
    return Engine(idx, emb, client, prompts_dir)


def embedder_from(settings, **options) -> Embedder:
    """The embedder the settings name (used by the CLI and the HTTP app), with extra options."""
    return make_embedder(settings.embedder, settings.embed_model or None, **settings.embedder_options(), **options)


def from_settings(settings) -> Engine:
    """An engine as the settings describe it (used by the CLI and the HTTP app)."""
    index = open_index(Path(settings.index), settings.store or None)
    return Engine(index, embedder_from(settings), make_llm(settings.llm, **settings.llm_options()))
