"""Transcripts kept in documents rather than text files: web pages (.html, .htm), Word files
(.docx), OpenDocument text (.odt, as LibreOffice saves it), PDFs (.pdf) and rich text (.rtf, as
TextEdit and WordPad save it), read to plain text with one line per paragraph or printed line, which
rag.documents then reads like any transcript (metadata lines, speaker turns, passages). Offsets
index that text, as they index a timed transcript's cue text.

Pages are read with html.parser (the text a reader sees, without scripts, styles, navigation and
footers), Word and OpenDocument files with zipfile and xml.etree (the one part that holds their
paragraphs; python-docx would read the same part, through lxml), PDFs with pypdf (their text layer: a scanned PDF
has none, and says so), rich text with striprtf (its `\\'xx` bytes in the code page the file declares).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from io import BytesIO

from .dates import iso_day
from .errors import CorpusError

SUFFIXES = (".html", ".htm", ".docx", ".odt", ".pdf", ".rtf")

# Elements whose text is not the page's content; elements that start a new line
_HIDDEN = {"script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form", "button", "select"}
_HIDDEN |= {"iframe", "object", "canvas", "head"}
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section"}
_BLOCKS |= {"article", "blockquote", "pre", "dt", "dd", "dl", "hr", "main", "header", "figure", "figcaption"}
_BLOCKS |= {"details", "summary", "address", "body", "html"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "source", "area", "base", "col", "embed", "track"}
_MENU = 80  # characters: a line this short made of links is navigation
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?$")


_DATE_META = {"article:published_time", "og:published_time", "date", "pubdate", "dc.date", "dcterms.date"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.hidden = 0  # depth inside elements whose text is left out
        self.title = ""
        self.heading = ""  # the first <h1>
        self.date = ""  # the page's publication date: its metadata, else its first <time datetime=…>
        self.open: dict[str, int] = {}  # title, h1, cite, time: where in the line their text began
        self.links = 0  # depth inside <a>
        self.linked = 0  # characters of the line (not spaces) inside links

    def handle_starttag(self, tag: str, attrs) -> None:
        found = dict(attrs)
        if tag == "meta" and (found.get("property") or found.get("name") or "").lower() in _DATE_META:
            self.date = iso_day(found.get("content") or "") or self.date
        elif tag == "time" and not self.date:
            self.date = iso_day(found.get("datetime") or "")
        if tag in _BLOCKS:
            self._break()
        elif tag in ("td", "th") and "".join(self.line).strip():
            self.line.append("\t")  # a table's cells stay apart: "00:00:05<TAB>Amit<TAB>text" reads as a turn
        if tag in _HIDDEN and tag not in _VOID:
            self.hidden += 1
        if tag in ("title", "h1", "cite", "time"):
            self.open[tag] = len(self.line)
        self.links += tag == "a"

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if (at := self.open.pop(tag, None)) is not None and at <= len(self.line):
            piece = " ".join("".join(self.line[at:]).split())
            if tag == "title":
                self.title = self.title or piece
                del self.line[at:]  # in <head>: not the page's text
            elif tag == "h1":
                self.heading = self.heading or piece
            elif tag == "cite":  # Podcasting 2.0's HTML transcripts: <cite>Name:</cite> <time>0:00</time> <p>…
                self.line[at:] = [piece.rstrip(":：")]
            elif tag == "time" and _CLOCK.match(piece):  # a turn's time, as rag.timed.turns reads it
                self.line[at:] = [f" ({piece}) "]
        if tag in _HIDDEN and tag not in _VOID and self.hidden:
            self.hidden -= 1
        if tag == "a" and self.links:
            self.links -= 1
        if tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.hidden or "title" in self.open:
            self.line.append(data)
            if self.links:
                self.linked += len("".join(data.split()))

    def _break(self) -> None:
        cells = (" ".join(cell.split()) for cell in "".join(self.line).split("\t"))
        line = "\t".join(cell for cell in cells if cell)
        # A short line that is (nearly) all links is the site's navigation ("Home | Episodes"), not speech.
        if line and not (self.linked >= 0.8 * len(line.replace(" ", "")) and len(line) <= _MENU):
            self.lines.append(line)
        self.line, self.linked = [], 0
        self.open = {tag: 0 for tag in self.open}  # an element open across a line break starts the new line

    def text(self) -> str:
        self._break()
        return "\n".join(self.lines)


def html_text(markup: str) -> tuple[str, dict[str, str]]:
    """(the text of a web page, one line per block; its metadata: `title` from <title>, else the
    first <h1>; `date` (YYYY-MM-DD) from its metadata or first <time datetime=…>, where it has them)."""
    page = _Page()
    page.feed(markup)
    page.close()
    meta = {"title": page.title or page.heading, "date": page.date}
    return page.text(), {k: v for k, v in meta.items() if v}


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def _package(data: bytes, name: str, part: str, properties: str, kind: str):
    """(the parsed XML of a zip package's `part`, the title its `properties` part gives) of an office file."""
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            root = ElementTree.fromstring(z.read(part))
            props = z.read(properties) if properties in z.namelist() else None
    except Exception as e:  # not a zip, no such part, damaged XML, an encrypted or unusual archive
        raise CorpusError(f"{name}: not a readable {kind} file ({e})") from None
    found = ElementTree.fromstring(props).find(f".//{_DC}title") if props is not None else None
    return root, (found.text or "").strip() if found is not None else ""


def docx_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """(the paragraphs of a Word file, one a line, a table's row as its cells apart by tabs; its
    metadata: the `title` its properties give)."""
    body, title = _package(data, name, "word/document.xml", "docProps/core.xml", "Word (.docx)")

    def text_of(paragraph) -> str:
        parts = []
        for el in paragraph.iter():
            if el.tag == f"{_W}t" and el.text:
                parts.append(el.text)
            elif el.tag == f"{_W}tab":
                parts.append("\t")
            elif el.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        return "".join(parts)

    lines = _lines(body, lambda el: el.tag == f"{_W}p", f"{_W}tr", f"{_W}tc", text_of)
    return "\n".join(lines), {"title": title} if title else {}


def _lines(body, is_line: Callable, row: str, cell: str, text_of: Callable) -> list[str]:
    """The text of each paragraph of an office document (`is_line`), one a line, except that a
    table's row is one line, its cells apart by tabs: a transcript set out as a table (time,
    speaker, text) reads as turns (rag.timed.turns)."""
    row_of = {p: r for r in body.iter(row) for p in r.iter() if is_line(p)}
    lines, done = [], set()
    for el in body.iter():
        if not is_line(el):
            continue
        if (r := row_of.get(el)) is None:
            lines.append(text_of(el))
        elif r not in done:
            done.add(r)
            cells = (" ".join(text_of(p) for p in c.iter() if is_line(p)) for c in r.findall(cell))
            lines.append("\t".join(c for c in cells if c.strip()))
    return lines


_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODT_LINES = (f"{_TEXT}p", f"{_TEXT}h")


def odt_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """(the paragraphs and headings of an OpenDocument text file, one a line; its metadata: the
    `title` its properties give)."""
    body, title = _package(data, name, "content.xml", "meta.xml", "OpenDocument (.odt)")

    def text_of(el, parts: list[str]) -> None:
        if el.tag == f"{_TEXT}s":  # a run of spaces
            parts.append(" " * int(el.get(f"{_TEXT}c", "1") or 1))
        elif el.tag == f"{_TEXT}tab":
            parts.append("\t")
        elif el.tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif el.text:
            parts.append(el.text)
        for child in el:
            if child.tag not in _ODT_LINES:  # a paragraph inside (a note's) is a line of its own
                text_of(child, parts)
            if child.tail:
                parts.append(child.tail)

    def line_of(paragraph) -> str:
        parts: list[str] = []
        text_of(paragraph, parts)
        return "".join(parts)

    lines = _lines(body, lambda el: el.tag in _ODT_LINES, f"{_TABLE}table-row", f"{_TABLE}table-cell", line_of)
    return "\n".join(lines), {"title": title} if title else {}


# A line that is only a page number ("12", "- 12 -", "Page 3 of 40"), which a printed transcript repeats
_PAGE_NUMBER = re.compile(r"^\s*(?:[-–—]\s*)?(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?(?:\s*[-–—])?\s*$", re.I)


def pdf_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """(the text of a PDF's pages, their page-number lines left out; its metadata: the `title` of
    its document information)."""
    from pypdf import PdfReader

    quiet = logging.getLogger("pypdf")  # its warnings about a damaged file: the reason below says it once
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            raise CorpusError(f"{name}: the PDF is encrypted; save a copy without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "").strip() if info is not None else ""
    except CorpusError:
        raise
    except Exception as e:  # pypdf's own errors, and what a damaged file makes its parser raise
        raise CorpusError(f"{name}: not a readable PDF ({type(e).__name__}: {e})") from None
    finally:
        quiet.setLevel(level)
    lines = [line for page in pages for line in page.splitlines() if not _PAGE_NUMBER.match(line)]
    if not any(line.strip() for line in lines):
        raise CorpusError(f"{name}: the PDF has no text layer (a scanned document?); nothing to read")
    return "\n".join(lines), {"title": title} if title else {}


_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")


def rtf_text(data: bytes, name: str) -> tuple[str, dict[str, str]]:
    """(the text of a rich-text file; no metadata). Its `\\'xx` bytes are read in the code page its
    header declares (`\\ansicpg936`: GBK), Windows-1252 where it declares none."""
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise CorpusError(f"{name}: not a rich-text (.rtf) file (it does not begin with {{\\rtf)")
    page = _CODE_PAGE.search(data[:4096])
    encoding = f"cp{int(page.group(1))}" if page else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        return rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace"), {}
    except Exception as e:  # striprtf's own errors on a damaged file
        raise CorpusError(f"{name}: not a readable rich-text file ({type(e).__name__}: {e})") from None
