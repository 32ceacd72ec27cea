"""Ambiguous: the user leaves out what tells two of their records apart; the agent must ask.

Built by swapping one slot of the last write for another value from the user's data: when the
swapped write also keeps to the rules, succeeds and ends in a different state, the two are real
candidates. The user describes the record only by what the candidates share ("one of your
pending orders") and reveals the rest (`withheld`) only when asked.
"""

from __future__ import annotations

import random
from typing import Any

from t2t.core.environment import Environment
from t2t.core.schema import Task
from t2t.explore.walk import Walk
from t2t.intents.checks import clean_replay, gold_actions
from t2t.intents.slots import (
    Rejected,
    Slot,
    at_step,
    derive_task,
    last_write_index,
    pick_strategy,
    replace_in_call,
    slots_of,
    substitutes,
)
from t2t.tasks.convert import describe_value, request_text

__all__ = ["Ambiguous"]


def _named_before(walk: Walk) -> set[Any]:
    """Values the earlier writes of the walk pass: the user has named them already."""
    named: set[Any] = set()
    for step in walk.steps[:-1]:
        for value in step.candidate.call.arguments.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str | int | float):
                    named.add(item)
    return named


def _shared(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in a.items() if b.get(k) == v}


class Ambiguous:
    name = "ambiguous"
    probe = "eager"
    strategies = {"record": 0.35, "item": 0.25, "option": 0.2, "detail": 0.2}

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        step = walk.steps[-1]
        gold_call = step.candidate.call
        slots = slots_of(walk, step.candidate)
        with at_step(walk, step) as before:
            named = _named_before(walk)
            for strategy in pick_strategy(self.strategies, {s.strategy for s in slots}, rng):
                for slot in [s for s in slots if s.strategy == strategy]:
                    value = slot.get(gold_call.arguments)
                    if value in named:  # an earlier request names it: nothing left to ask
                        continue
                    others = [
                        v
                        for v, cand in substitutes(walk, step.candidate, slot, rng)
                        if (after := walk.outcome(cand.call, before)) is not None
                        and after.state_hash() != step.after.state_hash()
                        and cand.call.arguments == replace_in_call(gold_call, slot, v).arguments
                    ]
                    if others:
                        return self._task(walk, base, slot, value, others)
        raise Rejected("no second record fits the request with a different outcome")

    def _task(self, walk: Walk, base: Task, slot: Slot, value: Any, others: list[Any]) -> Task:
        mine = describe_value(walk, slot.arg, value)
        shared = _shared(mine, describe_value(walk, slot.arg, others[0]))
        fitting = [v for v in others if _shared(mine, describe_value(walk, slot.arg, v)) == shared]
        withheld = {k: v for k, v in mine.items() if k not in shared}
        step = walk.steps[-1]
        vague_request = request_text(walk, step.candidate, vague={slot.arg: (slot.element, shared)})
        told = ", ".join(f"{k}: {v}" for k, v in withheld.items())
        if value in walk.profile_values or not told:  # their own order number, not an item id
            told = f"{told} (id {value})" if told else f"the one with id {value}"
        noun = slot.arg.removesuffix("_ids").removesuffix("_id").replace("_", " ")
        return derive_task(
            base,
            "ambiguous",
            keep_ask=False,  # the question would describe the withheld record
            requests=[vague_request],
            instructions=(
                f"You did not say which {noun} you mean. "
                f"Only if the agent asks which one, tell it: {told}."
            ),
            details={
                "strategy": slot.strategy,
                "slot": slot.to_dict(),
                "gold_value": value,
                "candidates": [value, *fitting],
                "withheld": told,
                "shared": shared,
            },
        )

    def verify(self, task: Task, env: Environment) -> None:
        details = task.variant.details
        candidates = details.get("candidates") or []
        if len(candidates) < 2:
            raise Rejected(f"only {len(candidates)} candidate fits: not ambiguous")
        actions = gold_actions(task)
        index = last_write_index(task, env)
        slot = Slot(details["slot"]["arg"], details["slot"]["element"], details["strategy"])
        gold_value = slot.get(actions[index].arguments)
        if gold_value != details.get("gold_value"):
            raise Rejected("the gold write does not use the withheld value")
        gold_hash = clean_replay(env, task, task.gold_calls, "gold").state_hash()
        for value in candidates:
            if value == gold_value:
                continue
            calls = task.gold_calls
            calls[index] = replace_in_call(calls[index], slot, value)
            other = clean_replay(env, task, calls, f"candidate {value}")
            if other.state_hash() == gold_hash:
                raise Rejected(f"candidate {value} ends in the gold state: nothing to clarify")
