"""Prompt templates: text files in `prompts/` with named `{placeholders}`."""

from __future__ import annotations

import string
from pathlib import Path

from .errors import PromptError


def _default_dir() -> Path:
    """prompts/ of the checkout, or the copy installed inside the package (`rag._prompts`)."""
    checkout = Path(__file__).resolve().parent.parent / "prompts"
    if checkout.is_dir():
        return checkout
    from importlib import resources

    return Path(str(resources.files("rag") / "_prompts"))


DEFAULT_DIR = _default_dir()


def render(name: str, folder: Path | None = None, **values: object) -> str:
    """Fill the template `<folder>/<name>.txt`; every placeholder it names must be given."""
    path = Path(folder or DEFAULT_DIR) / f"{name}.txt"
    try:
        template = path.read_text("utf-8")
    except OSError:
        raise PromptError(f"prompt template {name!r} not found at {path}") from None
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    missing = fields - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs {', '.join(sorted(missing))}, which were not given")
    return template.format(**{k: v for k, v in values.items() if k in fields})
