"""Dates that titles, file names, headers, pages and questions write, read as (year, month, day): "the
July 10 market show" names the episode whose file is 眼哥股市会7月10日.txt; a header's "Date: March 5,
2024" and a page's published time become the episode's date (YYYY-MM-DD)."""

from __future__ import annotations

import re

Day = tuple[int | None, int, int | None]  # (year, month, day): a month of a year, or a day of a month

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MONTH = (
    r"(?:(?-i:May)|(?:january|february|march|april|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?)"
)
_DAYS = [
    # 2024-07-10, 2024/7/10, 2022-07 (not 22-07-2: a year has four digits)
    (re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{1,2})(?:[-/.](?P<d>\d{1,2}))?(?!\d)"), False),
    # 7月10日, 2024年7月10号, 2024年7月
    (re.compile(r"(?:(?P<y>(?:19|20)\d\d)\s*年\s*)?(?<!\d)(?P<m>\d{1,2})\s*月(?:\s*(?P<d>\d{1,2})\s*[日号])?"), False),
    # July 10, Jul. 10th, 2024; 10 July 2024; the 10th of July; July 2024
    (
        re.compile(
            rf"\b(?P<mn>{_MONTH})\s+(?:(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>(?:19|20)\d\d))?|(?P<y2>(?:19|20)\d\d))\b",
            re.I,
        ),
        True,
    ),
    (
        re.compile(
            rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{_MONTH})(?:,?\s+(?P<y>(?:19|20)\d\d))?\b", re.I
        ),
        True,
    ),
]


def written_dates(text: str) -> set[Day]:
    """The days (or months of a year) a text writes, in the ways titles, file names and questions
    write them: 2024-07-10, 7月10日, July 10, 10 July 2024, July 2024. A month alone is no date."""
    return {day for _, day in _found(text)}


def iso_day(value: str) -> str:
    """The first whole date (year, month and day) a value writes, as YYYY-MM-DD ("2024-03-05",
    "2024年3月5日", "March 5, 2024", "2017-03-27T08:00:00Z"), or "" when it writes none."""
    import datetime

    for _, (year, month, day) in sorted(_found(value), key=lambda found: found[0]):
        if year and day:
            try:
                return datetime.date(year, month, day).isoformat()
            except ValueError:  # 2024-02-30
                continue
    return ""


def _found(text: str) -> list[tuple[int, Day]]:
    """(where it begins, the date) of every date the text writes."""
    out = []
    for pattern, named in _DAYS:
        for m in pattern.finditer(text):
            g = m.groupdict()
            month = _MONTH_NAMES.index(g["mn"][:3].lower()) + 1 if named else int(g["m"])
            year = g.get("y") or g.get("y2")
            day = int(g["d"]) if g.get("d") else None
            if 1 <= month <= 12 and (day is None or 1 <= day <= 31) and (year or day):
                out.append((m.start(), (int(year) if year else None, month, day)))
    return out


def on_day(asked: Day, dated: Day) -> bool:
    """Whether a date that is asked for can be a transcript's date: the same month, and the same
    year and day where the question gives them (an episode dated only 2022-07 is no answer to
    "July 10")."""
    return asked[1] == dated[1] and all(x is None or x == y for x, y in ((asked[0], dated[0]), (asked[2], dated[2])))
