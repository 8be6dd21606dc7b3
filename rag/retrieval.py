"""Hybrid retrieval: dense and lexical (BM25) rankings from the index's store (rag.stores), fused into
one list of hits."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from .embedders import Embedder
from .errors import UsageError
from .index import MIN_PLANNED, Index, Passage, clock, episode_label, episode_of
from .lexical import fold, is_chinese, tokenize
from .question import Name, Question, analyse
from .translate import stem

MAX_QUERY_CHARS = 2000
MAX_K = 50
DENSE_DEPTH = 1000  # dense candidates per query; the rest count as least similar


@dataclass(frozen=True)
class Hit:
    """A retrieved passage. `text` is normalised; `start`/`end` index the source file's text."""

    rank: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    time_start: float | None = None  # seconds into the episode, for a timed transcript or one of turns
    time_end: float | None = None
    speaker: str | None = None  # who says all of the passage, when the transcript says
    show: str | None = None  # the episode's show and date, from its metadata
    date: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Hits(list):
    """Search results, best first: a list of `Hit` that shows as a table in a notebook."""

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for h in self:
            episode = e(episode_label(h.show, h.date))
            when = f" [{clock(h.time_start)}–{clock(h.time_end)}]" if h.time_start is not None else ""
            who = f" {e(h.speaker)}:" if h.speaker else ""
            text = h.text if len(h.text) <= 300 else h.text[:300] + "…"
            rows.append(
                f"<tr><td>{h.rank}</td><td><b>{e(h.title)}</b><br><small>{episode}</small></td>"
                f"<td><code>{e(h.source)}</code><br><small>chars {h.start}–{h.end}{when}{who}</small></td>"
                f"<td>{e(text)}</td><td>{h.score:.3f}</td></tr>"
            )
        head = "<tr><th>#</th><th>episode</th><th>where</th><th>passage</th><th>score</th></tr>"
        return f"<table>{head}{''.join(rows)}</table>"


@dataclass(frozen=True)
class Evidence:
    """What retrieval saw, for answerability and answering.

    dense_top: cosine of the question and the closest passage.
    query_vector: the vector that was searched, so that answering embeds nothing again.
    """

    dense_top: float
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Filter:
    """Which transcripts a search may draw passages from; every field set must match.

    source: a file name (`rag sources`); show: part of the show's name; speaker: a speaker of the
    passage (timed transcripts) or of the transcript (its metadata); since / until: inclusive
    dates, YYYY, YYYY-MM or YYYY-MM-DD, against the transcript's date (one without a date is left out).
    """

    source: str | None = None
    show: str | None = None
    speaker: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self):
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not _real_date(value):
                raise UsageError(f"{name} must be a date like 2024, 2024-02 or 2024-02-17, not {value!r}")

    def __bool__(self) -> bool:
        return any(getattr(self, f) for f in ("source", "show", "speaker", "since", "until"))

    def describe(self) -> str:
        return ", ".join(
            f"{f}={getattr(self, f)}" for f in ("source", "show", "speaker", "since", "until") if getattr(self, f)
        )

    def mask(self, index: Index) -> np.ndarray:
        """True for each passage the filter lets through."""
        passages = index.passages
        episodes = index.documents.episodes  # each transcript's metadata, without reading its text
        documents = [self._document_matches(source, episodes[source]["meta"]) for source in passages.sources]
        keep = np.array(documents, dtype=bool)[passages.numbers]
        if self.speaker:  # who speaks is known per passage
            speaker = self.speaker.casefold()
            keep &= np.fromiter(
                (any(s.casefold() == speaker for s in spoken) for spoken in index.passage_speakers),
                dtype=bool,
                count=len(index.passages),
            )
        return keep

    def _document_matches(self, source: str, meta: dict) -> bool:
        date = str(meta.get("date") or "")
        return bool(
            (not self.source or source == self.source)
            and (not self.show or self.show.casefold() in str(meta.get("show") or "").casefold())
            and (not self.since or (date and date[: len(self.since)] >= self.since))
            and (not self.until or (date and date[: len(self.until)] <= self.until))
        )


_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")


def _real_date(value: str) -> bool:
    """Whether a YYYY, YYYY-MM or YYYY-MM-DD value is a day, month or year of the calendar (not 2024-13-45)."""
    import datetime

    if not _DATE.match(value):
        return False
    year, month, day = (value.split("-") + ["01", "01"])[:3]
    try:
        datetime.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def check_query(query: object, k: int | None = None) -> str:
    """The stripped query, or a UsageError saying what is wrong with it or with k."""
    if not isinstance(query, str) or not query.strip():
        raise UsageError("the question is empty")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the question is not valid Unicode text (it holds an unpaired surrogate)") from None
    if not any(ch.isalnum() for ch in query):
        raise UsageError("the question has no words (letters, characters or digits) to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"the question is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    if k is not None and not 1 <= k <= MAX_K:
        raise UsageError(f"k must be between 1 and {MAX_K}, got {k}")
    return query.strip()


class Retriever:
    """Searches one index with one embedder.

    Two signals are fused by min-max normalised scores: dense similarity to the question (for
    English questions, followed by its CEDICT translation) and a lexical score. The lexical score
    is BM25 over the question's tokens plus their translations; for an English question it is
    mixed with BM25 of its English words over the passages' English glosses (`gloss_weight`).
    Weights were chosen on the dev and calibration sets (`scripts/compare.py` prints the numbers).
    """

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        dense_weight: float = 0.7,
        translation_weight: float = 1.0,
        translate_dense: bool = True,
        gloss_weight: float = 0.8,
        name_weight: float = 0.1,
        voice_weight: float = 0.1,
        day_weight: float = 1.0,
    ):
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight  # share of dense in the fused score; BM25 has the rest
        self.translate_dense = translate_dense  # append the translation to English questions before embedding
        self.translation_weight = translation_weight  # BM25 weight of translated terms
        self.gloss_weight = gloss_weight  # share of the gloss index in an English question's lexical score
        self.name_weight = name_weight  # added to passages of episodes that write the question's names
        self.voice_weight = voice_weight  # added to passages in which a person the question names speaks
        # added to passages of episodes dated on a day the question gives when it speaks of an episode
        # ("the July 10 show"): it names the episode as a filter would
        self.day_weight = day_weight

    def prepare(self, question: str = "") -> None:
        """Compute now what the first search of `question` would compute once: each passage's
        language, the folded text that names are looked up in (OpenCC loaded) and, for a question
        in Chinese, the characters that sound alike. The CLI calls it while a helper process
        segments the question's Chinese (rag.segmenter.prefetch), which it would otherwise wait
        for idle."""
        self.index.passage_chinese  # noqa: B018 (cached properties, computed on first use)
        self.index.corpus_text  # noqa: B018
        if is_chinese(question):
            self.index.homophones  # noqa: B018

    def search(self, question: str | Question, k: int = 8, where: Filter | None = None) -> list[Hit]:
        return self.search_with_evidence(question, k, where)[0]

    def analyse(self, text: str) -> Question:
        return analyse(check_query(text), self.index, self.translate_dense)

    def search_with_evidence(
        self, question: str | Question, k: int = 8, where: Filter | None = None
    ) -> tuple[list[Hit], Evidence]:
        """Hits, best first, and the evidence for judging whether they answer the question. With a
        filter, only passages it lets through are ranked, so k of them come back however narrow it is."""
        q = self.analyse(question) if isinstance(question, str) else question
        check_query(q.text, k)
        n = len(self.index.passages)
        if n == 0:
            return [], Evidence(0.0)
        chinese = self.index.passage_chinese
        n_zh = int(chinese.sum())
        if min(n_zh, n - n_zh) >= MIN_PLANNED:
            plans = [self._plan_zh(q), self._plan_en(q)]
        else:  # one language (or a handful of passages of the other): one plan for all
            plans = [self._plan_zh(q) if n_zh >= n - n_zh else self._plan_en(q)]
        store, depth = self.index.store, min(n, DENSE_DEPTH)
        texts = list(dict.fromkeys(text[: 2 * MAX_QUERY_CHARS] for dense_texts, _ in plans for text in dense_texts))
        qvecs = self.embedder.embed_queries(texts)
        written = self._episodes_writing(q) if self.name_weight else []
        subjects = self._subject_terms(written)
        searched = []
        for dense_texts, lexical_plan in plans:
            qvec = _mean_direction([qvecs[texts.index(text[: 2 * MAX_QUERY_CHARS])] for text in dense_texts])
            ranked = store.search_dense(qvec, depth, where)
            lexical = [
                (store.search_lexical(field, [(t, w) for t, w in terms if t not in subjects], depth, where), weight)
                for field, terms, weight in lexical_plan
            ]
            searched.append((qvec, ranked, lexical))
        rows = _distinct(
            np.concatenate(
                [
                    r
                    for _, (_, dense_rows), lexical in searched
                    for r in (dense_rows, *(ranking[0] for ranking, _ in lexical))
                ]
            )
        )
        if not len(rows):
            return [], Evidence(0.0)
        # Fused over the candidates: a passage outside the dense ranking counts as the least similar
        # one in it, and one outside a lexical ranking scores 0, as if every passage were scored.
        # Each passage takes the score of the plan for its language. A question's cosines with passages
        # of its own language run higher than with the other's (0.87-0.90 against 0.84-0.88 for the
        # best of each, whether or not they answer it), so in an archive of both languages each
        # plan's cosines are put in standard units of its own language's passages before they meet.
        in_chinese = chinese[rows]
        dense = np.zeros(len(rows), dtype=np.float32)
        lex = np.zeros(len(rows), dtype=np.float32)
        best: tuple[float, np.ndarray | None] = (-1.0, None)
        for (qvec, (dense_scores, dense_rows), lexical), mine in zip(
            searched, (in_chinese, ~in_chinese) if len(plans) == 2 else (np.ones(len(rows), bool),), strict=True
        ):
            own = np.isin(dense_rows, rows[mine])  # this plan's ranked passages of its language
            plan_dense = _spread(dense_scores, np.searchsorted(rows, dense_rows), len(rows))
            if len(plans) == 2:  # cosines in standard units of the passages of their language
                plan_dense = _standardise(plan_dense, dense_scores[own])
            dense[mine] = plan_dense[mine]
            plan_lex = np.zeros(len(rows), dtype=np.float32)
            for ranking, weight in lexical:
                plan_lex += weight * _unit_max(_scatter(ranking, rows))
            lex[mine] = plan_lex[mine]
            # the closest passage of this plan's language, for answerability's distance floor
            if own.any() and dense_scores[own][0] > best[0]:
                best = (float(dense_scores[own][0]), qvec)
        fused = self.dense_weight * _minmax(dense) + (1 - self.dense_weight) * _unit_max(lex)
        named, dated = self._named_episodes(written), self._dated_episodes(q)
        if named or dated:
            sources = [self.index.passages.source(r) for r in rows]
            fused += self.name_weight * np.fromiter((named.get(src, 0.0) for src in sources), np.float32, len(rows))
            # "On the July 10 market show, …": that episode's passages first; a date with no word for an
            # episode ("the July 10 rally") may be an event's, which other episodes discuss: as a name
            weight = self.day_weight if q.of_episode else self.name_weight
            fused += weight * np.fromiter((src in dated for src in sources), np.float32, len(rows))
        if self.voice_weight and q.voices:  # "How did Dylan Field choose…": his words, not the host's preview
            voiced = set().union(*(self.index.speaking.get(name, ()) for name in q.voices))
            fused += self.voice_weight * np.fromiter((r in voiced for r in rows), np.float32, len(rows))
        order = np.argsort(-fused, kind="stable")[:k]
        hits = [_hit(r + 1, self.index.passages[rows[i]], fused[i], self.index) for r, i in enumerate(order)]
        top_vec = best[1] if best[1] is not None else searched[0][0]
        if hits and len(plans) == 2:  # answers pick sentences with the vector of the best hit's language
            top_vec = searched[0 if chinese[rows[order[0]]] else 1][0]
        return hits, Evidence(max(best[0], 0.0), top_vec)

    def _episodes_writing(self, q: Question) -> list[tuple[Name, set[str]]]:
        """Each of the question's names and the episodes that write it (in their passages, title or
        speakers), read from BM25's postings once for both uses below."""
        return [
            (name, set().union(*(self.index.episodes_writing(form, q.lexical_terms()) for form in name.forms)))
            for name in q.names
        ]

    def _named_episodes(self, written: list[tuple[Name, set[str]]]) -> dict[str, float]:
        """Episode -> share of the question's names it writes, over the names that some episodes
        write and others do not: a question naming Ryan Bell is about the episodes that speak of
        him, whatever else shares its words."""
        shares: dict[str, float] = {}
        telling = 0
        for _, having in written:
            if not having or len(having) == len(self.index.documents):
                continue
            telling += 1
            for src in having:
                shares[src] = shares.get(src, 0.0) + 1.0
        return {src: n / telling for src, n in shares.items()}

    def _dated_episodes(self, q: Question) -> set[str]:
        """The episodes whose date (in their metadata, title or file name) is a date the question
        gives, when that sets some episodes apart from the others."""
        out: set[str] = set()
        for day in q.days:
            if (dated := self.index.episodes_dated(day)) and len(dated) < len(self.index.documents):
                out |= dated
        return out

    def _subject_terms(self, written: list[tuple[Name, set[str]]]) -> frozenset[str]:
        """BM25 terms of the question's names that only episodes about those people write (in their
        own titles or as speakers): "How did Ryan Bell stop…" in an archive where only his interview
        writes "Ryan Bell". Such a name says which episode (`name_weight`), not which passage of it;
        inside it the passages that say the name are the host's introduction and addresses ("Ryan,
        tell us…"), not the answer. A name that other episodes write, or that no title or speaker
        list gives (a person talked about), stays a search term."""
        labels = self.index.subject_labels
        out: set[str] = set()
        for name, having in written:
            if having and all(any(fold(f.lower()) in labels[src] for f in name.forms) for src in having):
                for token in (t for form in (name.text, *name.forms) for t in tokenize(form)):
                    out.update((token, stem(token)))
        return frozenset(out)

    def _plan_zh(self, q: Question) -> tuple[tuple[str, ...], list[tuple[str, list[tuple[str, float]], float]]]:
        """How a question meets Chinese passages: its dense text (an English one followed by CEDICT
        translations) and BM25 over Chinese tokens and translations, mixed for an English question
        with BM25 of its words over the passages' English glosses."""
        lexical = [("zh", q.lexical_terms(self.translation_weight), 1.0)]
        if self.gloss_weight and q.gloss_terms:
            lexical = [
                ("zh", lexical[0][1], 1 - self.gloss_weight),
                ("en", [(t, 1.0) for t in q.gloss_terms], self.gloss_weight),
            ]
        return (q.dense_text,), lexical

    def _plan_en(self, q: Question) -> tuple[tuple[str, ...], list[tuple[str, list[tuple[str, float]], float]]]:
        """How a question meets English passages: an English question as it is, a Chinese one with
        CEDICT's English glosses of its words (Question.dense_text_en, english_terms) and as those
        glosses alone (Question.glosses_en), the two vectors averaged; BM25 of its own tokens (names
        such as Figma are written alike in both languages) and of stemmed English terms."""
        lexical = [("zh", [(t, 1.0) for t in q.tokens], 1 - self.gloss_weight)]
        if q.english_terms:
            lexical.append(("en", list(q.english_terms), self.gloss_weight))
        return tuple(text for text in (q.dense_text_en or q.text, q.glosses_en) if text), lexical


def _mean_direction(vectors: list[np.ndarray]) -> np.ndarray:
    """The unit vector of the mean of unit vectors (one vector: itself, unchanged to the last bit)."""
    if len(vectors) == 1:
        return vectors[0]
    mean = np.mean(vectors, axis=0)
    return (mean / np.linalg.norm(mean)).astype(vectors[0].dtype)


def _distinct(rows: np.ndarray) -> np.ndarray:
    """np.unique of a 1-d array, without np.unique: in numpy 2.4 it imports numpy.ma (15 ms of a
    cold `rag search`) to check for a masked array."""
    rows = np.sort(rows)
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = rows[1:] != rows[:-1]
    return rows[keep]


def _scatter(ranking: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Scores of a (rows, scores) ranking laid out over `rows` (sorted), 0 where it has none."""
    out = np.zeros(len(rows), dtype=np.float32)
    found, scores = ranking
    out[np.searchsorted(rows, found)] = scores
    return out


def _spread(scores: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """n dense scores, `scores` at positions `at` and the lowest of them elsewhere."""
    out = np.full(n, scores.min() if len(scores) else 0.0, dtype=np.float32)
    out[at] = scores
    return out


def _standardise(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """x in standard units of the reference scores (unchanged when they are too few to have a spread)."""
    if len(reference) < 2 or reference.std() == 0:
        return x
    return (x - reference.mean()) / reference.std()


def _unit_max(x: np.ndarray) -> np.ndarray:
    return x / x.max() if x.max() > 0 else x


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _hit(rank: int, p: Passage, score: float, index: Index) -> Hit:
    meta = index.documents[p.source]["meta"]
    return Hit(
        rank,
        p.source,
        p.title,
        p.text,
        p.start,
        p.end,
        round(float(score), 6),
        *index.timing(p.source, p.start, p.end),
        *episode_of(meta),
    )
