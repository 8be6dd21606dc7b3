"""Timed transcripts read into the same offset-exact document model as plain text: SubRip (.srt),
WebVTT (.vtt), YouTube SubViewer (.sbv), LRC (.lrc), SubStation Alpha (.ass, .ssa), TTML / DFXP and
other timed-text XML (.ttml, .dfxp, .xml: Apple Podcasts, YouTube), SAMI (.smi) and MicroDVD (.sub)
through pysubs2, tables (.tsv as Whisper writes
it, .csv with a text column) and JSON from speech-to-text tools (.json, .jsonl: Whisper / WhisperX,
whisper.cpp, Podcasting 2.0, AssemblyAI, Deepgram, AWS Transcribe, Rev, YouTube json3, Hugging Face
chunks, or any list of objects that carry text).

A timed file's document text is its cue texts, one cue per line (markup such as `<i>` and `<v Name>`
removed, a `Name:` prefix taken as the speaker). Every character range keeps its cue's start and end
time and speaker in `Document.segments`, so a citation knows when and by whom it was said. Offsets
index that text, which the index stores, not the file's bytes. SubRip and WebVTT are parsed by `srt`
and `webvtt-py`, SAMI and MicroDVD by `pysubs2`; the rest, small line and tree formats that no
maintained library here reads all of, with the standard library (csv, json, xml.etree). A malformed file is a CorpusError that names it.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass, replace

from .errors import CorpusError

# with the names yt-dlp gives YouTube's own caption formats: timedtext XML (srv1-3) and JSON (json3)
SUFFIXES: tuple[str, ...] = (".srt", ".vtt", ".json", ".jsonl", ".sbv", ".lrc", ".ass", ".ssa", ".ttml", ".dfxp")
SUFFIXES += (".xml", ".tsv", ".csv", ".srv1", ".srv2", ".srv3", ".json3", ".smi", ".sami", ".sub")
# Who speaks, at the head of a cue or line: "[Amit Varma]: ", "【说话人0】", "说话人1：", "Guest: ", and a
# caption's ">>" (a new speaker, unnamed, or named as in ">> ANNA: ").
_SPEAKER_PREFIX = re.compile(
    r"^\s*(?:>>\s*)?(?:【([^】\n]{1,30})】\s*[:：]?\s*|\[([^\]\n]{1,40})\]\s*[:：]\s*|"
    # Markdown's bold or italic around the name, the colon inside or outside it: **Lenny:**, **Lenny**:
    r"\*{0,2}([^\s:：\[【>(（*][^:：\n*]{0,29}?)\*{0,2}\s*(?::\*{0,2}\s+|：\*{0,2}\s*))(?=\S)"
)
_CHANGE = re.compile(r"^\s*>>\s*")
_DIALOGUE_DASH = re.compile(r"^\s*[-–]\s+")  # subtitles' dialogue dash: "- Are you ready?"
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


def cues(name: str, text: str, kind: str | None = None) -> list[Cue]:
    """The cues of a timed file, by its extension (SUFFIXES) or the `kind` its text shows (`sniff`)."""
    suffix = kind or name.lower().rsplit(".", 1)[-1]
    readers = {"srt": _srt, "vtt": _vtt, "json": _json, "sbv": _sbv, "lrc": _lrc, "ass": _ass, "ssa": _ass}
    readers |= {"ttml": _xml, "dfxp": _xml, "xml": _xml, "tsv": _tsv, "csv": _csv, "jsonl": _jsonl}
    readers |= {"srv1": _xml, "srv2": _xml, "srv3": _xml, "json3": _json, "smi": _sami, "sami": _sami, "sub": _microdvd}
    try:
        found = readers[suffix](text)
    except CorpusError as e:
        raise CorpusError(f"{name}: {e}") from None
    except Exception as e:  # each parser has its own exceptions; all mean the same to the user
        raise CorpusError(f"{name}: not a valid {suffix.upper()} transcript ({type(e).__name__}: {e})") from None
    found = [c for c in found if c.text.strip()]
    if not found:
        raise CorpusError(f"{name}: no cue with text")
    return found


_SRT_CUE = re.compile(r"^\s*\d+\s*\n\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->", re.M)


def sniff(text: str) -> str | None:
    """The subtitle format a text file holds, "vtt" or "srt" (some tools save subtitles as .txt), else None."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT") and "-->" in head[:2000]:
        return "vtt"
    if _SRT_CUE.match(head) and len(_SRT_CUE.findall(text, 0, 20_000)) >= 3:
        return "srt"
    return None


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


def _split_speaker(text: str, speaker: str | None = None) -> tuple[str, str | None]:
    """A cue's text without markup or a speaker tag, and its speaker (the one given, or the tag's).
    A cue whose every line opens with a dash ("- Ready?" / "- Yes.") is two voices, each dash a
    change of speaker: the dashes are not text."""
    text = _TAG.sub("", text).strip()
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) >= 2 and all(_DIALOGUE_DASH.match(line) for line in lines):
        text = "\n".join(_DIALOGUE_DASH.sub("", line) for line in lines)
    if m := _SPEAKER_PREFIX.match(text):
        return text[m.end() :], speaker if speaker is not None else next(g for g in m.groups() if g).strip()
    return _CHANGE.sub("", text), speaker


# SubStation overrides that subtitle editors leave in SubRip cues ({\an8}: at the top); a backslash
# inside the braces, so braces of speech stay
_SRT_OVERRIDE = re.compile(r"\{\\[^}]*\}")


def _srt(text: str) -> list[Cue]:
    import srt

    out = []
    for sub in srt.parse(text.replace("\r\n", "\n")):
        body, speaker = _split_speaker(_SRT_OVERRIDE.sub("", sub.content))
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


def _sbv(text: str) -> list[Cue]:
    """YouTube's SubViewer: blocks of a `0:00:01.000,0:00:04.000` line and the cue's text lines."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        head, _, body = block.strip().partition("\n")
        if not (m := _SBV_TIMES.match(head.strip())):
            raise CorpusError(f"a cue does not start with a `0:00:01.000,0:00:04.000` line: {head[:60]!r}")
        spoken, speaker = _split_speaker(" ".join(body.split("\n")))
        out.append(Cue(_seconds(m.group(1)), _seconds(m.group(2)), spoken, speaker))
    return sorted(out, key=_start)


_SBV_TIMES = re.compile(r"^(\d+:\d{2}:\d{2}[.,]\d{1,3})\s*,\s*(\d+:\d{2}:\d{2}[.,]\d{1,3})$")
_LRC_STAMP = re.compile(r"\[(\d{1,3}:\d{2}(?:[.:]\d{1,3})?)\]")
_LRC_TAG = re.compile(r"^\[[a-zA-Z#]+:[^\]]*\]\s*$")  # [ti:Title], [ar:Artist], [offset:+0]


def _lrc(text: str) -> list[Cue]:
    """LRC: `[mm:ss.xx]` stamps before each line (several for a repeated line); a line lasts until the next."""
    stamped: list[tuple[float, str]] = []
    for line in text.splitlines():
        stamps = []
        while m := _LRC_STAMP.match(line):
            stamp = m.group(1)
            if stamp.count(":") == 2:  # [mm:ss:xx]
                stamp = stamp[: stamp.rindex(":")] + "." + stamp[stamp.rindex(":") + 1 :]
            stamps.append(_seconds(stamp))
            line = line[m.end() :]
        if stamps:
            stamped += [(t, line.strip()) for t in stamps]
        elif line.strip() and not _LRC_TAG.match(line.strip()):
            raise CorpusError(f"a line has no [mm:ss.xx] time: {line[:60]!r}")
    stamped.sort(key=lambda x: x[0])
    out = []
    for i, (t0, line) in enumerate(stamped):
        spoken, speaker = _split_speaker(line)
        out.append(Cue(t0, stamped[i + 1][0] if i + 1 < len(stamped) else None, spoken, speaker))
    return out


_ASS_OVERRIDE = re.compile(r"\{[^}]*\}")


def _ass(text: str) -> list[Cue]:
    """SubStation Alpha (.ass, .ssa): the `Dialogue:` lines of [Events], fields named by its `Format:` line."""
    fields: list[str] = []
    out = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "format":
            fields = [f.strip().lower() for f in value.split(",")]
        elif key.strip().lower() == "dialogue":
            if "text" not in fields:
                raise CorpusError("a Dialogue line comes before the [Events] Format line")
            row = dict(zip(fields, (v.strip() for v in value.split(",", len(fields) - 1)), strict=False))
            body = (
                _ASS_OVERRIDE.sub("", row.get("text", "")).replace("\\N", " ").replace("\\n", " ").replace("\\h", " ")
            )
            spoken, speaker = _split_speaker(body, row.get("name") or None)
            out.append(Cue(_seconds(row.get("start", "0")), _seconds(row.get("end", "0")), spoken, speaker))
    return sorted(out, key=_start)


def _sami(text: str) -> list[Cue]:
    """SAMI (.smi, .sami; Windows Media, Korean broadcasters): `<SYNC Start=ms>` blocks, read by
    pysubs2. A block shows until the next one starts (pysubs2 guesses shorter ends from the text's
    length); a block of only `&nbsp;` clears the screen and is no cue."""
    events = _events(text, "sami")
    ends = [e.start for e in events[1:]] + [e.end for e in events[-1:]]
    return [_cue(e, end) for e, end in zip(events, ends, strict=True)]


def _microdvd(text: str) -> list[Cue]:
    """MicroDVD (.sub): `{start frame}{end frame}text|line`, read by pysubs2 at the frame rate its
    first line gives (`{1}{1}25`), else 23.976, the film rate most such files were timed at. Binary
    VobSub .sub files are not text and are skipped before this."""
    return [_cue(e, e.end) for e in _events(text, "microdvd")]


def _events(text: str, form: str) -> list:
    """pysubs2's events of a subtitle file, in time order, comments left out."""
    import pysubs2

    first = text.lstrip("\ufeff").split("\n", 1)[0]
    fps = None if form != "microdvd" or re.match(r"\{1\}\{1\}\d", first) else 23.976
    found = pysubs2.SSAFile.from_string(text, format_=form, fps=fps)
    return sorted((e for e in found if not e.is_comment), key=lambda e: e.start)


def _cue(event, end_ms: int) -> Cue:
    spoken, speaker = _split_speaker(" ".join(event.plaintext.split()), event.name or None)
    return Cue(event.start / 1000, end_ms / 1000, spoken, speaker)


def _clock(value: str) -> float | None:
    """A TTML or JSON time: `00:01:02.500`, `62.5s`, `62500ms`, `1.5m`, `00:01:02:12` (frames left out), `62.5`."""
    value = value.strip()
    if not value:
        return None
    if m := re.fullmatch(r"([\d.]+)(h|ms|m|s)", value):
        return float(m.group(1)) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[m.group(2)]
    if m := re.fullmatch(r"PT(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?", value):  # ISO 8601: PT1M2.5S (Azure)
        return sum(float(x or 0) * unit for x, unit in zip(m.groups(), (3600, 60, 1), strict=True))
    if ":" in value:
        parts = value.split(":")
        return _seconds(":".join(parts[:3]))
    return float(value)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _xml(text: str) -> list[Cue]:
    """Timed text in XML: TTML / DFXP `<p begin= end=>` (Apple Podcasts' word spans, `ttm:agent`
    speakers), YouTube's `<text start= dur=>` and `<p t= d=>` (milliseconds)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(_XML_DECLARATION.sub("", text, count=1))  # text, already decoded
    names = {}  # TTML agents: xml:id -> the name its metadata gives
    for element in root.iter():
        if _local(element.tag) == "agent":
            ident = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            name = next((" ".join(e.itertext()).strip() for e in element.iter() if _local(e.tag) == "name"), "")
            if ident:
                names[ident] = name or ident
    ttml = _local(root.tag) == "tt"
    out = []
    for el in root.iter():
        attrs = {_local(k): v for k, v in el.attrib.items()}
        tag = _local(el.tag)
        if tag == "p" and (ttml or "begin" in attrs):  # a paragraph, timed itself or by its words
            t0, t1 = _ttml_times(el)
        elif tag == "p" and "t" in attrs:  # YouTube srv3: milliseconds
            t0 = int(attrs["t"]) / 1000
            t1 = t0 + int(attrs.get("d", "0")) / 1000
        elif tag == "text" and "start" in attrs:  # YouTube's older timedtext: seconds, entities escaped twice
            t0 = float(attrs["start"])
            t1 = t0 + float(attrs.get("dur", "0"))
        else:
            continue
        agent = attrs.get("agent")
        spoken, speaker = _split_speaker(html.unescape(_element_text(el)), names.get(agent, agent) if agent else None)
        out.append(Cue(t0, t1, spoken, speaker))
    if not out:
        raise CorpusError("no timed paragraphs (TTML's <p>, YouTube's <text start=…>) in this XML")
    return sorted(out, key=_start)


def _ttml_times(el) -> tuple[float | None, float | None]:
    """A TTML paragraph's begin and end, or its first word's begin and last word's end (Apple
    Podcasts may time only the words)."""
    timed = [{_local(k): v for k, v in e.attrib.items()} for e in el.iter()]
    begins = [a["begin"] for a in timed if "begin" in a]
    t0 = _clock(begins[0]) if begins else None
    ends = [a for a in timed if "end" in a]
    if ends:
        return t0, _clock(ends[0]["end"] if "end" in timed[0] else ends[-1]["end"])
    if t0 is not None and "dur" in timed[0]:
        return t0, t0 + (_clock(timed[0]["dur"]) or 0.0)
    return t0, None


def _element_text(el) -> str:
    """An element's text; `<br/>` and the boundary between two word spans with nothing between them
    (Apple Podcasts writes a sentence as touching word spans) read as a space."""
    parts = [el.text or ""]
    children = list(el)
    for i, child in enumerate(children):
        parts.append(" " if _local(child.tag) == "br" else _element_text(child))
        tail = child.tail or ""
        if not tail and i + 1 < len(children) and _local(child.tag) == "span" == _local(children[i + 1].tag):
            tail = " "
        parts.append(tail)
    return "".join(parts)


# Column names of transcript tables, as tools write them
_TEXT_COLUMNS = (
    "text",
    "transcript",
    "content",
    "body",
    "sentence",
    "utterance",
    "caption",
    "subtitle",
    "内容",
    "文本",
    "字幕",
)
_START_COLUMNS = (
    "start",
    "start_time",
    "starttime",
    "start time",
    "begin",
    "from",
    "start_ms",
    "startms",
    "开始",
    "开始时间",
)
_END_COLUMNS = ("end", "end_time", "endtime", "end time", "stop", "to", "end_ms", "endms", "结束", "结束时间")
_SPEAKER_COLUMNS = ("speaker", "speaker_name", "speaker name", "name", "who", "说话人", "发言人")


def _tsv(text: str) -> list[Cue]:
    return _table(text, "\t")


def _csv(text: str) -> list[Cue]:
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    return _table(text, delimiter)


def _table(text: str, delimiter: str) -> list[Cue]:
    """A table with a header row (Whisper's .tsv: start, end and text in milliseconds; a .csv with a
    text column, and maybe start, end and speaker columns: seconds, clock times or milliseconds)."""
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        raise CorpusError("the table is empty")
    header = [c.strip().lower().lstrip("\ufeff") for c in rows[0]]

    def column(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    at_text = column(_TEXT_COLUMNS)
    if at_text is None:
        raise CorpusError(f"no text column in the header ({', '.join(header[:8])}); name it text or transcript")
    at_start, at_end, at_speaker = column(_START_COLUMNS), column(_END_COLUMNS), column(_SPEAKER_COLUMNS)

    def cell(row: list[str], at: int | None) -> str:
        return row[at].strip() if at is not None and at < len(row) else ""

    body = rows[1:]
    times = [cell(r, at) for r in body for at in (at_start, at_end) if cell(r, at)]
    in_ms = any("ms" in header[at] for at in (at_start, at_end) if at is not None) or (
        bool(times) and all(t.isdigit() for t in times) and max(map(int, times)) > _MS_ABOVE
    )
    in_ms |= header[:3] == ["start", "end", "text"] and all(t.isdigit() for t in times)  # Whisper's .tsv

    def when(value: str) -> float | None:
        if not value:
            return None
        seconds = _clock(value)
        return seconds / 1000 if in_ms and seconds is not None and ":" not in value else seconds

    out = []
    for row in body:
        spoken, speaker = _split_speaker(cell(row, at_text), cell(row, at_speaker) or None)
        out.append(Cue(when(cell(row, at_start)), when(cell(row, at_end)), spoken, speaker))
    return sorted(out, key=_start)


# Whole numbers above this are milliseconds (a transcript in whole seconds this long would run 5.5 hours)
_MS_ABOVE = 20_000
# Keys under which JSON transcripts keep a cue's text, times and speaker, as tools write them
_TEXT_KEYS = (
    "text",
    "body",
    "transcript",
    "content",
    "utf8",
    "value",
    "sentence",
    "caption",
    "punctuated_word",
    "word",
    "display",
)
# lists whose texts make up a cue's; of alternatives (AWS, Google, Speechmatics) and Azure's nBest, the first
_PIECES_KEYS = ("segs", "elements", "sentences", "words", "alternatives", "nBest")
_BEST_KEYS = ("alternatives", "nBest")
_START_KEYS = (
    "start",
    "startTime",
    "start_time",
    "begin",
    "tStartMs",
    "startMs",
    "start_ms",
    "ts",
    "offsetInTicks",
    "offset",
)
_END_KEYS = ("end", "endTime", "end_time", "stop", "tEndMs", "endMs", "end_ms", "end_ts", "resultEndTime")
_DURATION_KEYS = ("dur", "duration", "dDurationMs", "durationMs", "duration_ms", "durationInTicks")
_TICK = 1e-7  # Azure's ticks: 100 nanoseconds
_SPEAKER_KEYS = ("speaker", "speaker_name", "speakerName", "speaker_label", "speakerLabel", "who", "agent")


def _json(text: str) -> list[Cue]:
    """Segments of a speech-to-text tool's JSON: a list of objects carrying text, the one nearest the
    top with more than one (segments, utterances, paragraphs rather than their words), times in
    seconds or milliseconds, and speakers. A tool that wrote only words has them merged into
    sentences; a JSON with a transcript string and no such list is one untimed cue."""
    return _json_cues(json.loads(text))


def _jsonl(text: str) -> list[Cue]:
    """JSON Lines: one segment object a line, read as a JSON list of them."""
    return _json_cues([json.loads(line) for line in text.splitlines() if line.strip()])


def _json_cues(data: object) -> list[Cue]:
    found = _cue_lists(data)
    words = [(depth, items) for depth, items in found if _of_words(items)]
    sentences = [(depth, items) for depth, items in found if not _of_words(items)]
    whole = _transcript_string(data)
    if many := [x for x in sentences if len(x[1]) > 1]:
        items, merge = _nearest(many), False
    elif words and sum(len(_json_text(x)) for x in _nearest(words)) >= len(whole) / 2:
        items, merge = _nearest(words), True
    elif whole:
        return [Cue(None, None, whole)]
    elif sentences:
        items, merge = _nearest(sentences), False
    else:
        raise CorpusError("no transcript in this JSON (a list of segments with text, or a transcript field)")
    in_ms = _in_milliseconds(items)
    out = []
    for item in items:
        t0, t1 = _json_times(item, in_ms)
        speaker = next((x[k] for x in (item, _best(item)) for k in _SPEAKER_KEYS if x.get(k) not in (None, "")), None)
        if isinstance(speaker, int) or (isinstance(speaker, str) and len(speaker) <= 2):
            speaker = f"Speaker {speaker}"  # diarisation's labels (0, 1, "A"): Speaker 0, Speaker A
        spoken, speaker = _split_speaker(_json_text(item), speaker if isinstance(speaker, str) else None)
        out.append(Cue(t0, t1, spoken, speaker))
    if all(c.t0 is None and c.t1 is not None for c in out):  # Google without word times: only where each ends
        out = [replace(c, t0=out[i - 1].t1 if i else 0.0) for i, c in enumerate(out)]
    if all(c.t0 is not None for c in out):  # items without a time (AWS's punctuation) keep their place
        out.sort(key=_start)
    return _merge_words(out) if merge else out


def _nearest(lists: list[tuple[int, list[dict]]]) -> list[dict]:
    """The list nearest the top of the document; of those, the longest."""
    return min(lists, key=lambda x: (x[0], -len(x[1])))[1]


def _cue_lists(data: object, depth: int = 0) -> list[tuple[int, list[dict]]]:
    """(depth, list) of each list of objects with text in a JSON document."""
    found: list[tuple[int, list[dict]]] = []
    if depth > 8:
        return found
    if isinstance(data, list):
        objects = [x for x in data if isinstance(x, dict)]
        if objects and len(objects) == len(data) and any(_json_text(x) for x in objects[:50]):
            found.append((depth, objects))
        for x in data[:3]:  # the structure of a list shows in its first items
            found += _cue_lists(x, depth + 1)
    elif isinstance(data, dict):
        for value in data.values():
            found += _cue_lists(value, depth + 1)
    return found


def _json_text(item: dict) -> str:
    for key in _TEXT_KEYS:
        if isinstance(item.get(key), str):
            return item[key]
    for key in _PIECES_KEYS:  # json3's segs, Rev's elements, Deepgram's sentences, AWS's alternatives
        pieces = item.get(key)
        if isinstance(pieces, list) and pieces and all(isinstance(p, dict) for p in pieces):
            texts = [_json_text(p) for p in pieces]
            if key in ("segs", "elements"):  # these carry their own spaces
                return "".join(texts)
            return " ".join(t.strip() for t in texts if t.strip()) if key not in _BEST_KEYS else texts[0]
    return ""


def _of_words(items: list[dict]) -> bool:
    """Whether a list's items are single words (a word-level timing), not segments or sentences:
    most are one Latin word, or at most four Chinese characters, with no space inside."""
    sample = [_json_text(x).strip() for x in items[:200]]
    words = sum(bool(t) and " " not in t and len(t) <= (4 if _has_cjk(t) else 20) for t in sample)
    return words >= 0.8 * max(1, len(sample))


def _transcript_string(data: object, depth: int = 0) -> str:
    """The longest transcript string of a JSON document (`text`, `transcript`), searched a few levels down."""
    if depth > 5:
        return ""
    best = ""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("text", "transcript") and isinstance(value, str) and len(value.strip()) > len(best):
                best = value.strip()
            elif isinstance(value, dict | list):
                best = max(best, _transcript_string(value, depth + 1), key=len)
    elif isinstance(data, list):
        for value in data[:3]:
            best = max(best, _transcript_string(value, depth + 1), key=len)
    return best


def _json_times(item: dict, in_ms: bool) -> tuple[float | None, float | None]:
    scale = 0.001 if in_ms else 1.0
    if isinstance(offsets := item.get("offsets"), dict):  # whisper.cpp: milliseconds
        return _number(offsets.get("from"), 0.001), _number(offsets.get("to"), 0.001)
    stamp = item.get("timestamp") or item.get("timestamps")
    if isinstance(stamp, list) and len(stamp) == 2:  # Hugging Face pipelines' chunks: [start, end]
        return _number(stamp[0], 1.0), _number(stamp[1], 1.0)
    if isinstance(stamp, dict):
        return _number(stamp.get("from"), 1.0), _number(stamp.get("to"), 1.0)
    t0, t1 = _first_time(item, _START_KEYS, scale), _first_time(item, _END_KEYS, scale)
    if t1 is None and t0 is not None:
        duration = _first_time(item, _DURATION_KEYS, scale)
        t1 = t0 + duration if duration is not None else None
    if t0 is None:  # Rev, Google: the times of a cue's first and last timed words
        for holder in (item, _best(item)):
            for key in ("elements", "words"):
                pieces = [p for p in holder.get(key) or [] if isinstance(p, dict)]
                timed = [_json_times(p, in_ms) for p in pieces]
                timed = [t for t in timed if t[0] is not None]
                if timed:
                    return timed[0][0], timed[-1][1]
    return t0, t1


def _best(item: dict) -> dict:
    """A result's first alternative (Google, AWS, Speechmatics) or best hypothesis (Azure's nBest)."""
    for key in _BEST_KEYS:
        pieces = item.get(key)
        if isinstance(pieces, list) and pieces and isinstance(pieces[0], dict):
            return pieces[0]
    return {}


def _first_time(item: dict, keys: tuple[str, ...], scale: float) -> float | None:
    """The first of `keys` that holds a time, in seconds (Azure writes "offset" as ISO 8601 and "offsetInTicks")."""
    return next((t for k in keys if k in item and (t := _number(item[k], _scale(k, scale))) is not None), None)


def _scale(key: str, scale: float) -> float:
    return 0.001 if key.endswith(("Ms", "_ms")) else _TICK if key.endswith("InTicks") else scale


def _number(value: object, scale: float) -> float | None:
    """A JSON time (a number, or a string of one or of a clock time) in seconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value * scale
    if isinstance(value, str):
        try:
            seconds = _clock(value)
        except ValueError:
            return None
        return None if seconds is None else seconds * (scale if ":" not in value else 1.0)
    return None


def _in_milliseconds(items: list[dict]) -> bool:
    """Whether a list's times are whole milliseconds (AssemblyAI) rather than seconds (Whisper)."""
    values = [item[k] for item in items for k in ("start", "end") if k in item]
    return (
        bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values) and max(values) > _MS_ABOVE
    )


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _between_chinese(text: str) -> str:
    """Text without the spaces between two Chinese characters or marks (words joined with spaces).
    Written out: a regular expression over these ranges takes milliseconds to compile, at every import."""
    kept = [
        ch
        for i, ch in enumerate(text)
        if not (ch == " " and 0 < i < len(text) - 1 and _chinese_mark(text[i - 1]) and _chinese_mark(text[i + 1]))
    ]
    return "".join(kept)


def _chinese_mark(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff01" <= ch <= "\uff5e"


def _merge_words(words: list[Cue]) -> list[Cue]:
    """Word-level cues joined into cues that end at a sentence end, a change of speaker or 200 characters."""
    out: list[Cue] = []
    run: list[Cue] = []

    def flush() -> None:
        if run:
            spoken = " ".join(" ".join(c.text for c in run).split())
            spoken = _between_chinese(re.sub(r" (?=[,.!?;:，。！？；：、])", "", spoken))
            t0 = next((c.t0 for c in run if c.t0 is not None), None)
            t1 = next((c.t1 for c in reversed(run) if c.t1 is not None), None)
            out.append(Cue(t0, t1, spoken, run[0].speaker))
            run.clear()

    for cue in words:
        if run and (cue.speaker != run[0].speaker or sum(len(c.text) for c in run) >= 200):
            flush()
        run.append(cue)
        if re.search(r"[.!?。！？]['\"”’)]?\s*$", cue.text):
            flush()
    flush()
    return out


# Plain-text and Markdown transcripts whose lines mark turns: a header with a time, and maybe a name
# ("Dr. Jane Doe (01:10:12):", "(05:12):" continuing the last speaker, "### Name (1:02)", Otter's
# "Speaker 1  00:03", Whisper's console "[00:01.000 --> 00:04.000] text"), or a tag ("【说话人0】", "Name：").
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
_PAREN_TURN = re.compile(
    rf"^(?:#{{1,6}}\s*)?(?:\*\*)?(?P<name>[^\n()（）\[\]*]{{0,60}}?)(?:\*\*)?\s*[(（\[](?P<t0>{_TIME})[)）\]]\s*[:：]?(?:\*\*)?\s*(?P<rest>.*)$"
)
_OTTER_TURN = re.compile(rf"^(?P<name>[^\d\s:：#>\[(（][^\n:：]{{0,40}}?)\s+(?P<t0>{_TIME})\s*$")
_CONSOLE_TURN = re.compile(rf"^\[(?P<t0>{_TIME})\s*-->\s*(?P<t1>{_TIME})\]\s*(?P<rest>.*)$")
_HEADING_TURN = re.compile(r"^#{1,6}\s*(?P<name>[^\n:：#]{1,40}?)\s*[:：]\s*(?P<rest>.*)$")
# Zoom's "[Name] 10:01:23"; a time first: "00:00:05 Name: text", "[00:05] text", or alone on its
# line, as a copied YouTube transcript writes it ("0:05" above each line)
_BRACKET_TURN = re.compile(rf"^\[(?P<name>[^\]\n]{{1,40}})\]\s+(?P<t0>{_TIME})\s*$")
_TIME_FIRST = re.compile(rf"^(?:\[(?P<t0>{_TIME})\]|[(（](?P<t0p>{_TIME})[)）]|(?P<t0b>{_TIME}))(?:\s+(?P<rest>.*))?$")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
# What may follow a time as the speaker's name alone, the speech on the lines below ("[00:00:05] Amit
# Varma", "00:00:05 Speaker 1", "00:05 张三"), or before a tab ("00:00:05<TAB>Amit<TAB>text"): up to four
# capitalised words, or two to six Chinese characters and a number
_NAME_ALONE = re.compile(r"^(?:[A-Z][\w'’.-]*(?: [A-Z0-9][\w'’.-]*){0,3}|[\u3400-\u9fff]{2,6}\s?\d{0,2})$")
MIN_TURNS = 3  # lines that mark turns before a file is read as turns


def _name(raw: str | None) -> str | None:
    """A speaker's name without the marks around it ("- Lenny" after a time, "Speaker 1 |" before one)."""
    return (raw or "").strip(" \t-–—*|·•:：") or None


def _named_after_time(i: int, rest: str, lines: list[str], marked: set[int]) -> tuple[str | None, str] | None:
    """(speaker, speech) where what follows line i's time begins with a name: "Alice: Hello", or the
    name alone with the speech on the lines below it or after a tab (Trint's and Sonix's
    "[00:00:05] Amit Varma", then the text); None otherwise."""
    if prefix := _SPEAKER_PREFIX.match(rest):
        return _name(next(g for g in prefix.groups() if g)), rest[prefix.end() :]
    name, tab, text = rest.partition("\t")
    below = i + 1 < len(lines) and i + 1 not in marked and lines[i + 1].strip()
    if _NAME_ALONE.match(name.strip()) and (tab and text.strip() or not tab and below):
        return name.strip(), text.strip()
    return None


def turns(lines: list[str]) -> list[Cue] | None:
    """The turns of a plain-text transcript's body lines, or None when its lines do not mark turns.

    A turn runs from its header or tagged line to the next; lines between continue it. A turn header
    is never text. Tags without a time count only when their name recurs (a line "Note: ..." is text).
    Markdown headings that mark no turn (the title again, "## Transcript", chapters) are not speech: left out.
    """
    marks: list[tuple[int, str | None, float | None, float | None, str]] = []  # line, speaker, t0, t1, rest
    for i, line in enumerate(lines):
        line = line.strip()
        if m := _PAREN_TURN.match(line) or _OTTER_TURN.match(line) or _BRACKET_TURN.match(line):
            marks.append((i, _name(m.group("name")), _seconds(m.group("t0")), None, m.groupdict().get("rest") or ""))
        elif m := _CONSOLE_TURN.match(line):
            marks.append((i, None, _seconds(m.group("t0")), _seconds(m.group("t1")), m.group("rest")))
        elif m := _TIME_FIRST.match(line):
            t0 = m.group("t0") or m.group("t0p") or m.group("t0b")
            marks.append((i, None, _seconds(t0), None, m.group("rest") or ""))
        elif (m := _HEADING_TURN.match(line)) or (m := _SPEAKER_PREFIX.match(line)):
            name = m.group("name") if "name" in m.groupdict() else next((g for g in m.groups() if g), None)
            rest = m.group("rest") if "rest" in m.groupdict() else line[m.end() :]
            if name := _name(name):
                marks.append((i, name, None, None, rest))
    # A timed line with no name may begin with one (_named_after_time): the speaker, where most such
    # lines do (the file's convention) or where the name recurs, as untimed tags must.
    marked = {m[0] for m in marks}
    bare = [m for m in marks if m[2] is not None and m[1] is None]
    found = {m[0]: got for m in bare if (got := _named_after_time(m[0], m[4], lines, marked))}
    said = [name for name, _ in found.values()]
    convention = len(found) >= max(2, len(bare) / 2)
    tagged = [name for _, name, t0, _, _ in marks if t0 is None and name]
    recurring = {name for name in tagged if tagged.count(name) >= 2}
    kept = []
    for i, name, t0, t1, rest in marks:
        if (got := found.get(i)) and (convention or said.count(got[0]) >= 2):
            name, rest = got
        if t0 is not None or name in recurring:
            kept.append((i, name, t0, t1, rest))
    marks = kept
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
