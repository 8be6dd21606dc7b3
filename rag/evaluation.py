"""Retrieval and abstention scores on a labelled question file (the format of shared/eval/dev.jsonl).

A retrieved passage hits an evidence quote when, after NFKC normalisation and removal of
whitespace and punctuation, their longest common substring covers at least half the quote
(and at least 6 characters). `in3000` asks whether a hit lies within the first 3,000
characters of the ranked passages; r@1, r@5 and MRR use the first hit's rank (as the reference
score.py does, ranks are not cut at 10: `rag eval` ranks 20 passages by default).
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import UsageError

BUDGET = 3000


def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch)[0] == "P"))


def _longest_common_substring(a: str, b: str) -> int:
    best = 0
    for i in range(len(a)):
        length = best + 1
        while i + length <= len(a) and a[i : i + length] in b:
            best = length
            length += 1
    return best


def hit(quote: str, passage: str) -> bool:
    q, p = norm(quote), norm(passage)
    return _longest_common_substring(q, p) >= max(6, 0.5 * len(q))


def load_dataset(path: Path) -> list[dict]:
    """Questions from a JSONL file; each needs `id`, `question`, `lang`, `type` and `evidence`."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"cannot read dataset {path}: {e.strerror}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{n}: not JSON") from None
        missing = [k for k in ("id", "question", "type") if k not in row]
        if missing:
            raise UsageError(f"{path}:{n}: missing {', '.join(missing)}")
        rows.append(row)
    if not rows:
        raise UsageError(f"{path}: no questions")
    return rows


def score(rows: Sequence[dict], ranked: dict[str, list[str]], abstained: dict[str, bool]) -> dict:
    """Metrics for all questions and per language, plus abstention rates.

    ranked: question id -> passage texts in rank order; abstained: question id -> did it abstain.
    """
    out: dict = {}
    for lang in ("all", "zh", "en"):
        rows_l = [r for r in rows if r["type"] != "unanswerable" and lang in ("all", r.get("lang"))]
        if not rows_l:
            out[lang] = {"n": 0}
            continue
        in_budget = r1 = r5 = 0
        mrr = 0.0
        for r in rows_l:
            used, rank, inside = 0, None, False
            for i, text in enumerate(ranked.get(r["id"], [])):
                ok = any(hit(q, text) for q in r["evidence"])
                if ok and rank is None:
                    rank = i + 1
                if ok and used < BUDGET:
                    inside = True
                used += len(text)
            in_budget += inside
            if rank:
                mrr += 1 / rank
                r1 += rank <= 1
                r5 += rank <= 5
        n = len(rows_l)
        out[lang] = {
            "n": n,
            "in3000": round(in_budget / n, 3),
            "r@1": round(r1 / n, 3),
            "r@5": round(r5 / n, 3),
            "mrr": round(mrr / n, 3),
        }
    unanswerable = [r["id"] for r in rows if r["type"] == "unanswerable"]
    answerable = [r["id"] for r in rows if r["type"] != "unanswerable"]
    out["abstention"] = {
        "unanswerable_abstained": _rate(abstained, unanswerable),
        "answerable_abstained": _rate(abstained, answerable),
        "n_unanswerable": len(unanswerable),
    }
    return out


def answer_scores(rows: Sequence[dict], answers: dict[str, dict]) -> dict:
    """What the answers (`Answer.to_dict()` by question id) give a reader, per language, over the
    answerable questions that were answered:

    - evidence: share whose citations quote a gold evidence quote (the `hit` rule);
    - questions: share of the quoted sentences that are questions (rag.answering.is_question);
    - median_chars: median length of the answer text.
    """
    from .answering import is_question

    out = {}
    for lang in ("all", "zh", "en"):
        done = [
            answers[r["id"]]
            for r in rows
            if r["type"] != "unanswerable" and lang in ("all", r.get("lang")) and not answers[r["id"]]["abstained"]
        ]
        evidence = [
            any(hit(q, c["quote"]) for c in a["citations"] for q in r["evidence"])
            for r in rows
            for a in [answers.get(r["id"])]
            if a and r["type"] != "unanswerable" and lang in ("all", r.get("lang")) and not a["abstained"]
        ]
        quoted = [s for a in done for c in a["citations"] for s in _SENTENCE.findall(c["text"]) if s.strip()]
        out[lang] = {
            "answered": len(done),
            "evidence": round(sum(evidence) / len(evidence), 3) if evidence else None,
            "questions": round(sum(map(is_question, quoted)) / len(quoted), 3) if quoted else None,
            "median_chars": int(statistics.median(len(a["answer"]) for a in done)) if done else None,
        }
    return out


_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]*")


def cut_quotes(answers: Sequence[dict], texts: dict[str, str]) -> tuple[int, int]:
    """(quotes that begin or end inside a sentence or clause, quotes) over the citations of
    `answers` (`Answer.to_dict()`), counting only transcripts with punctuation to cut at."""
    from .chunking import begins_clause, ends_clause

    cut = total = 0
    for a in answers:
        for c in a["citations"]:
            text = texts[c["source"]]
            if not _PUNCTUATED.search(text):
                continue
            total += 1
            cut += not (begins_clause(text, c["start"]) and ends_clause(text, c["end"]))
    return cut, total


_PUNCTUATED = re.compile(r"[。！？，]|[.?!,]\s")


def format_answer_table(result: dict) -> str:
    lines = [
        "| answers | answered | gold evidence quoted | quoted sentences that are questions | median chars |",
        "|---|---|---|---|---|",
    ]
    rows = [
        f"| {lang} | {m['answered']} | {m['evidence']:.3f} | {m['questions']:.3f} | {m['median_chars']} |"
        for lang in ("all", "zh", "en")
        if (m := result[lang])["answered"]
    ]
    return "\n".join(lines + rows) if rows else "no answerable question was answered: no answers to score"


def _rate(abstained: dict[str, bool], ids: list[str]) -> float | None:
    return round(sum(abstained.get(i, False) for i in ids) / len(ids), 3) if ids else None


def evaluate(rows: Sequence[dict], run: Callable[[str], tuple[list[str], bool]]) -> dict:
    """Score `run(question) -> (passage texts in rank order, abstained)` on the rows."""
    ranked, abstained = {}, {}
    for r in rows:
        ranked[r["id"]], abstained[r["id"]] = run(r["question"])
    return score(rows, ranked, abstained)


def format_table(result: dict) -> str:
    """A Markdown table of the scores."""
    lines = ["| questions | n | in3000 | r@1 | r@5 | MRR@10 |", "|---|---|---|---|---|---|"]
    for lang in ("all", "zh", "en"):
        m = result[lang]
        if m["n"]:
            lines.append(
                f"| {lang} | {m['n']} | {m['in3000']:.3f} | {m['r@1']:.3f} | {m['r@5']:.3f} | {m['mrr']:.3f} |"
            )
    if len(lines) == 2:
        lines = ["no answerable questions: retrieval is not scored"]
    a = result["abstention"]
    if a["n_unanswerable"]:
        lines.append("")
        answerable = a["answerable_abstained"]  # None in a set of unanswerable questions only
        lines.append(
            f"abstained on {a['unanswerable_abstained']:.0%} of unanswerable questions"
            + (f" and {answerable:.0%} of answerable ones" if answerable is not None else " (no answerable ones)")
        )
    return "\n".join(lines)
