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
_SPEAKER_PREFIX = re.compile(r"^\s*(?:\[([^\]\n]{1,40})\]|([^\s:：][^:：\n]{0,29}))\s*[:：]\s+(?=\S)")
_TAG = re.compile(r"<[^>\n]*>")


@dataclass(frozen=True)
class Segment:
    """Characters [start, end) of a document were said from `t0` to `t1` seconds, by `speaker`."""

    start: int
    end: int
    t0: float
    t1: float
    speaker: str | None = None

    def to_list(self) -> list:
        return [self.start, self.end, self.t0, self.t1, self.speaker]


@dataclass(frozen=True)
class Cue:
    t0: float
    t1: float
    text: str
    speaker: str | None = None


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
        segments.append(Segment(pos, pos + len(line), round(cue.t0, 3), round(cue.t1, 3), cue.speaker))
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
    text = _TAG.sub("", text).strip()
    if speaker is None and (m := _SPEAKER_PREFIX.match(text)):
        return text[m.end() :], (m.group(1) or m.group(2)).strip()
    return text, speaker


def _srt(text: str) -> list[Cue]:
    import srt

    out = []
    for sub in srt.parse(text.replace("\r\n", "\n")):
        body, speaker = _split_speaker(sub.content)
        out.append(Cue(sub.start.total_seconds(), sub.end.total_seconds(), body, speaker))
    return sorted(out, key=lambda c: c.t0)  # overlapping or unordered cues read in time order


def _vtt(text: str) -> list[Cue]:
    import webvtt

    out = []
    for caption in webvtt.from_buffer(io.StringIO(text.replace("\r\n", "\n"))):
        body, speaker = _split_speaker(caption.text, caption.voice or None)
        out.append(Cue(_seconds(caption.start), _seconds(caption.end), body, speaker))
    return sorted(out, key=lambda c: c.t0)


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
        body, speaker = _split_speaker(str(s["text"]), s.get("speaker"))
        out.append(Cue(float(s["start"]), float(s["end"]), body, speaker))
    return sorted(out, key=lambda c: c.t0)
