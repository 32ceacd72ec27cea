"""How facts link: which values read during a walk belong together (the same record, the same
read), so a walk fills a call's arguments with values that fit each other.
"""

from __future__ import annotations

import random
from typing import Any

from t2t.explore.facts import Fact, FactBook, arg_matches

__all__ = [
    "LINKED_BIAS",
    "context_of",
    "first_seen",
    "is_linked",
    "pick_linked",
    "same_stem",
    "type_ok",
]

LINKED_BIAS = 0.9  # how often a walk prefers a value linked to what it already chose


def first_seen(facts: list[Fact], values: list[Any]) -> set[int]:
    """The reads that showed each value first, and the one that read its own record last: the
    supporting reads a gold call needs (not every transaction that mentions an account).
    """
    found: set[int] = set()
    for value in values:
        showing = [f for f in facts if f.value == value]
        if showing:
            found.add(min(f.source for f in showing))
            own = [f.source for f in showing if f.own]
            if own:
                found.add(max(own))
    return found


def type_ok(value: Any, kind: str | None) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "number"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def same_stem(a: str, b: str) -> bool:
    return a != b and (arg_matches(a, b.removeprefix("new_")) or arg_matches(b, a))


def context_of(fact: Fact, book: FactBook) -> frozenset[Any] | set[Any]:
    return fact.near | book.source_args.get(fact.source, set()) | {fact.value}


def is_linked(fact: Fact, linked: set[Any], book: FactBook) -> bool:
    if not linked:
        return False
    return not fact.near.isdisjoint(linked) or not linked.isdisjoint(
        book.source_args.get(fact.source, ())
    )


def pick_linked(facts: list[Fact], linked: set[Any], rng: random.Random) -> Fact:
    near = [f for f in facts if f.value in linked]
    if not near:
        near = [f for f in facts if not f.near.isdisjoint(linked)]
    return rng.choice(near if near and rng.random() < LINKED_BIAS else facts)
