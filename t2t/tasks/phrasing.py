"""Phrasebooks: how a domain's customers ask for each write, say why, and name what is theirs.

A domain folder may hold `phrasebook.py` with module-level tables (all optional):

- `ASKS`: write tool → request templates in the second person ("cancel {order_id}"), one
  placeholder per argument the user says (identity arguments are left out); one is chosen by a
  seed taken from the call, so a request reads the same in a base task and its variants.
- `MOTIVES`: write tool, or `"tool:value"` for a call with that argument value (a cancel reason),
  → clauses saying why ("because you ordered it by mistake"); or a function of the request's
  `Mention`s returning them, when the motive must fit the record (an insured trip).
- `NAMES`: argument → function of a `Mention` returning how a person names that value: "your Visa
  ending in 1076", "order #W5188661 (the lamp and the kettle)", "$32.16". Unnamed values are
  spoken plainly (`spoken`).
- `DERIVED`: extra placeholders computed from the raw arguments and the named ones ("address"
  from address1 … zip; "a cabin change" when the flights stay).
- `UNKNOWN`: argument → what the user does not know of it ("the item numbers").

A domain without one keeps the generic converter's wording (tool name and attributes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from string import Formatter
from typing import Any

from t2t.core.environment import Domain
from t2t.core.errors import DomainError
from t2t.domain.loader import domain_module

__all__ = [
    "Mention",
    "Phrasebook",
    "article",
    "has_internal_id",
    "has_timestamp",
    "last_digits",
    "listing",
    "option_phrase",
    "money",
    "payment_method",
    "phrasebook_of",
    "seeded_choice",
    "spoken",
    "spoken_date",
    "the_one_with",
    "words",
]

_ADJECTIVE = ("proof", "able", "ible")  # option names said as adjectives: waterproof, foldable
# A lowercase prefix with underscores, then digits: acc_123, gift_card_1309715, jane_doe_42.
_INTERNAL_ID = re.compile(r"\b[a-z]+(?:_[a-z]+)*_\d+\b")
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?")
_EMAIL = re.compile(r"\S+@\S+")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


@dataclass(frozen=True)
class Mention:
    """One value of a request with what the user knows around it, for a phrasebook to name."""

    arg: str
    value: Any
    record: dict[str, Any] | None = None  # the record the value names, as the user sees it
    own: bool = False  # one of the user's own records (their card), not a catalog entry
    others: tuple[dict[str, Any], ...] = ()  # the user's other records under this argument
    partner: dict[str, Any] | None = None  # what a replacement replaces (the old item)
    container: dict[str, Any] | None = None  # the record the request is about (the order)
    request: Mapping[str, Any] = field(default_factory=dict)  # the call's raw arguments


Namer = Callable[[Mention], str]
Motives = Sequence[str] | Callable[[Mapping[str, Mention]], Sequence[str]]


@dataclass(frozen=True)
class Phrasebook:
    """A domain's phrasebook tables (see the module docstring)."""

    asks: Mapping[str, Sequence[str]] = field(default_factory=dict)
    motives: Mapping[str, Motives] = field(default_factory=dict)
    names: Mapping[str, Namer] = field(default_factory=dict)
    derived: Mapping[str, Callable[[Mapping[str, Any], Mapping[str, str]], str]] = field(
        default_factory=dict
    )
    unknown: Mapping[str, str] = field(default_factory=dict)

    def motives_for(
        self, tool: str, arguments: Mapping[str, Any], mentions: Mapping[str, Mention]
    ) -> Sequence[str]:
        """The motive clauses that fit a call: by an argument value first, then by the tool."""
        for value in arguments.values():
            if isinstance(value, str) and f"{tool}:{value}" in self.motives:
                return _resolve(self.motives[f"{tool}:{value}"], mentions)
        return _resolve(self.motives.get(tool, ()), mentions)


def _resolve(motives: Motives, mentions: Mapping[str, Mention]) -> Sequence[str]:
    return motives(mentions) if callable(motives) else motives


_BOOKS: dict[str, Phrasebook | None] = {}


def phrasebook_of(domain: Domain) -> Phrasebook | None:
    """The phrasebook of a folder domain, or None (generic wording)."""
    if domain.folder is None:
        return None
    if domain.folder not in _BOOKS:
        module = domain_module(domain, "phrasebook", optional=True)
        book = None
        if module is not None:
            book = Phrasebook(
                asks=getattr(module, "ASKS", {}),
                motives=getattr(module, "MOTIVES", {}),
                names=getattr(module, "NAMES", {}),
                derived=getattr(module, "DERIVED", {}),
                unknown=getattr(module, "UNKNOWN", {}),
            )
            _check(book, domain)
        _BOOKS[domain.folder] = book
    return _BOOKS[domain.folder]


def _check(book: Phrasebook, domain: Domain) -> None:
    """A clear error for a phrasebook that names a tool or argument the domain does not have.

    Raises:
        DomainError: naming the file, the table and the entry.
    """
    where = f"{domain.folder}/phrasebook.py"
    for tool, templates in book.asks.items():
        found = domain.tools.get(tool)
        if found is None or isinstance(templates, str):
            problem = "is not a tool of the domain" if found is None else "is not a list"
            raise DomainError(f"{where}: ASKS[{tool!r}] {problem}")
        schema = found.openai_schema()["function"].get("parameters", {})
        known = set(schema.get("properties", {})) | set(book.derived)
        for template in templates:
            fields = {f for _, f, _, _ in Formatter().parse(template) if f}
            if fields - known:
                raise DomainError(
                    f"{where}: ASKS[{tool!r}] template {template!r} names "
                    f"{', '.join(sorted(fields - known))}: neither an argument of {tool} "
                    "nor a DERIVED entry"
                )
    for key in book.motives:
        if key.split(":", 1)[0] not in domain.tools:
            raise DomainError(f"{where}: MOTIVES[{key!r}] names no tool of the domain")


def seeded_choice(options: Sequence[str], *key: Any) -> str:
    """One of `options`, the same for the same key in every process (not Python's `hash`)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return options[int.from_bytes(digest, "big") % len(options)]


# ------------------------------------------------------------------ how people say values


def money(value: Any) -> str:
    """Dollars as people write them: 32.16 → "$32.16"; 1500 → "$1,500"."""
    amount = float(value)
    text = f"{abs(amount):,.2f}".removesuffix(".00")
    return f"-${text}" if amount < 0 else f"${text}"


def spoken_date(value: str, *, year: bool = True) -> str:
    """An ISO date as people say it: "2024-05-03" → "May 3, 2024" (or "May 3")."""
    match = _ISO_DATE.match(value)
    if not match:
        return value
    y, m, d = (int(g) for g in match.groups())
    try:
        date(y, m, d)
    except ValueError:
        return value
    return f"{_MONTHS[m - 1]} {d}, {y}" if year else f"{_MONTHS[m - 1]} {d}"


def words(value: Any) -> str:
    """A stored value as words: "basic_economy" → "basic economy"."""
    return str(value).replace("_", " ")


def article(word: str) -> str:
    """The indefinite article before `word` by how it sounds: "an Everly Monitor", "a USB hub"."""
    lower = word.lower()
    if lower.startswith(_SOUNDS_LIKE_YOU) or word[:3].isupper():  # "a unit", "a USB hub"
        return "an" if word[:1] in "AEFHILMNORSX" and word[:3].isupper() else "a"
    return "an" if lower[:1] in tuple("aeiou") or lower.startswith(("hour", "honest")) else "a"


_SOUNDS_LIKE_YOU = ("uni", "use", "usu", "uti", "eu", "one", "once")


def option_phrase(key: str, value: Any) -> str:
    """A product option as people say it: "large size", "auto tilt" (not "auto tilt tilt
    mechanism"), "waterproof", "not waterproof" and "no backlight" (not "yes waterproof").
    """
    name = str(key).replace("_", " ")
    said = str(value)
    if said.lower() in ("yes", "true"):
        return name
    if said.lower() in ("no", "false", "none"):  # "no backlight", but "not waterproof"
        return f"not {name}" if name.endswith(_ADJECTIVE) else f"no {name}"
    if name == "size" and len(said) <= 3:  # "size 7", "size XL"; but "medium size"
        return f"size {said}"
    head = name.split()[0].lower() if name.strip() else ""
    if said.lower() in name.lower() or head[:5] in said.lower():  # "bagless", "AA batteries"
        return said
    return f"{said} {name}"


def the_one_with(parts: Sequence[str]) -> str:
    """A product told by what it has: "the one with large size", with an adjective before the
    noun ("the waterproof one with large size") and a negated one after it ("the one with large
    size that is not waterproof"), never "the one with waterproof".
    """
    before = [p for p in parts if " " not in p and p.endswith(_ADJECTIVE)]
    after = [p for p in parts if p.startswith("not ") and p.endswith(_ADJECTIVE)]
    with_ = [p for p in parts if p not in before and p not in after]
    text = " ".join(["the", *before, "one"])
    if with_:
        text += f" with {listing(with_)}"
    if after:
        text += f" that is {listing(after)}"
    return text


def listing(items: Sequence[str]) -> str:
    """Items in a sentence: ["a", "b", "c"] → "a, b and c"."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def last_digits(value: Any, n: int = 4) -> str:
    """The last `n` digits of an id ("acc_9846861" → "6861"), as printed on cards and statements."""
    digits = re.sub(r"\D", "", str(value))
    return digits[-n:]


def spoken(value: Any) -> str:
    """A value as a person says it when no phrasebook names it."""
    if isinstance(value, str):
        return spoken_date(value) if _ISO_DATE.match(value) else words(value)
    if isinstance(value, dict):
        return " ".join(spoken(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list):
        return listing([spoken(v) for v in value])
    return str(value)


def has_internal_id(text: str) -> bool:
    """An id a customer would not know (acc_123, gift_card_1309715); emails and order numbers
    such as #W5188661 are not.
    """
    return bool(_INTERNAL_ID.search(_EMAIL.sub(" ", text)))


def has_timestamp(text: str) -> bool:
    """An ISO date-time (2024-05-08T02:29:32), which no customer says."""
    return bool(_TIMESTAMP.search(text))


def payment_method(mention: Mention) -> str:
    """A stored payment method as its owner says it: "your Visa ending in 1076", "your PayPal
    account", "your gift card" (with its last digits when they hold several).
    """
    record = mention.record or {}
    source = str(record.get("source") or re.sub(r"_\d+$", "", str(mention.value)))
    if not mention.own and not record.get("source"):  # someone else's: as the order shows it
        return f"the original {words(source or 'payment method')}"
    if source == "paypal":
        return "your PayPal account"
    if source == "credit_card":
        brand = str(record.get("brand") or "credit card").title()
        return f"your {brand} ending in {record.get('last_four', '')}".rstrip()
    label = words(source or "payment method")
    twins = [o for o in mention.others if o.get("source") == source]
    return f"your {label} ending in {last_digits(mention.value)}" if twins else f"your {label}"
