"""The deterministic converter: a walk becomes a τ²-compatible base task, worded from templates.

What the user knows (their identity, the records that are theirs, the values they choose) goes to
known_info; what the agent must look up (item ids, …) to unknown_info, with the attributes a
person would use instead ("the Cookware Set, color silver"); the gold actions are the walk's
writes with the reads they rely on. The structured request is kept in `variant.details` for the
scripted user and for the intent variants, which reword one part of it.
"""

from __future__ import annotations

import random
from typing import Any

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

__all__ = [
    "GENERATOR",
    "actions_from",
    "convert_walk",
    "describe_value",
    "humanize",
    "identity_text",
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
) -> str:
    """One request in words; `vague` names an argument (or one element of it) only by `shared`
    attributes, as an ambiguous user does.
    """
    parts = []
    for arg, value in candidate.call.arguments.items():
        origin = candidate.origins.get(arg, "lookup")
        if origin == "identity" or walk.identity.get(arg) == value or value == walk.user_id:
            continue
        if vague and arg in vague:
            element, shared = vague[arg]
            noun = _noun(arg)
            catalog = arg.startswith(("new_", "to_"))  # a choice from a catalog, not theirs
            lead = f"a {noun}" if catalog else f"one of your {noun}s"
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


def identity_text(walk: Walk) -> str:
    known = ", ".join(f"your {humanize(k)} is {v}" for k, v in walk.identity.items())
    return known[0].upper() + known[1:] + "." if known else ""


def _lookups(walk: Walk, writes: list[Candidate]) -> list[str]:
    names = []
    for write in writes:
        for arg, origin in write.origins.items():
            if origin == "lookup" and humanize(arg) not in names:
                names.append(humanize(arg))
    return names


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
                    what = _phrase(walk, arg, item, "lookup", None, None)
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
    asks = f" Also ask the agent for {communicate[0]}." if communicate else ""
    lookups = _lookups(walk, writes)
    instructions = UserInstructions(
        domain=walk.domain_name,
        reason_for_call="You want to " + "; then ".join(requests) + "." + asks,
        known_info=identity_text(walk),
        unknown_info=(f"You do not know the {', '.join(lookups)}." if lookups else None),
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
