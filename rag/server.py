"""The HTTP API (FastAPI): a thin shell over the engine. Bodies match the CLI's --json output."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from . import __version__
from .errors import IndexMismatchError, IndexMissingError, LLMError, RagError, UsageError
from .retrieval import MAX_K, MAX_QUERY_CHARS
from .settings import Settings, load_settings

# Status code for each error kind, in one place.
STATUS = {UsageError: 422, IndexMissingError: 503, IndexMismatchError: 503, LLMError: 502}


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question, Chinese or English.")
    k: int = Field(6, ge=1, le=MAX_K, description="Passages to answer from.")


class HitOut(BaseModel):
    rank: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float


class CitationOut(BaseModel):
    n: int
    source: str
    title: str
    start: int
    end: int
    quote: str


class SearchResponse(BaseModel):
    query: str
    hits: list[HitOut]


class AskResponse(BaseModel):
    question: str
    answer: str
    mode: str
    abstained: bool
    citations: list[CitationOut]
    hits: list[HitOut]
    warnings: list[str]


def create_app(settings: Settings | None = None, engine=None) -> FastAPI:
    """The app; the engine is loaded in the lifespan (or passed in, already loaded)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if engine is None:
            from .engine import from_settings

            app.state.engine = from_settings(settings)
        else:
            app.state.engine = engine
        yield

    app = FastAPI(title="Transcript Q&A", version=__version__, lifespan=lifespan)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError):
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/healthz")
    def healthz(request: Request) -> dict:
        index = request.app.state.engine.index
        return {"status": "ok", "passages": index.manifest.passages, "embedder": index.manifest.embedder}

    @app.get("/search", response_model=SearchResponse)
    def search(
        request: Request,
        q: str = Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The question."),
        k: int = Query(6, ge=1, le=MAX_K),
    ):
        hits = request.app.state.engine.search(q, k)
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    @app.post("/ask", response_model=AskResponse)
    def ask(request: Request, body: AskRequest):
        return request.app.state.engine.ask(body.question, body.k).to_dict()

    @app.get("/sources")
    def sources(request: Request) -> dict:
        return {"sources": request.app.state.engine.index.sources()}

    return app
