"""One tree of errors, so callers can tell user mistakes from infrastructure faults from bugs.

```
T2TError                    anything t2t raises on purpose
├── ConfigError             bad option or setting (CLI flag, config file)
├── DataError               a file or field is missing or malformed (names file and field)
├── DomainError             a domain folder breaks the contract, or an unknown domain
├── MissingDependencyError  an optional extra is needed (names the pip extra)
├── ModelCallError          infrastructure failure talking to a model: counted, never scored
└── ToolCallError           a bad tool call or a refusal by the domain: told to the model
```
The CLI prints any `T2TError` as one line and exits 2; anything else is a bug (traceback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "ConfigError",
    "DataError",
    "DomainError",
    "MissingDependencyError",
    "ModelCallError",
    "T2TError",
    "ToolCallError",
    "config_error",
    "data_error",
    "validation_problem",
]


class T2TError(Exception):
    """Base of every error t2t raises on purpose."""


class ConfigError(T2TError):
    """A setting or command-line option is invalid."""


class DataError(T2TError):
    """A data file or one of its fields is missing or malformed."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = ": ".join(part for part in (file, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class DomainError(T2TError):
    """A domain is unknown or its folder breaks the domain contract."""


class MissingDependencyError(T2TError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; run: pip install 't2t[{extra}]'")


class ModelCallError(T2TError):
    """A model call failed for infrastructure reasons (rate limit, timeout, 5xx).

    `handler_error` is the exception an offline (in-process) provider raised itself, if that
    was the cause: a bug to show, not an outage to count.
    """

    handler_error: BaseException | None = None


class ToolCallError(T2TError):
    """A tool refused a call (bad arguments, unknown record, domain rule): told to the model."""


# ------------------------------------------------------------------- pydantic validation errors


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic `ValidationError`: (its field, its message).

    The field is the dotted path to the bad value ("" for the whole object); the message ends
    with "(and N more problems)" when there are more.
    """
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if exc.error_count() > 1:
        message += f" (and {exc.error_count() - 1} more problems)"
    return field, message


def data_error(
    exc: ValidationError, *, file: str | None = None, prefix: str = "", default_field: str = ""
) -> DataError:
    """A malformed record as a `DataError` naming the file and the field ("file: field: problem").

    Args:
        exc: What pydantic raised.
        file: The file the record came from.
        prefix: Put before the field: where the record sits, e.g. "line 3: " or "[2].".
        default_field: The field to name when the problem is with the whole record.
    """
    field, message = validation_problem(exc)
    field = field or default_field
    where = prefix + field if field else prefix.rstrip(":. ")  # "line 3", not "line 3: : …"
    return DataError(message, file=file, field=where or None)


def config_error(
    exc: ValidationError, where: str | None = None, *, default_field: str = ""
) -> ConfigError:
    """Bad settings as a `ConfigError` naming where they came from and the field
    ("where: field: problem").
    """
    field, message = validation_problem(exc)
    return ConfigError(": ".join(part for part in (where, field or default_field, message) if part))
