"""LLM clients that turn a system + user prompt into text, chosen by name.

    openai   any OpenAI-compatible chat completions server (OpenAI, DeepSeek, Qwen, Ollama,
             vLLM, llama.cpp server), with timeouts and bounded retries on 429/5xx

The offline `extractive` mode needs no client: see `rag.answering`.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from .errors import LLMError, UsageError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam


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
    429/5xx/timeouts/broken connections, and `deadline` the whole call, retries included: the request
    runs in a worker thread and the caller stops waiting when the deadline passes, whatever the server
    does (hangs, drips bytes inside one event, trickles its headers); the worker then closes the
    connection as soon as it can. A reply of the wrong shape is an LLMError, like a 500.
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
        # Retries are this client's own, so that they stay within the deadline.
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0)
        self._model = model
        self._temperature = temperature
        self._timeout = timeout
        self.retries = retries
        self.deadline = deadline
        self.name = f"openai:{model}"

    def complete(self, system: str, user: str) -> str:
        return "".join(self._bounded(lambda emit, stop, end: emit(self._complete_once(system, user, stop, end))))

    def stream(self, system: str, user: str) -> Iterator[str]:
        return self._bounded(lambda emit, stop, end: self._stream_once(system, user, emit, stop, end))

    def _complete_once(self, system: str, user: str, stop: threading.Event, end: float) -> str:
        def request():
            with self._client.chat.completions.with_streaming_response.create(
                model=self._model,
                messages=_messages(system, user),
                temperature=self._temperature,
                timeout=self._request_timeout(end),
            ) as response:
                body = bytearray()
                for data in response.iter_bytes():  # read as it arrives, so that a stop ends it
                    body += data
                    if stop.is_set():
                        return ""
                return _content(json.loads(body or b"{}"))

        return self._retrying(request, stop, end)

    def _stream_once(self, system: str, user: str, emit, stop: threading.Event, end: float) -> None:
        chunks = self._retrying(
            lambda: self._client.chat.completions.create(
                model=self._model,
                messages=_messages(system, user),
                temperature=self._temperature,
                stream=True,
                timeout=self._request_timeout(end),
            ),
            stop,
            end,
        )
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                if piece := _delta(chunk):
                    emit(piece)
        except (TypeError, AttributeError, KeyError) as e:  # the openai package reading a chunk of the wrong shape
            raise LLMError(f"LLM server streamed a chunk of the wrong shape ({_brief(str(e))})") from None
        finally:  # also when the consumer stopped early (a client that went away): the upstream request ends
            chunks.close()

    def _retrying(self, request: Callable, stop: threading.Event, end: float):
        """request(), tried again after a retryable failure while retries and the deadline allow."""
        import openai

        for attempt in range(self.retries + 1):
            try:
                return request()
            except (
                openai.APITimeoutError,
                openai.APIConnectionError,
                openai.RateLimitError,
                openai.InternalServerError,
            ):
                pause = min(0.5 * 2**attempt, 8.0)
                if attempt == self.retries or stop.is_set() or time.monotonic() + pause >= end:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _bounded(self, produce: Callable) -> Iterator[str]:
        """What produce(emit, stop, end) emits, from a worker thread, until it returns, fails or the
        deadline passes. Closing the iterator early, or the deadline, sets `stop` for the worker."""
        end = time.monotonic() + self.deadline
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                with _errors():
                    produce(lambda piece: pieces.put(("piece", piece)), stop, end)
                pieces.put(("done", None))
            except BaseException as e:  # handed to the caller, who raises it
                pieces.put(("error", e))

        threading.Thread(target=work, name="llm-request", daemon=True).start()
        try:
            while True:
                try:
                    kind, value = pieces.get(timeout=max(0.0, end - time.monotonic()))
                except queue.Empty:
                    raise LLMError(f"LLM server did not finish within {self.deadline:g} s") from None
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()

    def _request_timeout(self, end: float) -> float:
        return max(0.1, min(self._timeout, end - time.monotonic()))


def _content(reply) -> str:
    """The text of a chat completion, or an LLMError for a reply that has none where it should."""
    try:
        choices = reply["choices"]
        content = choices[0]["message"]["content"] if choices != [] else ""
    except (KeyError, IndexError, TypeError):
        raise LLMError(f"LLM server sent a reply of the wrong shape: {_brief(json.dumps(reply))}") from None
    if content is None:
        return ""
    if not isinstance(content, str):
        raise LLMError(f"LLM server sent a reply of the wrong shape: content is {type(content).__name__}")
    return content


def _delta(chunk) -> str:
    """The text a streamed chunk adds, or an LLMError for a chunk of the wrong shape."""
    try:
        choices = chunk.choices
        if not choices:
            return ""
        content = choices[0].delta.content
    except (AttributeError, IndexError, TypeError):
        raise LLMError("LLM server streamed a chunk of the wrong shape") from None
    if content is not None and not isinstance(content, str):
        raise LLMError(f"LLM server streamed a chunk of the wrong shape: content is {type(content).__name__}")
    return content or ""


def _messages(system: str, user: str) -> list[ChatCompletionMessageParam]:
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
