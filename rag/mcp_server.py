"""The transcripts as a Model Context Protocol server (the official `mcp` SDK), for agents and IDEs.

Tools: `search` (passages), `ask` (an answer with its citations, as structured content) and
`sources` (the transcripts); resources: each transcript's text as `transcript://<source>`. Served
over stdio (`rag mcp`) or streamable HTTP (`rag mcp --http`), where RAG_API_TOKEN guards every
request as it does for `rag serve`. A thin shell over the engine, like the CLI and the HTTP app.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from .engine import Engine
from .errors import RagError
from .retrieval import Filter

INSTRUCTIONS = (
    "Search and quote a collection of podcast transcripts (mostly Chinese, about the AI industry). "
    "`ask` answers from the transcripts only, with citations that quote the exact passage and say where "
    "it is; it says so when the transcripts do not cover a question. `search` returns the passages."
)


class SearchResult(BaseModel):
    query: str
    hits: list[dict[str, Any]]


class AskResult(BaseModel):
    question: str
    answer: str
    mode: str
    abstained: bool
    reasons: list[str]
    citations: list[dict[str, Any]]
    warnings: list[str]


class SourcesResult(BaseModel):
    sources: list[dict[str, Any]]


def create_server(engine: Engine):
    """An MCP server over one engine."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name="transcripts", instructions=INSTRUCTIONS)

    @server.tool(
        description="The passages of the transcripts most relevant to a question, best first. "
        "Optional filters: source (a file name), show, speaker, since and until (dates like 2024-02-17)."
    )
    def search(
        question: str,
        k: int = 6,
        source: str | None = None,
        show: str | None = None,
        speaker: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> SearchResult:
        with _tool_errors():
            hits = engine.retriever.search(question, k, Filter(source, show, speaker, since, until))
        return SearchResult(query=question, hits=[h.to_dict() for h in hits])

    @server.tool(
        description="Answer a question from the transcripts only, with citations quoting the exact "
        "passages (source, character offsets, time and speaker for timed transcripts); abstained is "
        "true, with reasons, when the transcripts do not cover it. Same filters as search."
    )
    def ask(
        question: str,
        k: int = 6,
        source: str | None = None,
        show: str | None = None,
        speaker: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> AskResult:
        with _tool_errors():
            answer = engine.ask(question, k, source=source, show=show, speaker=speaker, since=since, until=until)
        d = answer.to_dict()
        return AskResult(**{f: d[f] for f in AskResult.model_fields})

    @server.tool(description="The transcripts in the collection, with titles, dates and other metadata.")
    def sources() -> SourcesResult:
        return SourcesResult(sources=engine.index.sources())

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request):  # for streamable HTTP: liveness, open like rag serve's
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "passages": engine.index.manifest.passages})

    for record in engine.index.sources():
        server.resource(
            f"transcript://{record['source']}",
            name=record["source"],
            title=record["title"],
            mime_type="text/plain",
            description="The transcript's text; citations' offsets index it.",
        )(_reader(engine, record["source"]))
    return server


@contextmanager
def _tool_errors():
    """The package's errors (an empty question, a bad filter, an LLM failure) as tool errors with
    their one-line reason, which the client sees; anything else stays a crash."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        yield
    except RagError as e:
        raise ToolError(str(e)) from None


def _reader(engine: Engine, source: str):
    def read() -> str:
        return engine.index.texts[source]

    return read


async def run_stdio(server) -> None:
    """Serve `server` (create_server's) over stdin and stdout, answering a line that is no JSON-RPC
    message (garbage, a lone-surrogate escape, JSON nested too deep) with a JSON-RPC parse error: the
    SDK's own stdio loop passes such a line on as an exception that nothing answers, and the client
    waits forever."""
    import anyio
    import mcp_types as types
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs, given the filtered stream
    parse_error = types.JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=types.ErrorData(code=types.PARSE_ERROR, message="Parse error: not a JSON-RPC message"),
    )
    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[Any](0)

        async def messages_only() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(parse_error))
                    else:
                        await send.send(item)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(messages_only)
            await lowlevel.run(receive, write_stream, lowlevel.create_initialization_options())
            tasks.cancel_scope.cancel()
