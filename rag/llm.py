"""LLM clients that turn a system + user prompt into text, chosen by name.

    openai   any OpenAI-compatible chat completions server (OpenAI, DeepSeek, Qwen, Ollama,
             vLLM, llama.cpp server), with timeouts and bounded retries on 429/5xx

The offline `extractive` mode needs no client: see `rag.answering`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from .errors import LLMError, UsageError


class LLMClient(Protocol):
    name: str

    def complete(self, system: str, user: str) -> str:
        """The whole completion; raise LLMError if the server fails."""
        ...

    def stream(self, system: str, user: str) -> Iterator[str]:
        """Yield the completion in pieces as they arrive; raise LLMError if the server fails."""
        ...


class OpenAIClient:
    """Chat completions through the `openai` package against any compatible base URL.

    `timeout` bounds each request's connection and each wait for data, `retries` the retries on
    429/5xx/timeouts, and `deadline` the whole call: a server that sends a byte every few seconds
    is cut off when the deadline passes, streaming or not, and its connection closed.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        temperature: float = 0.1,
        deadline: float = 90.0,
    ):
        from openai import OpenAI

        if not model:
            raise UsageError("the openai LLM needs a model name: set RAG_LLM_MODEL")
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=retries)
        self._model = model
        self._temperature = temperature
        self._timeout = timeout
        self.deadline = deadline
        self.name = f"openai:{model}"

    def complete(self, system: str, user: str) -> str:
        end = time.monotonic() + self.deadline
        with _errors(), self._client.chat.completions.with_streaming_response.create(
            model=self._model, messages=_messages(system, user), temperature=self._temperature,
            timeout=self._request_timeout(end),
        ) as response:
            body = bytearray()
            for data in response.iter_bytes():  # read as it arrives, so that the deadline holds
                body += data
                self._check(end)
            reply = json.loads(body or b"{}")
            choices = reply.get("choices") or []
            return (choices[0].get("message") or {}).get("content") or "" if choices else ""

    def stream(self, system: str, user: str) -> Iterator[str]:
        end = time.monotonic() + self.deadline
        with _errors():
            chunks = self._client.chat.completions.create(
                model=self._model, messages=_messages(system, user), temperature=self._temperature, stream=True,
                timeout=self._request_timeout(end),
            )
            try:
                for chunk in chunks:
                    self._check(end)
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
            finally:  # also when the consumer stops early (a client that went away): the upstream request ends
                chunks.close()

    def _request_timeout(self, end: float) -> float:
        return max(0.1, min(self._timeout, end - time.monotonic()))

    def _check(self, end: float) -> None:
        if time.monotonic() > end:
            raise LLMError(f"LLM server did not finish within {self.deadline:g} s")


def _messages(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@contextmanager
def _errors():
    """Translate the openai package's errors (raised after its own bounded retries) into LLMError."""
    import openai

    try:
        yield
    except openai.APIStatusError as e:
        raise LLMError(f"LLM server answered {e.status_code}: {_brief(e.message)}") from None
    except openai.APITimeoutError:
        raise LLMError("LLM server timed out") from None
    except openai.APIConnectionError as e:
        raise LLMError(f"cannot reach LLM server: {_brief(str(e.__cause__ or e))}") from None
    except openai.OpenAIError as e:
        raise LLMError(f"LLM call failed: {_brief(str(e))}") from None
    except ValueError as e:  # a body that is not JSON
        raise LLMError(f"LLM server sent an unreadable reply: {_brief(str(e))}") from None
    except Exception as e:  # the HTTP library's own errors while a body is read (httpx or httpx2, as openai uses)
        if type(e).__module__.split(".")[0] in _TRANSPORT_MODULES:
            raise LLMError(f"connection to the LLM server broke: {_brief(str(e))}") from None
        raise


_TRANSPORT_MODULES = {"httpx", "httpx2", "httpcore", "httpcore2", "h11"}

def _brief(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


LLMS: dict[str, Callable[..., LLMClient] | None] = {"extractive": None, "openai": OpenAIClient}


def make_llm(name: str, **options) -> LLMClient | None:
    """The client registered under `name`; None for the offline extractive mode."""
    if name not in LLMS:
        raise UsageError(f"unknown LLM {name!r}; valid: {', '.join(LLMS)}")
    factory = LLMS[name]
    return factory(**options) if factory else None
