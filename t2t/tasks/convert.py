"""The deterministic converter: a walk becomes a τ²-compatible base task, worded from templates.

What the user knows (their identity, the records that are theirs, the values they choose) goes to
known_info; what the agent must look up (item ids, …) to unknown_info, with the attributes a
person would use instead ("the Cookware Set, color silver"); the gold actions are the walk's
writes with the reads they rely on. The structured request is kept in `variant.details` for the
scripted user and for the intent variants, which reword one part of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from t2t.core.environment import canonical_json
from t2t.core.schema import (
    Action,
    EvaluationCriteria,
    Provenance,
    Task,
    ToolCall,
    UserInstructions,
    UserScenario,
    Variant,
)
from t2t.explore.facts import describe_record
from t2t.explore.walk import Candidate, Walk
from t2t.tasks.phrasing import (
    Mention,
    Phrasebook,
    article,
    has_timestamp,
    listing,
    option_phrase,
    phrasebook_of,
    seeded_choice,
    spoken,
)

__all__ = [
    "GENERATOR",
    "actions_from",
    "convert_walk",
    "describe_value",
    "humanize",
    "wants_to_know",
    "identity_text",
    "line_of",
    "name_of",
    "phrase_call",
    "reason_for_call",
    "request_text",
]

GENERATOR = "t2t.graph-explorer+template"
_STYLES = (
    "You are polite and brief.",
    "You are in a hurry and want this done quickly.",
    "You are friendly and chatty, but you stay on topic.",
    "You are careful and double-check what the agent tells you.",
    "You are a little frustrated but cooperative.",
)
_INSTRUCTIONS = (
    "Give the agent only the information above, and only when it asks for it. If the agent asks "
    "you to confirm an action that matches your request, confirm it. Do not invent details you "
    "were not given. When your request is handled, end the conversation with ###STOP###."
)
_COMMUNICATE_SHARE = 0.35
_NUMERIC_HINTS = ("price", "amount", "balance", "total", "limit", "fee", "cost")


def humanize(name: str) -> str:
    """`modify_pending_order_items` → `modify pending order items`."""
    return name.replace("_", " ").strip()


def _noun(arg: str) -> str:
    for prefix in ("old_", "from_"):
        arg = arg.removeprefix(prefix)
    return humanize(arg.removesuffix("_ids").removesuffix("_id").removesuffix("s"))


def _format(value: Any) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{humanize(k)}: {_format(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "; ".join(_format(v) for v in value)
    return str(value)


def describe_value(
    walk: Walk, arg: str, value: Any, *, numbers: bool = False, version: int | None = None
) -> dict[str, Any]:
    """The attributes a person would name a looked-up value by (name, options, status, …).

    As of `version` (how many of the walk's writes happened before; default: all but the last),
    so a record is described as the user sees it when asking, not after the change.
    """
    when = len(walk.steps) - 1 if version is None else version
    record = walk.book.record_of(value, arg, rank=walk.read_rank(when))
    return describe_record(record, skip=value, numbers=numbers)


def _phrase(
    walk: Walk,
    arg: str,
    value: Any,
    origin: str,
    attributes: dict[str, Any] | None,
    version: int | None,
) -> str:
    noun = _noun(arg)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{humanize(arg)}: {_format(value)}"
    if isinstance(value, list):
        return "; ".join(_phrase(walk, arg, v, origin, None, version) for v in value)
    if origin == "free":
        return f"{humanize(arg)}: {value}"
    shown = describe_value(walk, arg, value, version=version) if attributes is None else attributes
    detail = f" {_format(shown)}" if shown else ""
    if origin == "profile" and not (shown and _keyed(walk, arg, value, shown, version)):
        return f"{noun} {value}{detail}"  # their order or reservation number: people know those
    if origin == "profile":
        return f"your {noun}{detail}"  # a payment method: people name it, not its internal key
    return f"the {noun}{detail}" if shown else f"the {noun} {value}"  # nothing else to name it by


def _keyed(walk: Walk, arg: str, value: Any, shown: dict[str, Any], version: int | None) -> bool:
    """Whether `value` identifies an entry nested in the user's own record (a payment method),
    rather than being listed there (order numbers, which people quote), and its description
    alone tells it from the user's other entries (two gift cards keep their ids).
    """
    entries = [f for f in walk.own.matching(arg) if f.own and f.record is not None]
    if value == walk.user_id or not any(f.value == value for f in entries):
        return False
    others = {f.value for f in entries if f.value != value}
    return all(describe_value(walk, arg, other, version=version) != shown for other in others)


def request_text(
    walk: Walk,
    candidate: Candidate,
    *,
    vague: dict[str, tuple[int | None, dict[str, Any]]] | None = None,
    version: int | None = None,
    motive: bool = True,
) -> str:
    """One request in words (second person, with its motive when the domain's phrasebook has
    one and `motive` is set); `vague` names an argument (or one element of it) only by `shared`
    attributes, as an ambiguous user does.
    """
    book = phrasebook_of(walk.env.domain)
    if book is not None and candidate.call.name in book.asks:
        return _natural_request(walk, candidate, book, vague, version, motive)
    return _generic_request(walk, candidate, vague, version)


def _said(walk: Walk, candidate: Candidate, arg: str, value: Any) -> bool:
    """Whether the user says this value in a request (identity values are told apart)."""
    origin = candidate.origins.get(arg, "lookup")
    return not (origin == "identity" or walk.identity.get(arg) == value or value == walk.user_id)


def _record(walk: Walk, arg: str, value: Any, version: int | None) -> dict[str, Any] | None:
    when = len(walk.steps) - 1 if version is None else version
    return walk.book.record_of(value, arg, rank=walk.read_rank(when))


def _mention(
    walk: Walk,
    arg: str,
    value: Any,
    version: int | None,
    *,
    partner: Any = None,
    container: dict[str, Any] | None = None,
    request: dict[str, Any] | None = None,
) -> Mention:
    """`value` of `arg` with its record, the user's other records and what it replaces."""
    record = _record(walk, arg, value, version) if isinstance(value, str | int) else None
    if record is None and isinstance(value, dict):  # {flight_number, date}: find the flight
        for key, inner in value.items():
            if isinstance(inner, str) and (record := _record(walk, key, inner, version)):
                break
    line = line_of(container, value)
    if line is not None:  # an order's line names the item: the catalog entry does not
        record = {**(record or {}), **line}
    partner_record = _record(walk, _partner_arg(arg), partner, version) if partner else None
    if partner is not None and (partner_line := line_of(container, partner)) is not None:
        partner_record = {**(partner_record or {}), **partner_line}
    entries = [f for f in walk.own.matching(arg) if f.own and f.record is not None]
    profile = next((f.record for f in entries if f.value == value), None)
    if profile is not None and record is not None and len(profile) > len(record):
        record = {**record, **profile}  # a payment as the profile lists it, not as paid once
    own = any(f.value == value for f in entries) or (
        record is not None and walk.user_id in record.values()  # it names its owner: them
    )
    others = {f.value: f.record for f in entries if f.value != value and f.record is not None}
    return Mention(
        arg=arg,
        value=value,
        record=record,
        own=own,
        others=tuple(others.values()),
        partner=partner_record,
        container=container,
        request=request or {},
    )


def line_of(container: dict[str, Any] | None, value: Any) -> dict[str, Any] | None:
    """The entry of a list in `container` that holds `value` (an order's line for an item id)."""
    for inner in (container or {}).values():
        if isinstance(inner, list):
            for entry in inner:
                if isinstance(entry, dict) and value in entry.values():
                    return entry
    return None


def _partner_arg(arg: str) -> str:
    """`new_item_ids` replaces `item_ids`."""
    return arg.removeprefix("new_")


def _partner(arguments: dict[str, Any], arg: str, index: int) -> Any:
    """What element `index` of a replacing list argument replaces (`item_ids[i]` for
    `new_item_ids[i]`), or None.
    """
    partners = arguments.get(_partner_arg(arg)) if arg != _partner_arg(arg) else None
    return partners[index] if isinstance(partners, list) and index < len(partners) else None


def _natural_request(
    walk: Walk,
    candidate: Candidate,
    book: Phrasebook,
    vague: dict[str, tuple[int | None, dict[str, Any]]] | None,
    version: int | None,
    motive: bool,
) -> str:
    container = _container(walk, candidate, version)

    def mention_of(arg: str, value: Any, partner: Any) -> Mention:
        return _mention(
            walk,
            arg,
            value,
            version,
            partner=partner,
            container=container,
            request=candidate.call.arguments,
        )

    return phrase_call(
        book,
        candidate.call,
        mention_of,
        said=lambda arg, value: _said(walk, candidate, arg, value),
        vague=vague,
        motive=motive,
    )


def phrase_call(
    book: Phrasebook,
    call: ToolCall,
    mention_of: Callable[[str, Any, Any], Mention],
    *,
    said: Callable[[str, Any], bool],
    vague: dict[str, tuple[int | None, dict[str, Any]]] | None = None,
    motive: bool = True,
) -> str:
    """A call in the words of `book`: the user's request (with its motive), or, for an agent
    confirming it, the same words without one.

    Args:
        mention_of: `(argument, value, partner)` → the value with what is known of it: from a
            walk's reads for a task, from the tool results of a conversation for a probe.
        said: whether an argument value is said at all (identity values are told apart).
    """
    arguments = call.arguments
    mentions: dict[str, Mention] = {}
    slots: dict[str, str] = {}
    for arg, value in arguments.items():
        if not said(arg, value):
            continue
        if isinstance(value, list):
            parts = [
                mention_of(arg, item, _partner(arguments, arg, i)) for i, item in enumerate(value)
            ]
            named = [_named(book, m) for m in parts]
            if vague and arg in vague:
                element, shared = vague[arg]
                if element is not None and len(named) > 1:  # "the Drone and one more item"
                    hazy = _hazy(book, parts[element], shared, among_others=True)
                    named = [*named[:element], *named[element + 1 :], hazy]
                else:
                    named = [_hazy(book, parts[element or 0], shared)]
            mentions[arg] = parts[0] if parts else Mention(arg, value)
            slots[arg] = listing(named)
            continue
        mention = mention_of(arg, value, None)
        mentions[arg] = mention
        if vague and arg in vague:
            slots[arg] = _hazy(book, mention, vague[arg][1])
        else:
            slots[arg] = _named(book, mention)
    slots.update({name: derive(arguments, slots) for name, derive in book.derived.items()})
    ask = seeded_choice(book.asks[call.name], call.name, canonical_json(arguments))
    ask = ask.format_map(_Slots(slots))
    clear = {k: m for k, m in mentions.items() if not (vague and k in vague)}  # a motive
    motives = book.motives_for(call.name, arguments, clear) if motive else ()  # tells no more
    if not motives:
        return ask
    why = seeded_choice(motives, "why", call.name, canonical_json(arguments))
    return f"{ask}, {why}" if "," in ask else f"{ask} {why}"


def _container(walk: Walk, candidate: Candidate, version: int | None) -> dict[str, Any] | None:
    """The record a request is about (the order whose items it names)."""
    for arg, value in candidate.call.arguments.items():
        if arg.endswith("_id") and isinstance(value, str) and _said(walk, candidate, arg, value):
            return _record(walk, arg, value, version)
    return None


def name_of(walk: Walk, candidate: Candidate, arg: str, value: Any) -> str | None:
    """How the user names one value of a request's argument, if the phrasebook says how."""
    book = phrasebook_of(walk.env.domain)
    if book is None or arg not in book.names:
        return None
    values = candidate.call.arguments.get(arg)
    index = values.index(value) if isinstance(values, list) and value in values else None
    partner = _partner(candidate.call.arguments, arg, index) if index is not None else None
    container = _container(walk, candidate, None)
    mention = _mention(
        walk,
        arg,
        value,
        None,
        partner=partner,
        container=container,
        request=candidate.call.arguments,
    )
    return _named(book, mention)


class _Slots(dict[str, str]):
    """Template values; a placeholder the request has no value for reads as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def _named(book: Phrasebook, mention: Mention) -> str:
    namer = book.names.get(mention.arg)
    return namer(mention) if namer else spoken(mention.value)


def _hazy(
    book: Phrasebook, mention: Mention, shared: dict[str, Any], *, among_others: bool = False
) -> str:
    """A value named only by what it shares with the other candidates ("one of your orders");
    `among_others`: after the items of a list that are named ("one more of your items").
    """
    noun = _noun(mention.arg)
    told = {
        k: v
        for k, v in shared.items()
        if not has_timestamp(str(v)) and k not in _UNSAID and v not in _NORMAL_STATES
    }
    values = [spoken(v) for v in told.values()]
    if mention.partner is not None:  # another option of the product it replaces
        name = mention.partner.get("name") or noun
        options = [option_phrase(k, spoken(v)) for k, v in told.items()]
        return f"{article(name)} {name} with {listing(options)}" if told else f"another {name}"
    if not mention.own and mention.arg.startswith(("new_", "to_")):
        return f"{article(noun)} {noun}" + (f" ({', '.join(values)})" if values else "")
    return f"one {'more ' if among_others else ''}of your {' '.join([*values, noun])}s"


_UNSAID = ("currency",)  # what every record shares: nobody names an account by it
_NORMAL_STATES = ("active", "open", "posted", "available")  # said only when it is not so


def _generic_request(
    walk: Walk,
    candidate: Candidate,
    vague: dict[str, tuple[int | None, dict[str, Any]]] | None,
    version: int | None,
) -> str:
    """The wording for a domain without a phrasebook: the tool's name and the attributes."""
    parts = []
    for arg, value in candidate.call.arguments.items():
        origin = candidate.origins.get(arg, "lookup")
        if not _said(walk, candidate, arg, value):
            continue
        if vague and arg in vague:
            element, shared = vague[arg]
            noun = _noun(arg)
            catalog = arg.startswith(("new_", "to_"))  # a choice from a catalog, not theirs
            lead = f"{article(noun)} {noun}" if catalog else f"one of your {noun}s"
            hazy = f"{lead} {_format(shared)}" if shared else lead
            if element is None:
                parts.append(hazy)
                continue
            items = [_phrase(walk, arg, v, origin, None, version) for v in value]
            items[element] = hazy
            parts.append("; ".join(items))
            continue
        parts.append(_phrase(walk, arg, value, origin, None, version))
    return f"{humanize(candidate.call.name)}: " + ", ".join(parts)


_OPENINGS = ("You want to", "You are calling to", "You need to", "You would like to")
_THEN = ("You also want to", "After that, you want to", "Then you also need to")


def reason_for_call(requests: list[str], *, seed: int = 0) -> str:
    """Requests as the scenario's reason for calling: "You want to A. You also want to B."."""
    sentences = [
        f"{seeded_choice(_OPENINGS if i == 0 else _THEN, seed, i)} {request}."
        for i, request in enumerate(requests)
    ]
    return " ".join(sentences)


def wants_to_know(question: str) -> str:
    """The user's question about a number: "You also want to know the price of …"."""
    return f"You also want to know {question}."


def identity_text(walk: Walk) -> str:
    """What the user tells to prove who they are: "Your name is Ann Lee and your zip code is …"."""
    identity = dict(walk.identity)
    parts = []
    first, last = identity.pop("first_name", None), identity.pop("last_name", None)
    if first or last:
        parts.append(f"your name is {' '.join(str(n) for n in (first, last) if n)}")
    for key, value in identity.items():
        label = _IDENTITY_LABELS.get(key, humanize(key))
        parts.append(f"your {label} is {value}")
    text = listing(parts)
    return text[0].upper() + text[1:] + "." if text else ""


_IDENTITY_LABELS = {"zip": "zip code", "dob": "date of birth", "email": "email address"}


def _unknown_text(walk: Walk, writes: list[Candidate]) -> str | None:
    """What the user cannot say and the agent must look up: "the item numbers", …"""
    book = phrasebook_of(walk.env.domain)
    names: list[str] = []
    for write in writes:
        for arg, origin in write.origins.items():
            if origin != "lookup":
                continue
            if book is not None:  # what the phrasebook does not name, the user says
                if arg not in book.unknown:
                    continue
                name = book.unknown[arg]
            else:
                name = f"the {humanize(arg)}"
            if name not in names:
                names.append(name)
    return f"You do not know {listing(names)}." if names else None


def _communicate(walk: Walk, write: Candidate, rng: random.Random) -> tuple[str, str] | None:
    """A number from a record the request names, for the user to ask and the agent to tell.

    Only fields the task's writes leave alone: the answer must not depend on when it is given.
    """
    changed = _changed_fields(walk)
    options = []
    for arg, value in write.call.arguments.items():
        if not arg.endswith(("_id", "_ids")):  # only records the request names, not an address
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            for key, number in describe_value(walk, arg, item, numbers=True).items():
                if key in changed or not isinstance(number, int | float):
                    continue
                if any(hint in key for hint in _NUMERIC_HINTS):
                    what = name_of(walk, write, arg, item) or _phrase(
                        walk, arg, item, "lookup", None, None
                    )
                    options.append((f"the {humanize(key)} of {what}", number))
    if not options or rng.random() >= _COMMUNICATE_SHARE:
        return None
    question, number = rng.choice(options)
    return question, str(number)


def _changed_fields(walk: Walk) -> set[str]:
    """Names of the fields the walk's writes change, anywhere in the records they touch."""
    names: set[str] = set()

    def collect(before: Any, after: Any, key: str) -> None:
        if isinstance(before, dict) and isinstance(after, dict):
            for k in before.keys() | after.keys():
                collect(before.get(k), after.get(k), k)
        elif before != after:
            names.add(key)

    first, last = walk.steps[0].before, walk.steps[-1].after
    for change in first.diff(last):
        collect(change.before, change.after, change.table)
    return names


def actions_from(calls: list[ToolCall]) -> list[Action]:
    return [
        Action(action_id=str(i), name=c.name, arguments=c.arguments) for i, c in enumerate(calls)
    ]


def _persona(walk: Walk, rng: random.Random) -> str:
    record = walk.env.state[walk.graph.user_table][walk.user_id]
    name = record.get("name")
    if isinstance(name, dict):
        name = " ".join(str(v) for v in name.values() if isinstance(v, str))
    who = (
        f"You are {name}, a customer." if isinstance(name, str) and name else "You are a customer."
    )
    return f"{who} {rng.choice(_STYLES)}"


def convert_walk(walk: Walk, *, task_id: str, seed: int) -> Task:
    """The base task of a walk: what the user wants and knows, the gold calls, what to tell."""
    rng = random.Random(seed)
    writes = [step.candidate for step in walk.steps]
    requests = [request_text(walk, w, version=k) for k, w in enumerate(writes)]
    communicate = _communicate(walk, writes[-1], rng)
    asks = f" {wants_to_know(communicate[0])}" if communicate else ""
    instructions = UserInstructions(
        domain=walk.domain_name,
        reason_for_call=reason_for_call(requests, seed=seed) + asks,
        known_info=identity_text(walk),
        unknown_info=_unknown_text(walk, writes),
        task_instructions=_INSTRUCTIONS,
    )
    calls = walk.calls_for(walk.base_writes())
    return Task(
        id=task_id,
        domain=walk.domain_name,
        user_scenario=UserScenario(persona=_persona(walk, rng), instructions=instructions),
        evaluation_criteria=EvaluationCriteria(
            actions=actions_from(calls),
            communicate_info=[communicate[1]] if communicate else [],
            reward_basis=["DB", "COMMUNICATE"] if communicate else ["DB"],
        ),
        variant=Variant(
            kind="base",
            details={
                "user_id": walk.user_id,
                "identity": walk.identity,
                "requests": requests,
                "ask": communicate[0] if communicate else None,
            },
        ),
        provenance=Provenance(generator=GENERATOR, seed=seed),
    )
