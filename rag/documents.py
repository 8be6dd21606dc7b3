"""Transcript files in: metadata from headers, body regions, and offset-preserving normalisation.

A transcript file keeps its original decoded text; everything downstream (passages, citations)
points into it with character offsets. Normalised text (ASR spacing between Chinese characters
removed or turned into pauses) is what gets embedded and displayed, and `Normalised.offsets`
maps each of its characters back to the original.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import statistics
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import markup, timed
from .dates import iso_day
from .errors import CorpusError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
SUFFIXES = TEXT_SUFFIXES + timed.SUFFIXES + markup.SUFFIXES  # timed formats: rag.timed; pages, Word, PDF: rag.markup

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\u2018-\u201f\u2026\u2014"
_CJK_RE = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_SPACE_CJK = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_SPACE_RUN = re.compile(r"\s+")
# Half-width punctuation right after a Chinese character reads as its full-width form.
_AFTER_CJK_PUNCT = re.compile(f"(?<=[{_CJK}])[,?!;:]")
_FULL_WIDTH = str.maketrans({",": "，", "?": "？", "!": "！", ";": "；", ":": "："})

# Header lines that are boilerplate of podcast apps and read-later exports, not passage text.
_BOILERPLATE = [
    re.compile(p)
    for p in (
        r"^cover of episode\b",
        r"^logo of podcast\b",
        r"^(AI Deep Dive|Deep Dive|AI Chapters|Chapters|Transcript|Shownotes Transcript|Shownotes|People|Topics)"
        r"( (AI Deep Dive|Deep Dive|AI Chapters|Chapters|Transcript|Shownotes))*$",
        r"^\[[^\]]*\]\(\S+\)$",  # [Read on Omnivore](https://...)
        r"^#[A-Za-z]\w*$",  # #Omnivore tag line
        r"^-{3,}$",
        r"^#+ Full Content:?$",
        r"^date_saved: ",
    )
]
_HEADING = re.compile(r"^#{1,6}\s+(\S.*)$")  # a Markdown heading before any passage text is the title
_DATE_LINE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
_BODY_MARKERS = {"Shownotes Transcript", "Transcript"}
# The same, and the headings of a description's sections, as Markdown exports write them ("## Transcript",
# "**Summary**", "## Show notes"), compared lower-cased without the marks around them.
_BODY_LABELS = {
    "transcript",
    "shownotes transcript",
    "full transcript",
    "episode transcript",
    "文字稿",
    "逐字稿",
    "文字版",
    "文字记录",  # Feishu Minutes (飞书妙记)
}
_DESCRIPTION_LABELS = {
    *("summary", "episode summary", "show notes", "shownotes", "description", "episode description", "overview"),
    *("key takeaways", "takeaways", "highlights", "chapters", "timestamps", "topics", "in this episode"),
    *("摘要", "简介", "节目简介", "本期简介", "本期内容", "内容简介", "内容提要", "时间轴", "章节", "本期要点"),
    *("keywords", "关键词", "全文摘要", "章节速览", "要点回顾"),
}
_DESCRIPTION_LINES = 40  # a summary and a list of chapters are shorter
_RULE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,})$")
_MARKED = re.compile(
    r"^(?:#{1,6}\s+|\*\*)(?P<label>[^#*]+?)[:：]?(?:\*\*)?[:：]?\s*$"
)  # "## Summary", "**Transcript:**"
_LABEL_LINE = re.compile(r"^(?P<label>[^#*:：]{1,20}?)\s*[:：]$")  # a known label alone with its colon: "文字记录:"
_TITLE_LINE = 80  # a header line at most this long, with no sentence end, may be the title
_HEADER_LINES = 80  # boilerplate is only looked for near the top of a file


@dataclass(frozen=True)
class Document:
    """One transcript: its original text, metadata, and the regions of it that are passage text."""

    source: str
    title: str
    text: str
    regions: tuple[tuple[int, int], ...]
    meta: dict = field(default_factory=dict)
    titled: bool = True  # False: no title in the file or beside it; the index derives one (rag.indexing)
    segments: tuple = ()  # timed transcripts: rag.timed.Segment per cue (time and speaker of a character range)
    # What a podcast app wrote about the episode ahead of the transcript (Topics, chapter blurbs):
    # spans of `text` that are searched but nobody said, so answers never quote them as speech.
    summary: tuple[tuple[int, int], ...] = ()

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)


@dataclass(frozen=True)
class Normalised:
    """Normalised text plus, for each of its characters, the offset of its origin in the file text."""

    text: str
    offsets: Sequence[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the normalised slice [start, end)."""
        return self.offsets[start], self.offsets[end - 1] + 1


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_bytes(path: Path) -> bytes:
    """A corpus file's bytes, refusing empty files, files that are no regular file and links that lead
    nowhere, by name."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # reading a FIFO or a device would wait forever, or never end
            raise CorpusError(
                f"{path.name}: not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special file')}); skipped"
            )
        data = path.read_bytes()
    except OSError as e:  # a symbolic link to nothing, or a loop of them
        raise CorpusError(f"{path.name}: cannot be read ({e.strerror})") from None
    if not data.strip():
        raise CorpusError(f"{path.name}: file is empty")
    return data


# What a transcript that is not UTF-8 was written in: Simplified Chinese (GBK and its superset
# GB18030), Traditional Chinese (Big5), or English from Windows (Windows-1252, a superset of Latin-1).
LEGACY_ENCODINGS = ("gb18030", "big5", "cp1252")


def read_text(path: Path) -> str:
    """Decode a corpus file: UTF-8, UTF-16 with a byte-order mark, or a legacy encoding
    (LEGACY_ENCODINGS, told apart by charset-normalizer) when the bytes are no UTF-8 at all. A
    UTF-8 file with a few damaged bytes keeps its UTF-8, the damage shown as U+FFFD. Binary and
    undecodable files are refused by name."""
    return decode(read_bytes(path), path.name)


def decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte-order mark (Windows Notepad's "Unicode")
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise CorpusError(f"{name}: not valid UTF-16 ({e.reason} at byte {e.start})") from None
        if "\x00" in text or not text.strip():
            raise CorpusError(f"{name}: looks binary (NUL characters), not a text transcript")
        return text
    if b"\x00" in data[:8192]:
        raise CorpusError(f"{name}: looks binary (NUL bytes), not a text transcript")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        damaged = data.decode("utf-8", errors="replace")
        bad = damaged.count("\ufffd")
        if sum(ord(ch) > 0x7F for ch in damaged) - bad >= 10 * bad:  # UTF-8 text, damaged in a few places
            return damaged.removeprefix("\ufeff")
        first = f"{e.reason} at byte {e.start}"
    import charset_normalizer

    best = charset_normalizer.from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is None:
        raise CorpusError(f"{name}: not UTF-8 ({first}), nor GB18030, Big5 or Windows-1252 text")
    return str(best)


_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def corpus_files(folder: Path) -> list[Path]:
    """The transcript files of a corpus folder and of its subfolders (an archive kept by show or by
    year), sorted by their path in it; hidden folders (.git) and index directories are not read."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    # anything but a folder: files that are no regular file are skipped by name when read (read_text)
    files = [p for p in _files(folder) if p.suffix.lower() in SUFFIXES]
    if not files:
        raise CorpusError(f"no transcript files ({', '.join(SUFFIXES)}) in {folder}")
    return sorted(files, key=lambda p: source_name(p, folder))


def unread_kinds(folder: Path) -> str:
    """The files of a corpus folder that are of no transcript format, counted by extension
    ("300 .mp3, 2 .sub"); "" when there are none. A build says what it did not read."""
    kinds = Counter(p.suffix.lower() or "(no extension)" for p in _files(folder) if p.suffix.lower() not in SUFFIXES)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kn: (-kn[1], kn[0])))


def _files(folder: Path) -> Iterator[Path]:
    """Every file of a folder and its subfolders but hidden ones, index directories and sidecars."""
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _is_index(Path(here) / d))
        for name in names:
            if not name.startswith(".") and not name.endswith(".meta.json") and not (Path(here) / name).is_dir():
                yield Path(here) / name


def source_name(path: Path, folder: Path) -> str:
    """How a corpus file is known in the index: its path in the corpus folder (`show-a/ep1.srt`),
    which is its name for a file at the top."""
    return path.relative_to(folder).as_posix()


def _is_index(folder: Path) -> bool:
    """Whether a folder is an index directory (its manifest and passages), kept inside the corpus."""
    return (folder / "manifest.json").is_file() and (folder / "passages.jsonl").is_file()


def parse(source: str, text: str) -> Document:
    """Split a file's text into metadata and passage regions."""
    meta: dict = {}
    lines = _lines(text)
    body_from = 0
    if text.startswith("---\n") or text.startswith("---\r\n"):
        body_from = _front_matter(text, lines, meta)
    else:
        body_from = _header_fields(text, lines, meta)
    skip = set(range(body_from))
    in_people = False
    kept: list[int] = []  # header lines kept as text: the app's summary, if a transcript marker follows
    summary: list[int] = []
    # Lines of a description's sections ("## Summary", "## Show notes"), each kept once the next heading,
    # rule or transcript marker closes it: a section that nothing closes may run on into the transcript.
    described: list[int] = []
    section: list[int] | None = None
    for i, (start, end) in enumerate(lines[:_HEADER_LINES]):
        line = text[start:end].strip()
        if i < body_from or not line:
            continue
        plain = None if (m := _MARKED.match(line)) else _LABEL_LINE.match(line)
        label = marked.group("label").strip().lower() if (marked := m or plain) else None
        if plain and label not in _BODY_LABELS | _DESCRIPTION_LABELS:
            label = None  # "Note:" alone on its line is not a heading
        if section is not None and (label is not None or _RULE.match(line) or line in _BODY_MARKERS):
            described += section
            section = None
        if line in _BODY_MARKERS or label in _BODY_LABELS:
            skip.add(i)
            summary = _preamble(text, lines, kept, meta, skip)
            break
        if label in _DESCRIPTION_LABELS:
            skip.add(i)
            section = []
            continue
        if section is not None:
            section.append(i)
            if len(section) > _DESCRIPTION_LINES:
                section = None  # longer than a description: the transcript under a heading that named one
            continue
        if line.startswith("cover of episode "):
            meta.setdefault("title", line.removeprefix("cover of episode ").strip())
        elif line.startswith("logo of podcast "):
            meta.setdefault("show", line.removeprefix("logo of podcast ").strip())
        elif m := _DATE_LINE.match(line):
            meta.setdefault("date", "{}-{:0>2}-{:0>2}".format(*m.groups()))
        elif (m := _HEADING.match(line)) and "title" not in meta and not regions_started(lines, i, skip, text):
            meta["title"] = m.group(1).strip()
        elif line == "People":
            in_people = True
        elif line == "Topics":
            in_people = False
        elif in_people:
            # "People" lists names, each followed by a one-paragraph bio.
            if len(line) <= 20:
                meta.setdefault("speakers", []).append(line)
            skip.add(i)
            continue
        elif not (line in (meta.get("title"), meta.get("show")) or line.lstrip("# ") == meta.get("title")):
            if not any(p.search(line) for p in _BOILERPLATE):
                kept.append(i)
                continue
        skip.add(i)
    regions = _regions(lines, skip, text)
    if not regions:
        raise CorpusError(f"{source}: no passage text after the header")
    _common_keys(meta)
    title = meta.pop("title", None) or name_title(source)
    summary = sorted({*summary, *described})
    body = [text[s:e] for i, (s, e) in enumerate(lines) if i not in skip and text[s:e].strip()]
    if found := timed.turns(body):  # a transcript of turns: speaker (and time) of each, headers out of the text
        joined, segments = timed.join(found)
        # The description before the first turn: the text of no speaker at no time that opens the file
        opening = [(g.start, g.end) for g in segments[:1] if g.speaker is None and g.t0 is None]
        described_spans = tuple(opening) if summary else ()
        for s_, e_ in described_spans:
            meta.setdefault("description", joined[s_:e_])
        return Document(
            source,
            title or _first_words(joined),
            joined,
            ((0, len(joined)),),
            meta,
            bool(title),
            segments,
            summary=described_spans,
        )
    spans = tuple(lines[i] for i in summary)
    if spans:
        meta.setdefault("description", " ".join(text[s:e].strip() for s, e in spans))
    return Document(
        source=source,
        title=title or _first_words(text[regions[0][0] : regions[0][1]]),
        text=text,
        regions=tuple(regions),
        meta=meta,
        titled=bool(title),
        summary=spans,
    )


# Front-matter keys of common exports, read as the fields the product shows.
_DATE_KEYS = ("date", "publish_date", "published", "published_at", "pubdate", "pub_date", "release_date", "aired")
_SHOW_KEYS = ("show", "podcast", "channel", "series", "program")


def _common_keys(meta: dict) -> None:
    """Read a header's common keys as `date` (YYYY-MM-DD), `show` and `speakers` (a guest's name too)."""
    lower = {k.lower(): k for k in meta}
    for key in _DATE_KEYS:
        if key in lower and (m := re.match(r"\s*['\"]?(\d{4}-\d{2}(?:-\d{2})?)", str(meta[lower[key]]))):
            meta["date"] = m.group(1)
            break
    for key in _SHOW_KEYS:
        if key in lower and str(meta[lower[key]]).strip():
            meta.setdefault("show", str(meta[lower[key]]).strip().strip("'\""))
            break
    guests = meta.get("guest") or meta.get("guests")
    if guests:
        guests = (
            guests if isinstance(guests, list) else [g.strip() for g in re.split(r"[,，、;；&]| and ", str(guests))]
        )
        meta["speakers"] = list(
            dict.fromkeys([*meta.get("speakers", []), *(g.strip("'\" ") for g in guests if g.strip())])
        )
    if isinstance(meta.get("title"), str):
        meta["title"] = meta["title"].strip().strip("'\"")


def name_title(source: str) -> str:
    """A title from a file name that has words (`某播客-Vol12-聊聊长期投资-逐字稿.txt` -> 某播客 Vol12 聊聊长期投资
    逐字稿); "" for one that is an id or a hash (`000_2d6f43025af66c3e.txt`, `uEBAKXcegqVTBkUv.mp3.srt`).
    Of a file in a subfolder, its own name."""
    stem = source.rsplit("/", 1)[-1]
    while (dot := stem.rfind(".")) > 0 and len(stem) - dot <= 5:  # episode.mp3.srt -> episode
        stem = stem[:dot]
    parts = [p for p in re.split(r"[\s_\-.·]+", stem) if p]
    worded = [
        p
        for p in parts
        if _CJK_RE.search(p)
        or (p.isalpha() and len(p) >= 3 and (p.islower() or p.istitle() or p.isupper() and len(p) <= 5))
    ]
    return " ".join(parts) if worded and len(worded) >= len(parts) / 2 else ""


def regions_started(lines: list[tuple[int, int]], i: int, skip: set[int], text: str) -> bool:
    """Whether a line of passage text comes before line i (a heading after it is no title)."""
    return any(j not in skip and text[s:e].strip() for j, (s, e) in enumerate(lines[:i]))


def sidecar(path: Path) -> Path:
    """The metadata file that may sit beside a transcript: `episode.srt.meta.json` (the whole name), or
    `episode.meta.json` (the name without its extension)."""
    whole = path.with_name(path.name + ".meta.json")
    return whole if whole.is_file() else path.with_name(path.stem + ".meta.json")


def load(path: Path, source: str | None = None) -> Document:
    """Read and parse one transcript file, with the metadata of its sidecar file if it has one.
    `source` is what the index calls it (`source_name`); its file name by default.

    A sidecar is a JSON object; `title`, `show`, `date`, `speakers`, `url` and `audio` (a URL that
    citations of timed transcripts link to at their time) are the fields the product shows, and any
    other field is kept as metadata. Its values win over the file's header. Timed formats (subtitles,
    timed-text XML, tables, speech-to-text JSON) are read by rag.timed, web pages, Word files and
    PDFs by rag.markup.
    """
    suffix, source = path.suffix.lower(), source or path.name
    if suffix in markup.SUFFIXES:
        if suffix in (".docx", ".odt", ".pdf", ".rtf"):
            read = {
                ".docx": markup.docx_text,
                ".odt": markup.odt_text,
                ".pdf": markup.pdf_text,
                ".rtf": markup.rtf_text,
            }[suffix]
            text, found = read(read_bytes(path), path.name)
        else:
            text, found = markup.html_text(read_text(path))
        doc = _with_format_meta(parse(source, text), found)
    else:
        text = read_text(path)
        kind = suffix[1:] if suffix in timed.SUFFIXES else timed.sniff(text)  # subtitles saved as .txt too
        if kind:
            text, segments = timed.join(timed.cues(path.name, text, kind))
            title = name_title(source)
            doc = Document(
                source,
                title or _first_words(text),
                text,
                ((0, len(text)),),
                {},
                titled=bool(title),
                segments=segments,
            )
        else:
            doc = parse(source, text)
    side = sidecar(path)
    if not side.is_file():
        return doc
    try:
        meta = json.loads(side.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CorpusError(f"{side.name}: not a JSON metadata file ({e})") from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{side.name}: metadata must be a JSON object")
    title = str(meta.pop("title", "") or "").strip()
    return replace(doc, title=title or doc.title, titled=doc.titled or bool(title), meta={**doc.meta, **meta})


def _with_format_meta(doc: Document, found: dict[str, str]) -> Document:
    """A document with the title and date its file format gives (a page's <title> and publication
    date, a Word file's properties), unless its own text gave them (a title from the file name gives way)."""
    title = found.get("title", "")
    if title and (not doc.titled or doc.title == name_title(doc.source)):
        doc = replace(doc, title=title, titled=True)
    if found.get("date") and "date" not in doc.meta:
        doc = replace(doc, meta={**doc.meta, "date": found["date"]})
    return doc


def normalise(text: str, start: int = 0, end: int | None = None) -> Normalised:
    """Normalise ASR spacing in text[start:end], keeping a map back to original offsets.

    Two kinds of ASR spacing occur between Chinese characters: word segmentation
    ("好多 人都 这么 跟 我") and pauses in unpunctuated speech ("大家好 大家有没有想过").
    The first is removed, the second becomes a comma, told apart by the mean length of the
    Chinese runs the spaces separate. Other whitespace runs collapse to one space or newline.
    """
    end = len(text) if end is None else end
    piece = text[start:end]
    pause = _spaces_are_pauses(piece)
    # Whole runs of text are copied at once and offsets kept 8 bytes a character: a list of one
    # str and one int per character cost up to 100 bytes a character, gigabytes for a 50 MB file.
    parts: list[str] = []
    offsets = array("q")
    last = ""  # the last character written
    pos = 0

    def copy(i: int, j: int) -> None:  # piece[i:j], half-width , ? ! ; : after a Chinese character made full-width
        nonlocal last
        run = _AFTER_CJK_PUNCT.sub(lambda m: m.group().translate(_FULL_WIDTH), last + piece[i:j])[len(last) :]
        parts.append(run)
        offsets.extend(range(start + i, start + j))
        last = run[-1]

    for m in _SPACE_RUN.finditer(piece):
        i, j = m.span()
        if i > pos:
            copy(pos, i)
        pos = j
        nxt = piece[j] if j < len(piece) else ""
        if not last or not nxt:
            continue
        if "\n" in m.group():
            mark = "\n"
        elif _is_cjk(last) and _is_cjk(nxt):
            mark = "，" if pause else ""
        elif _is_cjk_punct(last) or (_is_cjk(last) and _is_cjk_punct(nxt)):
            mark = ""
        else:
            mark = " "
        if mark:
            parts.append(mark)
            offsets.append(start + i)
            last = mark
    if pos < len(piece):
        copy(pos, len(piece))
    return Normalised("".join(parts), offsets)


def _spaces_are_pauses(text: str) -> bool:
    runs = _CJK_RUN.findall(text)
    gaps = len(_CJK_SPACE_CJK.findall(text))
    return bool(runs) and gaps > 0 and statistics.mean(len(r) for r in runs) >= 4


def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_RE.match(ch))


def _is_cjk_punct(ch: str) -> bool:
    return bool(ch) and bool(re.match(f"[{_CJK_PUNCT}]", ch))


def _lines(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((pos, pos + len(line.rstrip("\r\n"))))
        pos += len(line)
    return spans


def _regions(lines: list[tuple[int, int]], skip: set[int], text: str) -> list[tuple[int, int]]:
    """Merge consecutive kept non-blank lines into (start, end) regions of the text."""
    regions: list[tuple[int, int]] = []
    cur: list[int] | None = None
    for i, (start, end) in enumerate(lines):
        if i in skip:
            if cur:
                regions.append((cur[0], cur[1]))
            cur = None
            continue
        if not text[start:end].strip():
            continue
        if cur is None:
            cur = [start, end]
        else:
            cur[1] = end
    if cur:
        regions.append((cur[0], cur[1]))
    return regions


def _front_matter(text: str, lines: list[tuple[int, int]], meta: dict) -> int:
    """Read a YAML-style front matter block (plain keys, `|` blocks, `-` lists); return the body's first line."""
    key = None
    for i, (start, end) in enumerate(lines[1:], start=1):
        line = text[start:end]
        if line.strip() == "---":
            for name, value in list(meta.items()):
                meta[name] = value.strip() if isinstance(value, str) else value
            if "author" in meta:
                meta["speakers"] = [meta.pop("author")]
            if "date_saved" in meta:
                meta.setdefault("date", meta.pop("date_saved")[:10])
            for name in ("id", "draft"):
                meta.pop(name, None)
            return i + 1
        if m := re.match(r"^([A-Za-z_]\w*):\s*(.*)$", line):
            key, value = m.group(1), m.group(2).strip()
            meta[key] = "" if value in ("|", ">") else value
        elif key is None:  # the first line is not `key: value`: a horizontal rule, not front matter
            meta.clear()
            return 0
        elif key and line.strip().startswith("- "):
            if not isinstance(meta.get(key), list):
                meta[key] = []
            meta[key].append(line.strip()[2:])
        elif key and isinstance(meta.get(key), str):
            meta[key] += " " + line.strip()
    return 0  # no closing fence: not front matter


# Fields of a header of `Key: value` lines, as transcript exports write them, and what each becomes
_FIELDS = {
    **dict.fromkeys(("title", "episode", "episode title", "标题", "节目标题", "本期标题", "题目"), "title"),
    **dict.fromkeys(
        ("date", "published", "publish date", "air date", "recorded", "日期", "发布日期", "发布时间"), "date"
    ),
    **dict.fromkeys(("show", "podcast", "series", "program", "节目", "播客", "栏目"), "show"),
    **dict.fromkeys(("guest", "guests", "host", "hosts", "speaker", "speakers", "participants"), "speakers"),
    **dict.fromkeys(("嘉宾", "主播", "主持人", "主持", "说话人", "发言人", "参与者", "主讲人"), "speakers"),
    **dict.fromkeys(("url", "link", "source", "链接", "原文链接"), "url"),
    **dict.fromkeys(("duration", "length", "时长"), "duration"),
}
_FIELD_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?\**([A-Za-z][A-Za-z ]{1,20}?|[\u4e00-\u9fff]{2,4})\**\s*[:：]\**\s*(\S.*?)\s*$"
)
_SENTENCE_END = re.compile(r"[.!?。！？…]$")


def _preamble(text: str, lines: list[tuple[int, int]], kept: list[int], meta: dict, skip: set[int]) -> list[int]:
    """The lines above a transcript marker, kept as the episode's description; of them, a short
    first line that ends no sentence is the title and a short line with a whole date gives the date,
    where nothing else gave them (Feishu Minutes: the title, "2024年3月5日 下午 2:00|1小时 2分钟",
    关键词:, then 文字记录:)."""
    out = []
    for n, i in enumerate(kept):
        line = text[lines[i][0] : lines[i][1]].strip()
        if n == 0 and "title" not in meta and len(line) <= _TITLE_LINE and not line.endswith(tuple("。！？.!?")):
            meta["title"] = line
        elif "date" not in meta and len(line) <= _TITLE_LINE and (day := iso_day(line)):
            meta["date"] = day
        else:
            out.append(i)
            continue
        skip.add(i)
    return out


def _header_fields(text: str, lines: list[tuple[int, int]], meta: dict) -> int:
    """Read a header of `Key: value` lines at the top of a file (`Title:`, `Date:`, `Guest:`, `嘉宾：`,
    `**Date:** …`; a Markdown `# title` may come first); return the body's first line. Two known
    fields at least make a header, and a speaker's value must read as names (short, not a sentence):
    a transcript that opens with "Host: Welcome to the show." has no header."""
    found: dict = {}
    last = fields = 0
    for i, (start, end) in enumerate(lines[:_HEADER_LINES]):
        line = text[start:end].strip()
        if not line:
            continue
        if i == last == 0 and (m := _HEADING.match(line)):
            found["title"] = m.group(1).strip()
            last = i + 1
            continue
        m = _FIELD_LINE.match(line)
        field = _FIELDS.get(m.group(1).strip().lower()) if m else None
        if not m or not field or len(m.group(2)) > 200:
            break
        value = m.group(2).strip("* ")
        if field == "speakers":
            names = [n.strip() for n in re.split(r"[,，、;；&/]| and ", value) if n.strip()]
            if not names or any(len(n) > 40 or _SENTENCE_END.search(n) for n in names):
                break
            found["speakers"] = [*found.get("speakers", []), *names]
        elif field == "date":
            if day := iso_day(value):
                found["date"] = day
            else:
                found["published"] = value
        else:
            found.setdefault(field, value)
        last, fields = i + 1, fields + 1
    if fields < 2:
        return 0
    for key, value in found.items():
        if key == "speakers":
            meta["speakers"] = list(dict.fromkeys([*meta.get("speakers", []), *value]))
        else:
            meta.setdefault(key, value)
    return last


def _first_words(text: str, limit: int = 40) -> str:
    """A title for a file without one: its first clause, cut at a boundary."""
    text = normalise(text[: limit * 4]).text.replace("\n", " ")
    m = re.match(rf"(.{{8,{limit}}}?)[，。！？,.!?；;]", text)
    if m:
        return m.group(1)
    return text[:limit].rstrip() + ("…" if len(text) > limit else "")
