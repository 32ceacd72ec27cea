"""Reading and writing the JSON/JSONL files every stage exchanges, with errors that name the file.

Writes are atomic (temporary file + rename) and refuse to overwrite without `force`, so a crash or
a repeated command never leaves a half-written or silently replaced result.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from t2t.core.errors import ConfigError, DataError, data_error
from t2t.core.schema import TAU2_CONTEXT, Task

__all__ = ["prepare_output", "read_json", "read_tasks", "write_json", "write_jsonl"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once (setting it back at once)


def _read_text(path: Path, what: str) -> str:
    if path.is_dir():
        raise DataError(f"expected a {what}, found a folder", file=str(path))
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not content
    except FileNotFoundError:
        raise DataError(f"{what} not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None


def read_json(path: str | Path, *, what: str = "JSON file") -> Any:
    """Parse a JSON file, naming the file (and line/column) in any error."""
    path = Path(path)
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file=str(path)
        ) from None


def read_tasks(path: str | Path) -> list[Task]:
    """Tasks from a JSONL file (t2t's own: one task per line, strict) or a JSON list (a τ²
    `tasks.json`: fields t2t does not know are kept, as τ² ignores them).
    """
    path = Path(path)
    tasks = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(_read_text(path, "tasks file").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                tasks.append(Task.model_validate_json(line))
            except ValidationError as exc:
                raise data_error(exc, file=str(path), prefix=f"line {number}: ") from None
    else:
        raw = read_json(path, what="tasks file")
        if not isinstance(raw, list):
            raise DataError("expected a JSON list of tasks", file=str(path))
        for index, item in enumerate(raw):
            try:
                tasks.append(Task.model_validate(item, context=TAU2_CONTEXT))
            except ValidationError as exc:
                raise data_error(exc, file=str(path), prefix=f"[{index}].") from None
    if not tasks:
        raise DataError("holds no tasks", file=str(path))
    return tasks


def prepare_output(path: str | Path, *, force: bool = False) -> Path:
    """Refuse to overwrite an existing result unless `force`; create the parent folder."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink()


def _plain(row: Any) -> Any:
    return row.model_dump(mode="json", exclude_none=True) if isinstance(row, BaseModel) else row


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Write rows (dicts or models) as JSONL atomically; returns the number of lines."""
    lines = [json.dumps(_plain(row), ensure_ascii=False) for row in rows]
    _write_atomic(Path(path), "".join(line + "\n" for line in lines))
    return len(lines)


def write_json(path: str | Path, value: Any, *, indent: int | None = 2) -> None:
    """Write one JSON document atomically."""
    if isinstance(value, list):
        value = [_plain(v) for v in value]
    _write_atomic(Path(path), json.dumps(_plain(value), ensure_ascii=False, indent=indent) + "\n")
