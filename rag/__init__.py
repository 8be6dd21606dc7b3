"""Question answering over podcast transcripts, with citations that quote the source.

>>> import rag
>>> engine = rag.load()                     # the bundled index of the seed transcripts
>>> answer = engine.ask("why did Amazon Q fail?")
>>> answer.citations[0].quote               # exactly the source text it cites
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.4.0"

__all__ = ["load", "Engine", "Answer", "Citation", "Hit", "RagError", "__version__"]

# Where each public name lives. They are imported on first use, so that `rag --help`, or a CLI
# question before it starts its helper process (rag.segmenter), does not wait for numpy and faiss.
_HOMES = {
    "load": "engine",
    "Engine": "engine",
    "Answer": "answering",
    "Citation": "answering",
    "Hit": "retrieval",
    "RagError": "errors",
}

if TYPE_CHECKING:
    from .answering import Answer, Citation
    from .engine import Engine, load
    from .errors import RagError
    from .retrieval import Hit


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
