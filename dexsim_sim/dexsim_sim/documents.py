"""Reading the YAML and JSON files users hand in (specs, scenes, skills, configs, tracks).

One reader, so every malformed file fails the same way: a :class:`DocumentError` (a ``ValueError``)
whose one-line message names the file and, for syntax errors, the line and column, e.g.
``spec.yaml:3:1: invalid YAML: expected ',' or '}', but got '<stream end>'``. Callers wrap it in their
own error type or let the CLI print it (exit code 2).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024       # a spec/scene/skill/config is kilobytes; refuse anything huge


class DocumentError(ValueError):
    """A user file that cannot be read as the YAML/JSON document it should be."""


def read_document(path: str | Path, *, what: str = "file", fmt: str | None = None) -> Any:
    """Parse ``path`` as JSON (``.json`` or ``fmt="json"``) or YAML (anything else; YAML reads JSON too).

    ``what`` names the file's role in messages (``"spec"``, ``"scene"``). Raises :class:`DocumentError`
    for a missing, unreadable, oversized, non-UTF-8 or syntactically broken file."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(f"{what}: file not found: {str(path)!r}")
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(f"{what}: {str(path)!r} is {size} bytes; a {what} file is at most "
                                f"{MAX_DOCUMENT_BYTES} bytes")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{what}: {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DocumentError(f"{what}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if (fmt or ("json" if path.suffix == ".json" else "yaml")) == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise DocumentError(f"{where}: invalid YAML: {problem}") from None


T = TypeVar("T")


def load_document(path: str | Path, parse: Callable[[Any], T], error: type[Exception], *, what: str = "file",
                  fmt: str | None = None) -> T:
    """``parse(read_document(path))``: reading errors become ``error`` (one line naming the file),
    and ``error`` raised by ``parse`` is prefixed with the file's path."""
    try:
        data = read_document(path, what=what, fmt=fmt)
    except DocumentError as exc:
        raise error(str(exc)) from None
    try:
        return parse(data)
    except error as exc:
        raise error(f"{path}: {exc}") from None
