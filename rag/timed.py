"""Timed transcripts: SubRip (.srt), WebVTT (.vtt) and Whisper / WhisperX JSON, read into the same
offset-exact document model as plain text.

A timed file's document text is its cue texts, one cue per line (markup such as `<i>` and `<v Name>`
removed, a `Name:` prefix taken as the speaker). Every character range keeps its cue's start and end
time and speaker in `Document.segments`, so a citation knows when and by whom it was said. Offsets
index that text, which the index stores, not the file's bytes. Parsing is `srt` and `webvtt-py`'s;
a malformed file is a CorpusError that names it.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

from .errors import CorpusError

SUFFIXES = (".srt", ".vtt", ".json")
# Who speaks, at the head of a cue or line: "[Amit Varma]: ", "【说话人0】", "说话人1：", "Guest: ", and a
# caption's ">>" (a new speaker, unnamed, or named as in ">> ANNA: ").
_SPEAKER_PREFIX = re.compile(
    r"^\s*(?:>>\s*)?(?:【([^】\n]{1,30})】\s*[:：]?\s*|\[([^\]\n]{1,40})\]\s*[:：]\s*|"
    r"([^\s:：\[【>(（][^:：\n]{0,29}?)\s*(?::\s+|：\s*))(?=\S)"
)
_CHANGE = re.compile(r"^\s*>>\s*")
_TAG = re.compile(r"<[^>\n]*>")
_INLINE_TIME = re.compile(r"<\d{1,2}:\d{2}[:.]")  # YouTube's word timing: <00:00:01.520><c> word</c>


@dataclass(frozen=True)
class Segment:
    """Characters [start, end) of a document were said from `t0` to `t1` seconds, by `speaker`."""

    start: int
    end: int
    t0: float | None  # None: a turn of a plain-text transcript that names its speaker but no time
    t1: float | None
    speaker: str | None = None

    def to_list(self) -> list:
        return [self.start, self.end, self.t0, self.t1, self.speaker]


@dataclass(frozen=True)
class Cue:
    t0: float | None
    t1: float | None
    text: str
    speaker: str | None = None


def _start(cue: Cue) -> float:
    return cue.t0 if cue.t0 is not None else 0.0


def cues(name: str, text: str) -> list[Cue]:
    """The cues of a timed file, by its extension (.srt, .vtt, .json)."""
    suffix = name.lower().rsplit(".", 1)[-1]
    try:
        found = {"srt": _srt, "vtt": _vtt, "json": _whisper}[suffix](text)
    except CorpusError as e:
        raise CorpusError(f"{name}: {e}") from None
    except Exception as e:  # each parser has its own exceptions; all mean the same to the user
        raise CorpusError(f"{name}: not a valid {suffix.upper()} transcript ({type(e).__name__}: {e})") from None
    found = [c for c in found if c.text.strip()]
    if not found:
        raise CorpusError(f"{name}: no cue with text")
    return found


def join(found: list[Cue]) -> tuple[str, tuple[Segment, ...]]:
    """The document text (one cue per line) and the segment of each cue."""
    parts, segments, pos = [], [], 0
    for cue in found:
        line = " ".join(cue.text.split())
        t0, t1 = (None if t is None else round(t, 3) for t in (cue.t0, cue.t1))
        segments.append(Segment(pos, pos + len(line), t0, t1, cue.speaker))
        parts.append(line)
        pos += len(line) + 1
    return "\n".join(parts), tuple(segments)


def timing(segments: list, start: int, end: int) -> tuple[float | None, float | None, str | None]:
    """(start time, end time, speaker) of characters [start, end) of a document with these segments
    (`Segment.to_list` form); the speaker only when one person says all of it."""
    inside = [s for s in segments if s[0] < end and s[1] > start]
    if not inside:
        return None, None, None
    speakers = {s[4] for s in inside}
    return inside[0][2], inside[-1][3], speakers.pop() if len(speakers) == 1 else None


def _split_speaker(text: str, speaker: str | None = None) -> tuple[str, str | None]:
    """A cue's text without markup or a speaker tag, and its speaker (the one given, or the tag's)."""
    text = _TAG.sub("", text).strip()
    if m := _SPEAKER_PREFIX.match(text):
        return text[m.end() :], speaker if speaker is not None else next(g for g in m.groups() if g).strip()
    return _CHANGE.sub("", text), speaker


def _srt(text: str) -> list[Cue]:
    import srt

    out = []
    for sub in srt.parse(text.replace("\r\n", "\n")):
        body, speaker = _split_speaker(sub.content)
        out.append(Cue(sub.start.total_seconds(), sub.end.total_seconds(), body, speaker))
    return sorted(out, key=_start)  # overlapping or unordered cues read in time order


def _vtt(text: str) -> list[Cue]:
    import webvtt

    out = []
    rolling = bool(_INLINE_TIME.search(text))
    recent: list[str] = []
    for caption in webvtt.from_buffer(io.StringIO(text.replace("\r\n", "\n"))).captions:
        raw = caption.raw_text if rolling else caption.text
        if rolling:  # YouTube's auto-captions repeat the line before each new one: each line once
            lines = [line for line in (" ".join(_TAG.sub("", x).split()) for x in raw.split("\n")) if line]
            raw = " ".join(line for line in lines if line not in recent)
            recent = (recent + lines)[-3:]
        body, speaker = _split_speaker(raw, caption.voice or None)
        out.append(Cue(_seconds(caption.start), _seconds(caption.end), body, speaker))
    return sorted(out, key=_start)


def _seconds(stamp: str) -> float:
    """HH:MM:SS.mmm or MM:SS.mmm -> seconds (webvtt-py's own conversion drops the milliseconds)."""
    total = 0.0
    for part in stamp.replace(",", ".").split(":"):
        total = total * 60 + float(part)
    return total


def _whisper(text: str) -> list[Cue]:
    """Whisper (`segments` with `start`, `end`, `text`) or WhisperX (also `speaker`) JSON."""
    data = json.loads(text)
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list):
        raise CorpusError("no `segments` list: not Whisper or WhisperX output")
    out = []
    for i, s in enumerate(segments):
        if not isinstance(s, dict) or not {"start", "end", "text"} <= s.keys():
            raise CorpusError(f"segment {i} lacks start, end or text")
        speaker = s.get("speaker")
        if isinstance(speaker, int):  # diarisation's numbers (0, 1): Speaker 0, Speaker 1
            speaker = f"Speaker {speaker}"
        body, speaker = _split_speaker(str(s["text"]), speaker)
        out.append(Cue(float(s["start"]), float(s["end"]), body, speaker))
    return sorted(out, key=_start)


# Plain-text and Markdown transcripts whose lines mark turns: a header with a time, and maybe a name
# ("Dr. Jane Doe (01:10:12):", "(05:12):" continuing the last speaker, "### Name (1:02)", Otter's
# "Speaker 1  00:03", Whisper's console "[00:01.000 --> 00:04.000] text"), or a tag ("【说话人0】", "Name：").
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_PAREN_TURN = re.compile(
    rf"^(?:#{{1,6}}\s*)?(?:\*\*)?(?P<name>[^\n()（）\[\]*]{{0,60}}?)(?:\*\*)?\s*[(（\[](?P<t0>{_TIME})[)）\]]\s*[:：]?\s*(?P<rest>.*)$"
)
_OTTER_TURN = re.compile(rf"^(?P<name>[^\d\s:：#>\[(（][^\n:：]{{0,40}}?)\s+(?P<t0>{_TIME})\s*$")
_CONSOLE_TURN = re.compile(rf"^\[(?P<t0>{_TIME})\s*-->\s*(?P<t1>{_TIME})\]\s*(?P<rest>.*)$")
_HEADING_TURN = re.compile(r"^#{1,6}\s*(?P<name>[^\n:：#]{1,40}?)\s*[:：]\s*(?P<rest>.*)$")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
MIN_TURNS = 3  # lines that mark turns before a file is read as turns


def turns(lines: list[str]) -> list[Cue] | None:
    """The turns of a plain-text transcript's body lines, or None when its lines do not mark turns.

    A turn runs from its header or tagged line to the next; lines between continue it. A turn header
    is never text. Tags without a time count only when their name recurs (a line "Note: ..." is text).
    Markdown headings that mark no turn (the title again, "## Transcript", chapters) are not speech: left out.
    """
    marks: list[tuple[int, str | None, float | None, float | None, str]] = []  # line, speaker, t0, t1, rest
    for i, line in enumerate(lines):
        line = line.strip()
        if m := _PAREN_TURN.match(line) or _OTTER_TURN.match(line):
            name = m.group("name").strip(" -–—*") or None
            marks.append((i, name, _seconds(m.group("t0")), None, m.groupdict().get("rest") or ""))
        elif m := _CONSOLE_TURN.match(line):
            marks.append((i, None, _seconds(m.group("t0")), _seconds(m.group("t1")), m.group("rest")))
        elif (m := _HEADING_TURN.match(line)) or (m := _SPEAKER_PREFIX.match(line)):
            name = m.group("name") if "name" in m.groupdict() else next((g for g in m.groups() if g), None)
            rest = m.group("rest") if "rest" in m.groupdict() else line[m.end() :]
            if name:
                marks.append((i, name.strip(), None, None, rest))
    tagged = [name for _, name, t0, _, _ in marks if t0 is None and name]
    recurring = {name for name in tagged if tagged.count(name) >= 2}
    marks = [m for m in marks if m[2] is not None or m[1] in recurring]
    if len(marks) < MIN_TURNS:
        return None
    turn_lines = {m[0] for m in marks}
    lines = ["" if _MD_HEADING.match(line) and i not in turn_lines else line for i, line in enumerate(lines)]
    out: list[Cue] = []
    speaker = None
    if marks[0][0] > 0:  # text before the first turn
        out.append(Cue(None, None, " ".join(x.strip() for x in lines[: marks[0][0]] if x.strip())))
    for n, (i, name, t0, t1, rest) in enumerate(marks):
        end = marks[n + 1][0] if n + 1 < len(marks) else len(lines)
        if name or t0 is None:
            speaker = name  # "(05:12):" with no name continues the speaker before it
        if t1 is None and n + 1 < len(marks):
            t1 = marks[n + 1][2]
        body = " ".join(x.strip() for x in [rest, *lines[i + 1 : end]] if x.strip())
        out.append(Cue(t0, t1, body, speaker))
    return [c for c in out if c.text.strip()]
