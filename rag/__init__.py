"""Question answering over podcast transcripts, with citations that quote the source.

    >>> import rag
    >>> engine = rag.load()                     # the bundled index of the seed transcripts
    >>> answer = engine.ask("why did Amazon Q fail?")
    >>> answer.citations[0].quote               # exactly the source text it cites
"""

__version__ = "0.1.0"

from .answering import Answer, Citation  # noqa: E402
from .engine import Engine, load  # noqa: E402
from .errors import RagError  # noqa: E402
from .retrieval import Hit  # noqa: E402

__all__ = ["load", "Engine", "Answer", "Citation", "Hit", "RagError", "__version__"]
