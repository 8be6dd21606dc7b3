"""The HTTP app (FastAPI): a thin shell over the engine. Bodies match the CLI's --json output.

GET  /                       the web page (assets under /static, no CDN)
POST /ask                    a cited answer; Server-Sent Events with `Accept: text/event-stream`
GET  /search                 passages
GET  /context                a window of a source around a citation's offsets
GET  /sources                the transcripts in the index
GET  /healthz                liveness (never needs the token)
POST /v1/chat/completions    OpenAI-compatible, plain and streaming, answers with citations
"""

from __future__ import annotations

import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from . import __version__
from .answering import Citation
from .errors import IndexMismatchError, IndexMissingError, LLMError, NotFoundError, RagError, UsageError
from .retrieval import MAX_K, MAX_QUERY_CHARS, Filter, Hit, check_query
from .settings import Settings, load_settings

STATIC = Path(__file__).resolve().parent / "static"
# Status code for each error kind, in one place; the first match wins.
STATUS = {NotFoundError: 404, UsageError: 422, IndexMissingError: 503, IndexMismatchError: 503, LLMError: 502}
OPEN_PATHS = {"/healthz", "/"}


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question, Chinese or English.")
    k: int = Field(6, ge=1, le=MAX_K, description="Passages to answer from.")
    source: str | None = Field(None, max_length=500, description="Only this transcript.")
    show: str | None = Field(None, max_length=200, description="Only transcripts whose show's name contains this.")
    speaker: str | None = Field(None, max_length=200, description="Only passages this person speaks in.")
    since: str | None = Field(None, max_length=10, description="Only transcripts dated on or after (2024-02-17).")
    until: str | None = Field(None, max_length=10, description="Only transcripts dated on or before.")
    history: list[str] = Field(
        [],
        max_length=20,
        description="The conversation's earlier questions, oldest first: "
        "a follow-up such as 'and Meta?' is searched with what it refers to.",
    )

    def where(self) -> Filter:
        return Filter(self.source, self.show, self.speaker, self.since, self.until)


class SearchResponse(BaseModel):
    query: str
    hits: list[Hit]


class AskResponse(BaseModel):
    question: str
    answer: str
    mode: str
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    warnings: list[str]
    reasons: list[str]
    searched: str


class ContextResponse(BaseModel):
    source: str
    title: str
    start: int
    end: int
    before: str
    quote: str
    after: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=32)
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field("transcripts", max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False


def create_app(settings: Settings | None = None, engine=None) -> FastAPI:
    """The app; the engine is loaded in the lifespan unless one is passed in, already loaded."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Answers (which may wait on an LLM) run in threads of their own: however many hang,
        # /search and /context keep the default thread pool, and /healthz the event loop.
        app.state.answer_threads = CapacityLimiter(settings.llm_concurrency)
        # Searches take an embedder instance each: as many run at once as there are instances, and the
        # rest wait their turn in arrival order (a CapacityLimiter is first come, first served), not
        # in whatever order the instance pool's lock wakes threads, which left some waiting 4x the median.
        app.state.search_threads = CapacityLimiter(max(1, settings.embed_handles or os.cpu_count() or 1))
        if engine is None:
            from .engine import from_settings

            app.state.engine = from_settings(settings)
        else:
            app.state.engine = engine
        yield

    # max_body_size: FastAPI counts the bytes as they arrive (413), whatever Content-Length says.
    app = FastAPI(title="Transcript Q&A", version=__version__, lifespan=lifespan, max_body_size=settings.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    if settings.api_token:
        app.add_middleware(TokenGuard, token=settings.api_token)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        """422 with what is wrong, without echoing the input (which may not even be encodable:
        a lone surrogate such as "\\ud800" in a JSON string)."""
        detail = [
            {"loc": list(map(str, e.get("loc", ()))), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return Response(
            json.dumps({"detail": detail}, ensure_ascii=True), status_code=422, media_type="application/json"
        )

    if settings.cors_origins:
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError):
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    async def healthz(request: Request) -> dict:  # on the event loop: never queued behind busy worker threads
        index = request.app.state.engine.index
        return {"status": "ok", "passages": index.manifest.passages, "embedder": index.manifest.embedder}

    @app.get("/search", response_model=SearchResponse)
    async def search(
        request: Request,
        q: str = Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The question."),
        k: int = Query(6, ge=1, le=MAX_K),
        source: str | None = Query(None, max_length=500, description="Only this transcript."),
        show: str | None = Query(None, max_length=200, description="Only transcripts whose show's name contains this."),
        speaker: str | None = Query(None, max_length=200, description="Only passages this person speaks in."),
        since: str | None = Query(None, max_length=10, description="Only transcripts dated on or after (2024-02-17)."),
        until: str | None = Query(None, max_length=10, description="Only transcripts dated on or before."),
    ):
        _utf8_query(request)
        where = Filter(source, show, speaker, since, until)
        hits = await to_thread.run_sync(
            request.app.state.engine.retriever.search, q, k, where, limiter=request.app.state.search_threads
        )
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    @app.post(
        "/ask",
        response_model=AskResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when asked for"}},
    )
    async def ask(request: Request, body: AskRequest):
        engine = request.app.state.engine
        question, where = check_query(body.question, body.k), body.where()  # a 422 here, not a broken stream
        streaming = "text/event-stream" in request.headers.get("accept", "")
        events = engine.ask_stream(question, body.k, stream=streaming, where=where, history=body.history)
        threads = request.app.state.answer_threads
        if streaming:
            return StreamingResponse(
                _sse(_in_threads(events, threads)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = [event async for event in _in_threads(events, threads)][-1]  # hits, delta, then the answer
        return answer.data.to_dict()

    @app.get("/context", response_model=ContextResponse)
    def context(
        request: Request,
        source: str = Query(min_length=1, max_length=500),
        start: int = Query(ge=0),
        end: int = Query(ge=1),
        window: int = Query(600, ge=0, le=5000),
    ):
        return request.app.state.engine.index.context(source, start, end, window)

    @app.get("/sources")
    def sources(request: Request) -> dict:
        return {"sources": request.app.state.engine.index.sources()}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "transcripts", "object": "model", "owned_by": "rag"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request, body: ChatRequest):
        *history, question = _user_messages(body.messages)  # earlier user turns: the conversation
        question = check_query(question)
        engine = request.app.state.engine
        events = _in_threads(
            engine.ask_stream(question, stream=body.stream, history=history), request.app.state.answer_threads
        )
        if body.stream:
            return StreamingResponse(_chat_stream(events, body.model), media_type="text/event-stream")
        answer = [event async for event in events][-1].data
        head = f"{answer.notice}\n" if answer.notice else ""
        return _completion(body.model, head + answer.answer + _sources_block(answer), answer)

    return app


class TokenGuard:
    """The bearer token, checked before any route runs. The page and its assets hold no data and are
    open: the page reads the token from its URL fragment, which browsers never send or log.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware would hide a client's disconnect from
    streaming responses, and an answer would go on after its reader left.
    """

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and path not in OPEN_PATHS and not path.startswith("/static/"):
            header = dict(scope["headers"]).get(b"authorization", b"")
            given = header[7:] if header[:7].lower() == b"bearer " else b""
            if not hmac.compare_digest(given, self.token):
                response = JSONResponse(
                    {"detail": "missing or wrong bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


def app_from_environment() -> FastAPI:
    """The app as the environment and `.env` describe it: what each `rag serve --workers N` process runs."""
    return create_app(load_settings())


def _utf8_query(request: Request) -> None:
    """A UsageError (422) when the URL's query string does not decode as UTF-8 (%ED%A0%80, a lone
    surrogate): Starlette would quietly read it with U+FFFD in place of what was sent."""
    from urllib.parse import unquote_to_bytes

    raw = request.scope.get("query_string", b"")
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the query string is not valid UTF-8") from None


def _status(exc: RagError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)


def _event(kind: str, data) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _in_threads(events: Generator, threads: CapacityLimiter) -> AsyncIterator:
    """Engine events, each produced in a worker thread of `threads` (answers may wait on an LLM), so
    that the event loop and the other endpoints' threads stay free. When the client goes away the
    events are closed, which closes the LLM's stream and ends the upstream request."""
    done = object()
    try:
        while (event := await to_thread.run_sync(next, events, done, limiter=threads)) is not done:
            yield event
    finally:
        with CancelScope(shield=True):  # runs even when the response was cancelled by a disconnect
            await to_thread.run_sync(events.close, limiter=threads)


async def _sse(events: AsyncIterator) -> AsyncIterator[str]:
    """Engine events as Server-Sent Events: `hits`, `notice` {text} (what kind of answer follows, when
    it says), `delta` {text}, then `answer` (with its citations)."""
    try:
        async for e in events:
            if e.kind == "hits":
                yield _event("hits", [h.to_dict() for h in e.data])
            elif e.kind in ("notice", "delta"):
                yield _event(e.kind, {"text": e.data})
            else:
                yield _event("answer", e.data.to_dict())
    except RagError as exc:
        yield _event("error", {"detail": str(exc), "status": _status(exc)})


def _user_messages(messages: list[ChatMessage]) -> list[str]:
    """The text of each user message, oldest first (the last is the question)."""
    out = [
        " ".join(str(p.get("text", "")) for p in m.content if p.get("type") == "text")
        if isinstance(m.content, list)
        else m.content or ""
        for m in messages
        if m.role == "user"
    ]
    if not out:
        raise UsageError("no user message to answer")
    return out


def _sources_block(answer) -> str:
    sources = answer.render_sources()
    return f"\n\nSources:\n{sources}" if sources else ""


def _completion(model: str, content: str, answer) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [asdict(c) for c in answer.citations],
        "abstained": answer.abstained,
    }


async def _chat_stream(events: AsyncIterator, model: str) -> AsyncIterator[str]:
    """Engine events as OpenAI chat.completion.chunk events; the sources follow the answer text."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(delta: dict, finish=None, **extra) -> str:
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for e in events:
            if e.kind == "delta":
                yield chunk({"content": e.data})
            elif e.kind == "notice":  # a chat front-end shows the content: the notice heads it, once
                yield chunk({"content": e.data + "\n"})
            elif e.kind == "answer":
                answer = e.data
                if block := _sources_block(answer):
                    yield chunk({"content": block})
                yield chunk({}, "stop", citations=[asdict(c) for c in answer.citations], abstained=answer.abstained)
    except RagError as exc:
        yield chunk({"content": f"\n\n[error: {exc}]"}, "stop")
    yield "data: [DONE]\n\n"
