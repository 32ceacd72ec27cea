"""Shared machinery of the variant kinds: the parts of a write that can be swapped, and the swap.

A *slot* is one argument of the last write (or one element of a list argument) that names a
record: which order, which item, which new option, which payment method. Variants are built by
putting another value read from the user's data into a slot and checking the result against the
policy rules and the tools, in the state just before that write.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from t2t.core.environment import Environment
from t2t.core.schema import Action, Task, ToolCall, UserInstructions, Variant
from t2t.explore.walk import Candidate, Walk, WriteStep
from t2t.tasks.convert import actions_from, reason_for_call, wants_to_know

__all__ = [
    "Rejected",
    "Slot",
    "at_step",
    "derive_task",
    "gold_of",
    "last_write_index",
    "pick_strategy",
    "placed",
    "replace_in_call",
    "same_record_calls",
    "slots_of",
    "substitutes",
]


class Rejected(Exception):  # noqa: N818 - control flow inside the generator, never raised to users
    """A variant could not be built or failed verification; the message is the recorded reason."""


@dataclass(frozen=True)
class Slot:
    """Argument `arg` of a write (element `element` when the argument is a list)."""

    arg: str
    element: int | None
    strategy: str

    def get(self, arguments: dict[str, Any]) -> Any:
        value = arguments[self.arg]
        return value[self.element] if self.element is not None else value

    def to_dict(self) -> dict[str, Any]:
        return {"arg": self.arg, "element": self.element}


def replace_in_call(call: ToolCall, slot: Slot, value: Any) -> ToolCall:
    arguments = dict(call.arguments)
    if slot.element is None:
        arguments[slot.arg] = value
    else:
        items = list(arguments[slot.arg])
        items[slot.element] = value
        arguments[slot.arg] = items
    return ToolCall(name=call.name, arguments=arguments)


def slots_of(walk: Walk, candidate: Candidate) -> list[Slot]:
    """The record-naming parts of a write, each labelled with the strategy that swaps it."""
    own = walk.graph.user_key
    slots, anchor_seen = [], False
    for arg, value in candidate.call.arguments.items():
        if not arg.endswith(("_id", "_ids")) or arg == own:
            continue
        if isinstance(value, list):
            kind = "option" if arg.startswith(("new_", "to_")) else "item"
            slots += [Slot(arg, i, kind) for i in range(len(value))]
        elif not anchor_seen:
            slots.append(Slot(arg, None, "record"))
            anchor_seen = True
        else:
            slots.append(Slot(arg, None, "option" if arg.startswith(("new_", "to_")) else "detail"))
    return slots


@contextmanager
def at_step(walk: Walk, step: WriteStep) -> Iterator[Environment]:
    """Reads made inside see the state just before `step`'s write, as replay will."""
    saved = walk.env
    walk.env = step.before
    try:
        yield step.before
    finally:
        walk.env = saved


def substitutes(
    walk: Walk, candidate: Candidate, slot: Slot, rng: random.Random, *, limit: int = 12
) -> list[tuple[Any, Candidate]]:
    """Other values read from the user's data that could fill `slot`, as candidate writes.

    A list element keeps to the records linked to the others (items of the same order); a
    paired list (`new_item_ids` for `item_ids`) gets its partner element re-picked.
    """
    current = slot.get(candidate.call.arguments)
    taken = candidate.call.arguments[slot.arg] if slot.element is not None else [current]
    if slot.strategy == "record" or not walk.book.matching(slot.arg):
        walk.expand(slot.arg, set(), rng)
    facts = walk.book.matching(slot.arg)
    if slot.element is not None:  # another item of the same order, another option of the product
        first = min((f.source for f in facts if f.value == current), default=None)
        facts = [f for f in facts if f.source == first] or facts
    values = list(dict.fromkeys(f.value for f in facts))
    values = [v for v in values if v not in taken and type(v) is type(current)]
    rng.shuffle(values)
    found: list[tuple[Any, Candidate]] = []
    for value in values[:limit]:
        walk.detail(slot.arg, value)
        replaced = replace_in_call(candidate.call, slot, value)
        call = _repair_partner(walk, replaced, slot, value, rng)
        if call is None:
            continue
        sources = {f.source for f in walk.book.matching(slot.arg) if f.value == value}
        found.append(
            (value, Candidate(call, candidate.sources | walk.closure(sources), candidate.origins))
        )
    return found


def _repair_partner(
    walk: Walk, call: ToolCall, slot: Slot, value: Any, rng: random.Random
) -> ToolCall | None:
    if slot.element is None or slot.strategy != "item":
        return call
    for arg, other in call.arguments.items():
        if (
            arg != slot.arg
            and isinstance(other, list)
            and arg.endswith(slot.arg.removeprefix("old_"))
        ):
            old = [f for f in walk.book.matching(slot.arg) if f.value == value]
            pair = walk.pair_list(arg, {"type": "string"}, old[:1], rng) if old else []
            if not pair:
                return None
            items = list(other)
            items[slot.element] = pair[0].value
            return ToolCall(name=call.name, arguments={**call.arguments, arg: items})
    return call


def pick_strategy(weights: dict[str, float], available: set[str], rng: random.Random) -> list[str]:
    """Strategies in a weighted random order (without replacement), limited to those available."""
    names = [n for n in weights if n in available]
    order = []
    while names:
        name = rng.choices(names, [weights[n] for n in names])[0]
        order.append(name)
        names.remove(name)
    return order


def placed(walk: Walk, candidate: Candidate, after: int) -> tuple[float, Candidate]:
    """A write sampled late goes after the step it replaces and after every read it relies on."""
    return (max([after, *candidate.sources]) + 0.5, candidate)


def gold_of(walk: Walk, writes: list[tuple[float, Candidate]]) -> list[Action]:
    return actions_from(walk.calls_for(writes))


def last_write_index(task: Task, env: Environment) -> int:
    """Index of the last write among a task's gold actions."""
    actions = (task.evaluation_criteria.actions if task.evaluation_criteria else None) or []
    for index in range(len(actions) - 1, -1, -1):
        if env.domain.is_write(actions[index].name):
            return index
    raise Rejected("the task has no gold write")


def derive_task(
    base: Task,
    kind: str,
    *,
    requests: list[str],
    instructions: str,
    details: dict[str, Any],
    actions: list[Action] | None = None,
    keep_ask: bool = True,
) -> Task:
    """A variant of `base`: same user, earlier requests kept, the last one reworded as `requests`.

    With new gold `actions` (or `keep_ask=False`), the base task's question to the agent and
    what it must tell are dropped.
    """
    task = base.model_copy(deep=True)
    user = task.user_scenario.instructions
    earlier = base.variant.details["requests"][:-1]
    ask = base.variant.details.get("ask") if actions is None and keep_ask else None
    if not ask and task.evaluation_criteria:
        task.evaluation_criteria.communicate_info = []
        task.evaluation_criteria.reward_basis = ["DB"]
    assert isinstance(user, UserInstructions), "a variant needs structured user instructions"
    user.reason_for_call = reason_for_call([*earlier, *requests], seed=base.provenance.seed or 0)
    if ask:
        user.reason_for_call += f" {wants_to_know(ask)}"
    user.task_instructions += " " + instructions
    task.id = base.id.removesuffix("-base") + f"-{kind}"
    if actions is not None:
        assert task.evaluation_criteria is not None, "new gold actions need evaluation criteria"
        task.evaluation_criteria.actions = actions
    merged = {**base.variant.details, "ask": ask, **details}
    task.variant = Variant(kind=kind, parent_id=base.id, details=merged)
    return task


def same_record_calls(
    walk: Walk, step: WriteStep, rng: random.Random, *, tries: int
) -> Iterator[Candidate]:
    """Calls of the other write tools on the record the explored write is about (its anchor)."""
    anchor = next(iter(slots_of(walk, step.candidate)), None)
    if anchor is None or anchor.strategy != "record":
        return
    fixed = {anchor.arg: step.candidate.call.arguments[anchor.arg]}
    for name in rng.sample(walk.graph.write_tools, len(walk.graph.write_tools)):
        if name == step.candidate.call.name or anchor.arg not in walk.graph.required[name]:
            continue
        for _ in range(tries):
            candidate = walk.fill(name, rng, fixed=fixed)
            if candidate is not None:
                yield candidate
