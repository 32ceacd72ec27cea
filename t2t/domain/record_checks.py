"""Small checks for domain consistency checkers (`checks.py`), shared by every domain.

Each appends readable problems naming the record (`orders['#W1']: missing field(s) status`)
rather than raising, so a checker reports everything wrong with a DB in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["check_fields", "check_tables", "check_tagged_record", "is_cents"]


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


def check_tables(problems: list[str], db: Any, tables: Iterable[str]) -> bool:
    """The DB is an object holding exactly `tables`, each an object; True when nothing is off."""
    if not isinstance(db, dict):
        problems.append("db: not an object")
        return False
    tables, before = tuple(tables), len(problems)
    if not check_fields(problems, "db", db, tables):
        return False
    for table in tables:
        if not isinstance(db[table], dict):
            problems.append(f"db: {table} is not an object")
    return len(problems) == before


def check_tagged_record(
    problems: list[str],
    where: str,
    key: str,
    record: Any,
    fields_by_tag: dict[str, Iterable[str]],
    *,
    tag: str = "source",
    id_field: str = "id",
) -> bool:
    """A record whose fields depend on a tag (payment methods by `source`) and whose id is its key.

    True when the tag is known, the fields are right and `record[id_field] == key`.
    """
    kind = record.get(tag) if isinstance(record, dict) else None
    if kind not in fields_by_tag:
        problems.append(f"{where}: {tag} {kind!r} unknown")
        return False
    if not check_fields(problems, where, record, fields_by_tag[kind]):
        return False
    if record[id_field] != key:
        problems.append(f"{where}: {id_field} {record[id_field]!r} differs from key")
        return False
    return True


def is_cents(value: Any) -> bool:
    """A non-bool number that is a whole number of cents (up to float noise)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value * 100 - round(value * 100)) < 1e-6
