"""How the probes speak: questions for what they were not told, confirmations as agents say them.

Everything is built from the call and the conversation so far, with no per-domain tables: a
tool's name read as a verb phrase ("cancel pending order"), an argument's name as words ("new
item ids"), and a record named by what the tool results showed about it (the names of an
order's items, a card's brand and last four digits, a trip's origin and destination). The text is
deterministic, so a probe recognises its own question when it reads the conversation again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from string import Formatter
from typing import Any

from t2t.core.environment import Domain
from t2t.core.schema import Message, ToolCall
from t2t.intents.text import mentions
from t2t.tasks import Mention, phrasebook_of
from t2t.tasks.convert import line_of, phrase_call

__all__ = [
    "ASK_PREFIX",
    "IDENTITY_SUFFIX",
    "asked_names",
    "ask_text",
    "confirmation_text",
    "humanize",
]

ASK_PREFIX = "Could you give me "
IDENTITY_SUFFIX = ", so I can verify your identity?"
_PLAIN_SUFFIX = ", please?"
_WORDS = {"dob": "date of birth", "zip": "zip code", "num": "number", "qty": "quantity"}
_LISTED = 3  # names shown before "and N more"


def humanize(name: str) -> str:
    """`find_user_id_by_name_zip` → "find user id by name zip code"; `dob` → "date of birth"."""
    return " ".join(_WORDS.get(word, word) for word in name.split("_") if word)


def _joined(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def ask_text(names: Sequence[str], *, identity: bool) -> str:
    """The question for the argument `names` (humanised) that nothing in the conversation gave."""
    if identity:
        return f"{ASK_PREFIX}your {_joined(names)}{IDENTITY_SUFFIX}"
    return f"{ASK_PREFIX}the {_joined(names)}{_PLAIN_SUFFIX}"


def asked_names(messages: list[Message]) -> set[str]:
    """The argument names the agent has asked for already (in `ask_text`'s wording)."""
    asked: set[str] = set()
    for message in messages:
        text = message.content or ""
        if message.role != "assistant" or not text.startswith(ASK_PREFIX):
            continue
        body = text[len(ASK_PREFIX) :]
        for suffix in (IDENTITY_SUFFIX, _PLAIN_SUFFIX):
            body = body.removesuffix(suffix)
        body = body.removeprefix("your ").removeprefix("the ")
        asked.update(n.strip() for n in body.replace(" and ", ", ").split(", ") if n.strip())
    return asked


# ------------------------------------------------------------------------------- confirmations


def confirmation_text(
    call: ToolCall, messages: Sequence[Message] = (), domain: Domain | None = None
) -> str:
    """The probes' question before a write, naming every value of the call in words.

    With the `domain`'s phrasebook, in its words, as the user would put it: "I can cancel order
    #W4843015 (the Luggage Set and the Charger), with reason 'ordered by mistake'. Shall I go
    ahead?"; otherwise generically: "I can cancel pending order #W4843015 — Luggage Set, Charger
    and T-Shirt — with reason 'ordered by mistake'. Shall I go ahead?". Records are named from
    the tool results in `messages` (the conversation before the question); the authenticated
    user's own id is left out. The same call after the same conversation gives the same text,
    which is how the probe ties the user's yes to this call.
    """
    if domain is not None and (phrased := _phrased(call, messages, domain)) is not None:
        return phrased
    phrase = humanize(call.name)
    names = _record_names(messages)
    identity = _identity_values(messages)
    parts = [
        (key, value)
        for key, value in call.arguments.items()
        if not (_is_id(key) and isinstance(value, str | int) and str(value) in identity)
    ]
    head = ""
    if parts and _is_id(parts[0][0]) and _label(parts[0][0]).split()[-1:] == phrase.split()[-1:]:
        key, value = parts.pop(0)  # "cancel pending order" + "#W4843015 — …"
        head = " " + _values(value, names, dashes=True)
    rest = "; ".join(_describe(key, value, names) for key, value in parts)
    joiner = " with " if head else " for "
    text = f"I can {phrase}{head}{joiner + rest if rest else ''}."
    return text.replace(" —.", ".") + " Shall I go ahead?"


def _phrased(call: ToolCall, messages: Sequence[Message], domain: Domain) -> str | None:
    """The confirmation in the phrasebook's words, with what its template leaves unsaid."""
    book = phrasebook_of(domain)
    if book is None or call.name not in book.asks:
        return None
    records = _best_records(messages, named=False)
    identity = _identity_values(messages)

    def said(arg: str, value: Any) -> bool:
        return not (isinstance(value, str | int) and str(value) in identity)

    container = next(
        (
            records.get(value)
            for arg, value in call.arguments.items()
            if arg.endswith("_id") and isinstance(value, str) and said(arg, value)
        ),
        None,
    )

    def record_of(value: Any) -> dict[str, Any] | None:
        record = records.get(str(value)) if isinstance(value, str | int) else None
        if record is None and isinstance(value, dict):  # {flight_number, date}: the flight
            record = next((records[str(v)] for v in value.values() if str(v) in records), None)
        line = line_of(container, value)  # an order's line names the item
        return {**(record or {}), **line} if line is not None else record

    def mention_of(arg: str, value: Any, partner: Any) -> Mention:
        record = record_of(value)
        return Mention(
            arg=arg,
            value=value,
            record=record,
            own=record is not None and any(str(v) in identity for v in record.values()),
            partner=record_of(partner) if partner is not None else None,
            container=container,
            request=call.arguments,
        )

    ask = phrase_call(book, call, mention_of, said=said, motive=False)
    fields = {f for t in book.asks[call.name] for _, f, _, _ in Formatter().parse(t) if f}
    derived = bool(fields & set(book.derived))  # a derived phrase stands for the rest
    unsaid = [
        f"{humanize(key)} {_render(value)}"
        for key, value in call.arguments.items()
        if said(key, value) and key not in fields and not derived and not _all_mentioned(ask, value)
    ]
    extra = f", with {_joined(unsaid)}" if unsaid else ""
    return f"I can {ask}{extra}. Shall I go ahead?"


def _all_mentioned(text: str, value: Any) -> bool:
    if isinstance(value, dict):
        return all(_all_mentioned(text, v) for v in value.values())
    if isinstance(value, list):
        return all(_all_mentioned(text, v) for v in value)
    return mentions(text, value)


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids"))


def _label(key: str) -> str:
    return humanize(key.removesuffix("_ids").removesuffix("_id"))


def _describe(key: str, value: Any, names: dict[str, str]) -> str:
    if _is_id(key):
        return f"{_label(key)} {_values(value, names)}"
    return f"{humanize(key)} {_render(value)}"


def _values(value: Any, names: dict[str, str], *, dashes: bool = False) -> str:
    """Ids with the name of their record, when a tool result showed one."""
    if isinstance(value, list):
        return _joined([f"{v} ({names[str(v)]})" if str(v) in names else str(v) for v in value])
    name = names.get(str(value))
    if name is None:
        return str(value)
    return f"{value} — {name} —" if dashes else f"{value} ({name})"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        inner = ", ".join(f"{humanize(str(k))} {_render(v)}" for k, v in value.items())
        return f"({inner})"
    if isinstance(value, list):
        return _joined([_render(v) for v in value]) or "none"
    text = str(value)
    return f"'{text}'" if " " in text else text


# ---------------------------------------------------------------------------- what tools showed


def _results(messages: Sequence[Message]) -> Iterator[Any]:
    for message in messages:
        if message.role == "tool" and message.content:
            try:
                yield json.loads(message.content)
            except ValueError:
                yield message.content


def _dicts(value: Any) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Every dict inside a tool result, with the key it is stored under in a parent dict."""
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, inner = stack.pop()
        if isinstance(inner, dict):
            yield key, inner
            stack.extend((str(k), v) for k, v in reversed(inner.items()))
        elif isinstance(inner, list):
            stack.extend((None, v) for v in reversed(inner))


def _name(record: dict[str, Any]) -> str | None:
    """What a person calls a record, from the fields a tool result showed."""
    name = record.get("name") or record.get("nickname") or record.get("title")
    if isinstance(name, str) and name:
        return name
    if isinstance(name, dict):
        return " ".join(str(v) for v in name.values() if v) or None
    listed = record.get("items") or []
    items: list[str] = [
        i["name"] for i in listed if isinstance(i, dict) and isinstance(i.get("name"), str)
    ]
    if items:
        more = len(items) - _LISTED
        return _joined(items[:_LISTED] + ([f"{more} more"] if more > 0 else []))
    if record.get("origin") and record.get("destination"):
        return f"{record['origin']} to {record['destination']}"
    if isinstance(record.get("options"), dict) and record["options"]:
        return ", ".join(str(v) for v in record["options"].values())
    if record.get("last_four"):
        brand = record.get("brand") or humanize(str(record.get("source") or "card"))
        return f"{brand} ending {record['last_four']}"
    if isinstance(record.get("source"), str):
        return humanize(record["source"])
    return None


def _best_records(messages: Sequence[Message], *, named: bool) -> dict[str, dict[str, Any]]:
    """Id → the record a tool result showed under it (`named`: only records with a name)."""
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for result in _results(messages):
        for stored_under, record in _dicts(result):
            if named and _name(record) is None:
                continue
            ids = [(3, record["id"])] if "id" in record else []
            ids += [(2, stored_under)] if stored_under else []
            own = [k for k in record if k.endswith("_id")]
            ids += [(1 if i == 0 else 0, record[k]) for i, k in enumerate(own)]
            for rank, value in ids:
                if isinstance(value, str | int) and rank > best.get(str(value), (-1, {}))[0]:
                    best[str(value)] = (rank, record)
    return {value: record for value, (_, record) in best.items()}


def _record_names(messages: Sequence[Message]) -> dict[str, str]:
    """Id → the record's name, for every record a tool result showed under an id."""
    return {
        value: name
        for value, record in _best_records(messages, named=True).items()
        if (name := _name(record)) is not None
    }


def _identity_values(messages: Sequence[Message]) -> set[str]:
    """The authenticated user: the first call's arguments and its plain-text result."""
    for index, message in enumerate(messages):
        if message.role == "assistant" and message.tool_calls:
            call = message.tool_calls[0]
            values = {str(v) for v in call.arguments.values() if isinstance(v, str | int)}
            for later in messages[index + 1 :]:
                if later.role == "tool" and later.content:
                    if not later.content.lstrip().startswith(("{", "[")):
                        values.add(later.content.strip())
                    break
            return values
    return set()
