"""The exceptions this package raises, all under one root.

    RagError                      anything the user can act on
    ├── UsageError                bad input: empty question, k out of range, unknown backend name
    │   └── NotFoundError         a source or offsets that the index does not have
    ├── IndexMissingError         no index where one was expected (run `rag build`)
    ├── IndexMismatchError        index built with other settings or corrupted files
    ├── IndexBusyError            another process is writing the index (its lock is held)
    ├── CorpusError               a corpus folder or file cannot be used
    ├── PromptError               a prompt template is missing or lacks a placeholder
    ├── DependencyError           an optional package is not installed
    └── LLMError                  the LLM server failed after bounded retries

The CLI maps UsageError to exit 2 and the rest to exit 1; the HTTP app maps UsageError to 422,
NotFoundError to 404,
IndexMissingError / IndexMismatchError to 503 and LLMError to 502, each in one place.
"""


class RagError(Exception):
    """Root of every error the package raises on purpose."""


class UsageError(RagError):
    """The caller asked for something invalid."""


class NotFoundError(UsageError):
    """The index has no such source, or no such span in it."""


class IndexMissingError(RagError):
    """No index exists at the given path."""


class IndexMismatchError(RagError):
    """The index on disk does not fit what was asked, or is damaged."""


class IndexBusyError(RagError):
    """Another build, add or remove holds the index's write lock."""


class CorpusError(RagError):
    """A corpus folder or file cannot be read."""


class PromptError(RagError):
    """A prompt template is missing or malformed."""


class DependencyError(RagError):
    """An optional dependency is not installed."""


class DiskFullError(RagError):
    """The disk had no room for a new index; the old one is untouched and the scratch removed."""


class LLMError(RagError):
    """The configured LLM could not produce an answer."""
