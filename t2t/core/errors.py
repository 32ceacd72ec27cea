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

__all__ = [
    "ConfigError",
    "DataError",
    "DomainError",
    "MissingDependencyError",
    "ModelCallError",
    "T2TError",
    "ToolCallError",
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
