"""Small checks for domain consistency checkers (`checks.py`), shared by every domain.

Each appends readable problems naming the record (`orders['#W1']: missing field(s) status`)
rather than raising, so a checker reports everything wrong with a DB in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["check_fields", "is_cents"]


def check_fields(
    problems: list[str],
    where: str,
    record: Any,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> bool:
    """Report a non-object, missing or unknown fields; True when every required field is there."""
    if not isinstance(record, dict):
        problems.append(f"{where}: not an object")
        return False
    required, optional = tuple(required), tuple(optional)
    missing = [k for k in required if k not in record]
    unknown = sorted(k for k in record if k not in required and k not in optional)
    if missing:
        problems.append(f"{where}: missing field(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    return not missing


def is_cents(value: Any) -> bool:
    """A non-bool number that is a whole number of cents (up to float noise)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value * 100 - round(value * 100)) < 1e-6
