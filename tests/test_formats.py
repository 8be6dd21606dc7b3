"""Transcripts as tools write them beyond SRT, WebVTT, Whisper JSON, text and Markdown: other subtitle
and timed-text formats, tables, the JSON of speech-to-text services, web pages, Word files, and text in
legacy encodings. Each is read to the same text, times and speakers, then searched and quoted."""

import json
import re
import zipfile

import pytest

from rag.documents import corpus_files, load
from rag.engine import Engine
from rag.errors import CorpusError
from rag.index import stale_sources
from rag.indexing import build

# One short exchange, written by many tools. Every reader must give these sentences, in order.
LINES = [
    ("Amit", 0.0, 4.5, "The floor space index decides how tall a building may be."),
    ("Alex", 4.5, 9.25, "So Mumbai chose a very low one in the sixties?"),
    ("Amit", 9.25, 15.0, "Yes, and that is why rents there are so high."),
]


def _clock(t: float, sep: str = ".", hours: str = "02") -> str:
    h, rest = divmod(t, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):{hours}}:{int(m):02}:{int(s):02}{sep}{round((s % 1) * 1000):03}"


def _words(text: str, t0: float, t1: float) -> list[tuple[str, float, float]]:
    words = text.split()
    step = (t1 - t0) / len(words)
    return [(w, round(t0 + i * step, 3), round(t0 + (i + 1) * step, 3)) for i, w in enumerate(words)]


_SM = {"Amit": "S1", "Alex": "S2"}  # Speechmatics' diarisation labels
ASS_ITALIC = "{\\i1}"  # an override block, not text


def _ass_break(text: str) -> str:
    return text.replace(", ", ",\\N", 1)  # a hard line break inside the cue


def render(lines: list[tuple[str, float, float, str]]) -> dict[str, str]:
    """The exchange `lines` as each format writes it (YouTube's json3 is saved as .json)."""
    return {
        "youtube.sbv": "\n\n".join(f"{_clock(a, '.', '')},{_clock(b, '.', '')}\n{who}: {t}" for who, a, b, t in lines),
        "lyrics.lrc": "[ti:FSI]\n[ar:The Show]\n"
        + "\n".join(f"[{int(a // 60):02}:{a % 60:05.2f}]{who}: {t}" for who, a, _, t in lines),
        "subs.ass": "[Script Info]\nTitle: FSI\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        + "\n".join(
            f"Dialogue: 0,{_clock(a, '.', '')[:-1]},{_clock(b, '.', '')[:-1]},Default,{who},0,0,0,,{ASS_ITALIC}{_ass_break(t)}"
            for who, a, b, t in lines
        ),
        # SAMI: a block per cue, a block of &nbsp; clears the screen (the last cue's end)
        "windows.smi": "<SAMI>\n<HEAD><TITLE>FSI</TITLE></HEAD>\n<BODY>\n"
        + "".join(f"<SYNC Start={round(a * 1000)}><P Class=ENCC>{who}: {t}\n" for who, a, _, t in lines)
        + f"<SYNC Start={round(lines[-1][2] * 1000)}><P Class=ENCC>&nbsp;\n</BODY></SAMI>\n",
        # MicroDVD: frames, at the rate its first line gives; | breaks a line
        "movie.sub": "{1}{1}25\n"
        + "".join(
            f"{{{round(a * 25)}}}{{{round(b * 25)}}}{who}: {t.replace(', ', ',|', 1)}\n" for who, a, b, t in lines
        ),
        # Apple Podcasts: sentences of touching word spans, speakers as ttm:agent
        "apple.ttml": '<?xml version="1.0" encoding="UTF-8"?>\n<tt xmlns="http://www.w3.org/ns/ttml" '
        'xmlns:ttm="http://www.w3.org/ns/ttml#metadata" xmlns:podcasts="http://podcasts.apple.com/transcript-ttml-internal">'
        "<body><div>"
        + "".join(
            f'<p begin="{a}" end="{b}" ttm:agent="{who}"><span podcasts:unit="sentence">'
            + "".join(f'<span podcasts:unit="word" begin="{x}" end="{y}">{w}</span>' for w, x, y in _words(t, a, b))
            + "</span></p>"
            for who, a, b, t in lines
        )
        + "</div></body></tt>",
        "captions.dfxp": '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttm="http://www.w3.org/ns/ttml#metadata">'
        '<head><metadata><ttm:agent xml:id="a1"><ttm:name>Amit</ttm:name></ttm:agent></metadata></head><body><div>'
        + "".join(
            f'<p begin="{_clock(a)}" end="{_clock(b)}"{" ttm:agent=" + chr(34) + "a1" + chr(34) if who == "Amit" else ""}>'
            f"{t.replace(', ', ',<br/>', 1)}</p>"
            for who, a, b, t in lines
        )
        + "</div></body></tt>",
        "youtube_srv1.xml": '<?xml version="1.0" encoding="utf-8" ?><transcript>'
        + "".join(f'<text start="{a}" dur="{b - a}">{t.replace("that", "th&amp;#97;t")}</text>' for _, a, b, t in lines)
        + "</transcript>",
        "youtube_srv3.xml": '<?xml version="1.0" encoding="utf-8" ?><timedtext format="3"><body>'
        + "".join(f'<p t="{int(a * 1000)}" d="{int((b - a) * 1000)}">{t}</p>' for _, a, b, t in lines)
        + "</body></timedtext>",
        "whisper.tsv": "start\tend\ttext\n"
        + "".join(f"{int(a * 1000)}\t{int(b * 1000)}\t{t}\n" for _, a, b, t in lines),
        "descript.csv": "Speaker,Start Time,End Time,Transcript\n"
        + "".join(f'{who},{_clock(a)},{_clock(b)},"{t}"\n' for who, a, b, t in lines),
        "podcasting20.json": json.dumps(
            {
                "version": "1.0.0",
                "segments": [
                    {"speaker": who, "startTime": x, "endTime": y, "body": w}
                    for who, a, b, t in lines
                    for w, x, y in _words(t, a, b)
                ],
            }
        ),
        "whisper_cpp.json": json.dumps(
            {
                "systeminfo": "AVX = 1",
                "transcription": [
                    {
                        "timestamps": {"from": _clock(a, ","), "to": _clock(b, ",")},
                        "offsets": {"from": int(a * 1000), "to": int(b * 1000)},
                        "text": f" {t}",
                    }
                    for _, a, b, t in lines
                ],
            }
        ),
        "assemblyai.json": json.dumps(
            {
                "id": "x",
                "text": " ".join(t for *_, t in lines),
                "utterances": [
                    {
                        "speaker": "A" if who == "Amit" else "B",
                        "start": int(a * 1000) + 30000,
                        "end": int(b * 1000) + 30000,
                        "text": t,
                    }
                    for who, a, b, t in lines
                ],
                "words": [{"text": w, "start": int(x * 1000)} for _, a, b, t in lines for w, x, _ in _words(t, a, b)],
            }
        ),
        "deepgram.json": json.dumps(
            {
                "metadata": {"duration": 15.0},
                "results": {
                    "channels": [
                        {
                            "alternatives": [
                                {
                                    "transcript": " ".join(t for *_, t in lines),
                                    "words": [
                                        {"word": w.lower().strip(",.?"), "punctuated_word": w, "start": x, "end": y}
                                        for _, a, b, t in lines
                                        for w, x, y in _words(t, a, b)
                                    ],
                                    "paragraphs": {
                                        "paragraphs": [
                                            {
                                                "speaker": 0 if who == "Amit" else 1,
                                                "start": a,
                                                "end": b,
                                                "sentences": [{"text": t, "start": a, "end": b}],
                                            }
                                            for who, a, b, t in lines
                                        ]
                                    },
                                }
                            ]
                        }
                    ]
                },
            }
        ),
        # AWS Transcribe without audio segments: words and punctuation as items
        "aws.json": json.dumps(
            {
                "jobName": "x",
                "results": {
                    "transcripts": [{"transcript": " ".join(t for *_, t in lines)}],
                    "items": [
                        item
                        for who, a, b, t in lines
                        for w, x, y in _words(t, a, b)
                        for item in (
                            [
                                {
                                    "start_time": str(x),
                                    "end_time": str(y),
                                    "alternatives": [{"content": w.rstrip(",.?")}],
                                    "type": "pronunciation",
                                }
                            ]
                            + (
                                [{"alternatives": [{"content": w[-1]}], "type": "punctuation"}]
                                if w[-1] in ",.?"
                                else []
                            )
                        )
                    ],
                },
            }
        ),
        "rev.json": json.dumps(
            {
                "monologues": [
                    {
                        "speaker": 0,
                        "speaker_name": who,
                        "elements": [
                            e
                            for i, (w, x, y) in enumerate(_words(t, a, b))
                            for e in ([{"type": "punct", "value": " "}] if i else [])
                            + [{"type": "text", "value": w, "ts": x, "end_ts": y}]
                        ],
                    }
                    for who, a, b, t in lines
                ]
            }
        ),
        "youtube_json3.json": json.dumps(
            {
                "events": [
                    {"tStartMs": int(a * 1000), "dDurationMs": int((b - a) * 1000), "segs": [{"utf8": t}]}
                    for _, a, b, t in lines
                ]
            }
        ),
        "hf_chunks.json": json.dumps(
            {
                "text": " ".join(t for *_, t in lines),
                "chunks": [{"timestamp": [a, b], "text": t} for _, a, b, t in lines],
            }
        ),
        # Azure Speech batch transcription: phrases with an n-best list, times in 100 ns ticks and ISO 8601
        "azure.json": json.dumps(
            {
                "source": "https://example.com/ep.wav",
                "durationInTicks": 150000000,
                "combinedRecognizedPhrases": [{"channel": 0, "display": " ".join(t for *_, t in lines)}],
                "recognizedPhrases": [
                    {
                        "recognitionStatus": "Success",
                        "channel": 0,
                        "speaker": 1 if who == "Amit" else 2,
                        "offset": f"PT{a}S",
                        "duration": f"PT{round(b - a, 3)}S",
                        "offsetInTicks": int(a * 10_000_000),
                        "durationInTicks": int((b - a) * 10_000_000),
                        "nBest": [{"confidence": 0.9, "lexical": t.lower(), "itn": t.lower(), "display": t}],
                    }
                    for who, a, b, t in lines
                ],
            }
        ),
        # Google Cloud Speech-to-Text (v1): a result per phrase, word times as "1.200s", no start of its own
        "google_stt.json": json.dumps(
            {
                "results": [
                    {
                        "alternatives": [
                            {
                                "transcript": t,
                                "confidence": 0.9,
                                "words": [
                                    {"startTime": f"{x:.3f}s", "endTime": f"{y:.3f}s", "word": w}
                                    for w, x, y in _words(t, a, b)
                                ],
                            }
                        ],
                        "resultEndTime": f"{b:.3f}s",
                        "languageCode": "en-us",
                    }
                    for _, a, b, t in lines
                ]
            }
        ),
        # Speechmatics (json-v2): words and punctuation, the speaker in each alternative
        "speechmatics.json": json.dumps(
            {
                "format": "2.9",
                "results": [
                    item
                    for who, a, b, t in lines
                    for w, x, y in _words(t, a, b)
                    for item in (
                        [
                            {
                                "type": "word",
                                "start_time": x,
                                "end_time": y,
                                "alternatives": [{"content": w.rstrip(",.?"), "confidence": 1.0, "speaker": _SM[who]}],
                            }
                        ]
                        + (
                            [
                                {
                                    "type": "punctuation",
                                    "start_time": y,
                                    "end_time": y,
                                    "is_eos": w[-1] != ",",
                                    "attaches_to": "previous",
                                    "alternatives": [{"content": w[-1], "confidence": 1.0, "speaker": _SM[who]}],
                                }
                            ]
                            if w[-1] in ",.?"
                            else []
                        )
                    )
                ],
            }
        ),
        # a page that sets its transcript out as a table: time, speaker, text
        "table.html": "<html><head><title>FSI, explained</title></head><body><table>"
        + "".join(f"<tr><td>{_clock(a, '.', '')}</td><td>{who}</td><td>{t}</td></tr>" for who, a, _, t in lines)
        + "</table></body></html>",
        "podcast20.html": "<html><head><title>FSI, explained</title></head><body>"
        + "".join(
            f"<cite>{who}:</cite>\n<time>{int(a // 60)}:{int(a % 60):02}</time>\n<p>{t}</p>\n" for who, a, _, t in lines
        )
        + "</body></html>",
    }


FORMATS = render(LINES)
# as yt-dlp names YouTube's caption files
FORMATS |= {"episode.en.srv3": FORMATS["youtube_srv3.xml"], "episode.en.json3": FORMATS["youtube_json3.json"]}
TIMED = {name for name in FORMATS if not name.endswith((".html", ".lrc"))}  # formats that carry end times


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_gives_the_sentences_in_order_with_their_times(tmp_path, name):
    path = tmp_path / name
    path.write_text(FORMATS[name], "utf-8")
    doc = load(path)
    flat = " ".join(doc.text.split())
    at = [flat.find(t) for *_, t in LINES]
    assert -1 not in at and at == sorted(at), flat
    starts = [s.t0 for s in doc.segments]
    assert starts == sorted(starts) and starts[0] is not None
    offset = 30.0 if name == "assemblyai.json" else 0.0  # its times run from 30 s, in milliseconds
    precision = 0.5 if name.endswith(".html") else 0.02  # a page's <time> gives whole seconds
    assert any(abs(t0 - (9.25 + offset)) < precision for t0 in starts if t0 is not None), starts
    if name in TIMED:
        assert max(s.t1 for s in doc.segments) == pytest.approx(15.0 + offset, abs=0.02)


@pytest.mark.parametrize(
    "name,speakers",
    [
        ("youtube.sbv", {"Amit", "Alex"}),
        ("subs.ass", {"Amit", "Alex"}),
        ("windows.smi", {"Amit", "Alex"}),
        ("movie.sub", {"Amit", "Alex"}),
        ("apple.ttml", {"Amit", "Alex"}),
        ("captions.dfxp", {"Amit", None}),
        ("descript.csv", {"Amit", "Alex"}),
        ("podcasting20.json", {"Amit", "Alex"}),
        ("assemblyai.json", {"Speaker A", "Speaker B"}),
        ("deepgram.json", {"Speaker 0", "Speaker 1"}),
        ("azure.json", {"Speaker 1", "Speaker 2"}),
        ("speechmatics.json", {"Speaker S1", "Speaker S2"}),
        ("table.html", {"Amit", "Alex"}),
        ("podcast20.html", {"Amit", "Alex"}),
    ],
)
def test_speakers_are_read_where_the_format_names_them(tmp_path, name, speakers):
    path = tmp_path / name
    path.write_text(FORMATS[name], "utf-8")
    assert {s.speaker for s in load(path).segments} == speakers


def test_google_results_without_word_times_start_where_the_one_before_ends(tmp_path):
    """Google Speech-to-Text without word offsets writes only where each result ends."""
    data = json.loads(FORMATS["google_stt.json"])
    for result in data["results"]:
        del result["alternatives"][0]["words"]
    path = tmp_path / "google_stt.json"
    path.write_text(json.dumps(data), "utf-8")
    assert [(s.t0, s.t1) for s in load(path).segments] == [(0.0, 4.5), (4.5, 9.25), (9.25, 15.0)]


def test_word_level_output_is_merged_into_sentences(tmp_path):
    for name in ("podcasting20.json", "aws.json", "speechmatics.json"):
        path = tmp_path / name
        path.write_text(FORMATS[name], "utf-8")
        doc = load(path)
        assert len(doc.segments) == len(LINES), name
        assert doc.text.split("\n")[2] == LINES[2][3]  # punctuation items join their word


def test_a_page_or_word_file_is_read_as_text_with_its_title(tmp_path):
    page = tmp_path / "episode-12.html"
    page.write_text(
        "<!doctype html><html><head><title>Ep. 12 &amp; the FSI</title><script>var t = 1;</script>"
        '<meta property="article:published_time" content="2017-03-27T08:00:00Z"></head>'
        "<body><nav><a href='/'>Home</a></nav><div class=menu><a href=/>Shows</a> | <a href=/e>Episodes</a></div>"
        "<article><h2>Transcript</h2><p>The floor space index decides how tall a building may be.</p>"
        "<p>Rents follow from <a href=/fsi>it</a>.</p></article><footer>© 2024</footer></body></html>",
        "utf-8",
    )
    doc = load(page)
    assert doc.title == "Ep. 12 & the FSI" and doc.meta["date"] == "2017-03-27"
    assert "var t" not in doc.text and "Home" not in doc.text and "Episodes" not in doc.text and "2024" not in doc.text
    assert "The floor space index decides how tall a building may be.\nRents follow from it." in doc.text

    word = tmp_path / "interview.docx"
    with zipfile.ZipFile(word, "w") as z:
        w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        paragraphs = "".join(
            f"<w:p><w:r><w:t>{who}  {int(a // 60)}:{int(a % 60):02}</w:t></w:r></w:p>"
            f"<w:p><w:r><w:t xml:space='preserve'>{t[:20]}</w:t></w:r><w:r><w:t>{t[20:]}</w:t></w:r></w:p>"
            for who, a, _, t in LINES
        )
        z.writestr("word/document.xml", f"<w:document {w}><w:body>{paragraphs}</w:body></w:document>")
        z.writestr(
            "docProps/core.xml",
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>FSI interview</dc:title></cp:coreProperties>',
        )
    doc = load(word)
    assert doc.title == "FSI interview"
    assert [s.speaker for s in doc.segments] == ["Amit", "Alex", "Amit"]  # Otter's "Name  0:03" turns
    assert [doc.text[s.start : s.end] for s in doc.segments] == [t for *_, t in LINES]
    # a transcript set out as a table (time, speaker, text a row): each row is a turn
    table = tmp_path / "table.docx"
    with zipfile.ZipFile(table, "w") as z:
        cell = "<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>"
        rows = "".join(
            "<w:tr>" + "".join(cell.format(x) for x in (f"0:{int(a):02}", who, t)) + "</w:tr>" for who, a, _, t in LINES
        )
        z.writestr("word/document.xml", f"<w:document {w}><w:body><w:tbl>{rows}</w:tbl></w:body></w:document>")
    doc = load(table)
    assert [(s.speaker, doc.text[s.start : s.end]) for s in doc.segments] == [(who, t) for who, _, _, t in LINES]
    (tmp_path / "fake.docx").write_bytes(b"not a zip at all")
    with pytest.raises(CorpusError, match=r"fake.docx: not a readable Word \(.docx\) file"):
        load(tmp_path / "fake.docx")


def test_an_opendocument_text_file_is_read_with_its_title(tmp_path):
    """LibreOffice's .odt: paragraphs and headings one a line, spans joined, runs of spaces kept."""
    odt = tmp_path / "interview.odt"
    t = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    o = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    paragraphs = "".join(
        f"<text:p>{who}<text:s text:c='2'/>{int(a // 60)}:{int(a % 60):02}</text:p>"
        f"<text:p><text:span>{t[:20]}</text:span>{t[20:]}</text:p>"
        for who, a, _, t in LINES
    )
    with zipfile.ZipFile(odt, "w") as z:
        z.writestr(
            "content.xml",
            f"<office:document-content {o} {t}><office:body><office:text><text:h>FSI</text:h>{paragraphs}"
            "</office:text></office:body></office:document-content>",
        )
        z.writestr(
            "meta.xml",
            f'<office:document-meta {o} xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta>'
            "<dc:title>FSI interview</dc:title></office:meta></office:document-meta>",
        )
    doc = load(odt)
    assert doc.title == "FSI interview"
    assert [s.speaker for s in doc.segments if s.speaker] == ["Amit", "Alex", "Amit"]  # "Name  0:03" turns
    assert [doc.text[s.start : s.end] for s in doc.segments if s.speaker] == [t for *_, t in LINES]
    # a transcript set out as a table (time, speaker, text a row): each row is a turn
    tb = 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    rows = "".join(
        "<table:table-row>"
        + "".join(f"<table:table-cell><text:p>{x}</text:p></table:table-cell>" for x in (f"0:{int(a):02}", who, t))
        + "</table:table-row>"
        for who, a, _, t in LINES
    )
    with zipfile.ZipFile(tmp_path / "table.odt", "w") as z:
        z.writestr(
            "content.xml",
            f"<office:document-content {o} {t} {tb}><office:body><office:text><table:table>{rows}</table:table>"
            "</office:text></office:body></office:document-content>",
        )
    doc = load(tmp_path / "table.odt")
    assert [(s.speaker, doc.text[s.start : s.end]) for s in doc.segments] == [(who, x) for who, _, _, x in LINES]
    (tmp_path / "fake.odt").write_bytes(b"not a zip at all")
    with pytest.raises(CorpusError, match=r"fake.odt: not a readable OpenDocument \(.odt\) file"):
        load(tmp_path / "fake.odt")


@pytest.mark.parametrize(
    "encoding,text",
    [
        ("gb18030", "亚马逊内部做过一个大模型，代号是Q，这个项目前后一年就宣告失败了。"),
        ("big5", "亞馬遜內部做過一個大模型，代號是Q，這個項目前後一年就宣告失敗了。"),
        ("cp1252", "It\u2019s the \u201cfloor space index\u201d \u2014 na\u00efve rules, caf\u00e9 rents."),
    ],
)
def test_text_in_a_legacy_encoding_is_decoded(tmp_path, encoding, text):
    path = tmp_path / "episode.txt"
    path.write_bytes(text.encode(encoding))
    assert load(path).text == text


def test_utf8_with_a_damaged_byte_keeps_its_utf8(tmp_path):
    path = tmp_path / "episode.txt"
    path.write_bytes("亚马逊的Q项目失败了。".encode() + b"\xff" + b" Rents are high.")
    assert load(path).text == "亚马逊的Q项目失败了。\ufffd Rents are high."


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("notes.json", '{"version": 2, "tags": ["a", "b"]}', "no transcript in this JSON"),
        ("feed.xml", "<rss><channel><title>x</title><p>not a cue</p></channel></rss>", "no timed paragraphs"),
        ("table.csv", "id,title\n1,x\n", "no text column"),
        ("bad.sbv", "hello\nworld\n", "does not start with"),
        ("bad.lrc", "just a line\n", "has no [mm:ss.xx] time"),
        ("bad.ttml", "<tt><body><p begin=", "not a valid TTML transcript"),
        ("bad.smi", "<SAMI><BODY>no sync here</BODY></SAMI>", "no cue with text"),
        ("bad.sub", "hello\nworld\n", "no cue with text"),
    ],
)
def test_a_file_that_is_not_a_transcript_is_named_with_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with pytest.raises(CorpusError, match=f"{re.escape(name)}: .*{re.escape(reason)}"):
        load(path)


def test_a_folder_of_every_format_builds_and_answers_with_quotes_from_each(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("formats")
    facts = {  # one fact per file, asked for below; every file also carries the shared exchange
        "youtube.sbv": (
            "The ferry to Elephanta leaves every half hour from the Gateway.",
            "How often does the ferry to Elephanta leave?",
        ),
        "apple.ttml": (
            "Chawls were built for mill workers in the nineteen twenties.",
            "Who were the chawls built for?",
        ),
        "whisper.tsv": (
            "The metro line three runs underground from Colaba to Seepz.",
            "Where does metro line three run?",
        ),
        "assemblyai.json": (
            "Dabbawalas deliver two hundred thousand lunch boxes a day.",
            "How many lunch boxes do dabbawalas deliver?",
        ),
        "podcast20.html": (
            "The sea link cut the drive from Bandra to Worli to ten minutes.",
            "How long is the drive from Bandra to Worli on the sea link?",
        ),
    }
    for name, (fact, _) in facts.items():
        # the fact is the exchange's last line
        (folder / name).write_text(render([*LINES[:2], (*LINES[2][:3], fact)])[name], "utf-8")
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff")  # not a transcript: not read at all
    assert [p.name for p in corpus_files(folder)] == sorted(facts)
    report = build(folder, tmp_path_factory.mktemp("idx") / "idx", embedder)
    assert not report.skipped and set(report.index.manifest.sources) == set(facts)
    assert stale_sources(report.index, folder) == {}  # each file's digest is of the text as read
    engine = Engine(report.index, embedder)
    for name, (fact, question) in facts.items():
        answer = engine.ask(question)
        assert not answer.abstained, question
        c = answer.citations[0]
        assert c.source == name and fact in report.index.texts[name][c.start : c.end + 1], (question, c.text)


def test_short_chinese_segments_stay_segments_and_chinese_words_join_without_spaces(tmp_path):
    segments = ["大家好", "今天聊聊大模型", "那十万卡集群呢？", "可能比预期的要更难。"]
    path = tmp_path / "whisper_zh.json"
    path.write_text(
        json.dumps(
            {
                "text": "".join(segments),
                "segments": [{"start": i, "end": i + 1, "text": t} for i, t in enumerate(segments)],
            }
        ),
        "utf-8",
    )
    doc = load(path)
    assert doc.text.split("\n") == segments and len(doc.segments) == 4
    words = ["十万", "卡", "集群", "呢", "？", "可能", "更", "难", "。"]
    path = tmp_path / "words_zh.json"
    path.write_text(
        json.dumps({"words": [{"text": w, "start": i * 300, "end": i * 300 + 250} for i, w in enumerate(words)]}),
        "utf-8",
    )
    assert load(path).text == "十万卡集群呢？\n可能更难。"


def _pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A PDF whose pages print these lines in Helvetica (a text layer, as exports have)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for lines in pages:
        content = "BT /F1 11 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
        kids.append(len(objects) + 1)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects) + 2} 0 R "
            f"/Resources << /Font << /F1 {len(objects) + 3} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    objects.append(f"<< /Title ({title}) >>")
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010} 00000 n \n" for o in offsets).encode()
    trailer = (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    )
    return out + trailer.encode()


def test_a_pdf_is_read_by_its_text_layer_without_page_numbers(tmp_path):
    path = tmp_path / "transcript.pdf"
    first = [
        f"{who} ({int(a // 60):02}:{int(a % 60):02}):" if i % 2 == 0 else t for who, a, _, t in LINES for i in (0, 1)
    ]
    path.write_bytes(_pdf([first[:4] + ["1"], first[4:] + ["Page 2 of 2"]], title="FSI, a transcript"))
    doc = load(path)
    assert doc.title == "FSI, a transcript"
    assert [doc.text[s.start : s.end] for s in doc.segments] == [t for *_, t in LINES]
    assert [s.speaker for s in doc.segments] == ["Amit", "Alex", "Amit"] and "Page 2" not in doc.text
    (tmp_path / "scan.pdf").write_bytes(_pdf([[]]))
    with pytest.raises(CorpusError, match="scan.pdf: the PDF has no text layer"):
        load(tmp_path / "scan.pdf")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    with pytest.raises(CorpusError, match="broken.pdf: not a readable PDF"):
        load(tmp_path / "broken.pdf")


def test_json_lines_are_segments(tmp_path):
    path = tmp_path / "segments.jsonl"
    path.write_text(
        "".join(json.dumps({"start": a, "end": b, "speaker": who, "text": t}) + "\n" for who, a, b, t in LINES), "utf-8"
    )
    doc = load(path)
    assert doc.text.split("\n") == [t for *_, t in LINES] and doc.segments[1].speaker == "Alex"


@pytest.mark.parametrize("kind", ["srt", "vtt"])
def test_subtitles_saved_as_text_are_read_as_subtitles(tmp_path, kind):
    cues = "\n\n".join(
        f"{n}\n{_clock(a, ',' if kind == 'srt' else '.')} --> {_clock(b, ',' if kind == 'srt' else '.')}\n{who}: {t}"
        for n, (who, a, b, t) in enumerate(LINES, 1)
    )
    path = tmp_path / "episode.txt"
    path.write_text(("WEBVTT\n\n" if kind == "vtt" else "") + cues + "\n", "utf-8")
    doc = load(path)
    assert doc.text.split("\n") == [t for *_, t in LINES]
    assert [(s.t0, s.speaker) for s in doc.segments] == [(a, who) for who, a, _, _ in LINES]
    plain = tmp_path / "notes.txt"
    plain.write_text("1\nThe first point.\n\n2\nThe second point, at 00:00:05,000 --> nowhere.\n", "utf-8")
    assert not load(plain).segments  # numbered notes are text


def test_rich_text_is_read_in_the_code_page_it_declares(tmp_path):
    turns = "\\par\n".join(f"{who} ({int(a // 60):02}:{int(a % 60):02}): {t}" for who, a, _, t in LINES)
    path = tmp_path / "textedit.rtf"
    path.write_text(
        "{\\rtf1\\ansi\\ansicpg1252\\cocoartf2709\n{\\fonttbl\\f0\\fswiss\\fcharset0 Helvetica;}\n"
        f"\\f0\\fs24 \\cf0 {turns}\\par\n}}",
        "ascii",
    )
    doc = load(path)
    assert [doc.text[s.start : s.end] for s in doc.segments] == [t for *_, t in LINES]
    assert [s.speaker for s in doc.segments] == ["Amit", "Alex", "Amit"]
    gbk = "".join(f"\\'{b:02x}" for b in "房租高是因为容积率低。".encode("gbk"))
    path = tmp_path / "wordpad.rtf"
    path.write_bytes(b"{\\rtf1\\ansi\\ansicpg936\\deff0{\\fonttbl{\\f0 SimSun;}}\\f0 " + gbk.encode() + b"\\par\n}")
    assert load(path).text.strip() == "房租高是因为容积率低。"
    (tmp_path / "fake.rtf").write_text("just text", "utf-8")
    with pytest.raises(CorpusError, match=r"fake.rtf: not a rich-text \(.rtf\) file"):
        load(tmp_path / "fake.rtf")
