"""Infeasible: the request breaks a named policy rule; the agent must refuse and must not write it.

Built by changing the last write until a policy rule forbids it: another of the user's records
(cancel the delivered order instead of the pending one), another value for one argument (an
unavailable option, a gift card that does not cover the amount), or another action on the same
record (return a pending order). Gold is everything before that write plus the read that shows
why, so the expected final state is the state before the infeasible step.
"""

from __future__ import annotations

import random

from t2t.core.environment import Environment
from t2t.core.schema import Task
from t2t.explore.walk import Candidate, Walk
from t2t.intents.checks import actions_of, clean_replay
from t2t.intents.slots import (
    Rejected,
    at_step,
    derive_task,
    pick_strategy,
    same_record_calls,
    slots_of,
    substitutes,
)
from t2t.tasks.convert import actions_from, request_text

__all__ = ["Infeasible"]


class Infeasible:
    name = "infeasible"
    probe = "reckless"
    strategies = {"forbidden-record": 0.35, "forbidden-value": 0.35, "forbidden-action": 0.3}

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        step = walk.steps[-1]
        slots = slots_of(walk, step.candidate)
        available = {"forbidden-action"} | {
            "forbidden-record" if s.strategy == "record" else "forbidden-value" for s in slots
        }
        fallback = None
        with at_step(walk, step) as before:
            for strategy in pick_strategy(self.strategies, available, rng):
                for candidate in self._changed(walk, step, strategy, rng):
                    broken = before.check_rules(candidate.call)
                    if not broken or walk.foreign(candidate.call):
                        continue
                    if _only_policy_forbids(before, candidate):
                        return self._task(walk, base, strategy, candidate, broken[0])
                    fallback = fallback or (strategy, candidate, broken[0])
        if fallback:  # every strategy tried: settle for a request the tool refuses as well
            return self._task(walk, base, *fallback)
        raise Rejected("no change of the request breaks a policy rule")

    def _changed(self, walk: Walk, step, strategy: str, rng: random.Random):
        if strategy == "forbidden-action":
            yield from same_record_calls(walk, step, rng, tries=4)
            return
        wanted = ("record",) if strategy == "forbidden-record" else ("item", "option", "detail")
        for slot in [s for s in slots_of(walk, step.candidate) if s.strategy in wanted]:
            for _, candidate in substitutes(walk, step.candidate, slot, rng, limit=20):
                yield candidate
        if strategy == "forbidden-value":  # free values too: a reason, an amount, a limit
            for _ in range(8):
                candidate = walk.fill(step.candidate.call.name, rng, fixed=_ids(step.candidate))
                if candidate is not None:
                    yield candidate

    def _task(self, walk: Walk, base: Task, strategy: str, forbidden: Candidate, broken) -> Task:
        rule, reason = broken
        step = walk.steps[-1]
        prefix = walk.base_writes()[:-1]
        gold_calls = walk.calls_for(prefix)
        showing = _showing_read(walk, forbidden, step.candidate)
        needed = set(forbidden.sources) | ({showing} if showing is not None else set())
        support = [walk.calls[i] for i in sorted(needed) if walk.calls[i] not in gold_calls]
        partial = {
            k: v
            for k, v in forbidden.call.arguments.items()
            if k.endswith(("_id", "_ids")) or v != step.candidate.call.arguments.get(k)
        }
        return derive_task(
            base,
            "infeasible",
            requests=[request_text(walk, forbidden, version=len(walk.steps) - 1)],
            instructions=(
                "If the agent explains that the last request is not allowed, accept it and do "
                "not ask for anything else; insist once before you accept."
            ),
            actions=actions_from(gold_calls + support),
            details={
                "strategy": strategy,
                "rule": rule,
                "reason": reason,
                "forbidden_call": forbidden.call.model_dump(exclude={"id"}),
                "forbidden": [{"name": forbidden.call.name, "arguments": partial}],
                "required": (
                    [walk.calls[showing].model_dump(exclude={"id"})] if showing is not None else []
                ),
            },
        )

    def verify(self, task: Task, env: Environment) -> None:
        details = task.variant.details
        call = details.get("forbidden_call")
        rule = details.get("rule")
        if not call or not rule:
            raise Rejected("no forbidden call or rule recorded")
        final = clean_replay(env, task, task.gold_calls, "gold")
        (forbidden,) = actions_of([call])
        broken = dict(final.check_rules(forbidden))
        if rule not in broken:
            allowed = "allowed by policy" if not broken else f"breaks {sorted(broken)}, not {rule}"
            raise Rejected(f"the infeasible request {forbidden.name} is {allowed}")


def _only_policy_forbids(before: Environment, candidate: Candidate) -> bool:
    """The tool would carry the call out and change something: only the policy stands in the way."""
    after = before.fork()
    return after.run(candidate.call).ok and after.state_hash() != before.state_hash()


def _showing_read(walk: Walk, forbidden: Candidate, explored: Candidate) -> int | None:
    """The read that shows why the request is refused: the record it changed, as last read."""
    same_tool = forbidden.call.name == explored.call.name
    ids = _ids(forbidden)
    changed = [v for k, v in ids.items() if not same_tool or explored.call.arguments.get(k) != v]
    values = changed or list(ids.values())[:1]
    flat = {item for v in values for item in (v if isinstance(v, list) else [v])}
    sources = [f.source for f in walk.book.facts if f.source >= 0 and f.value in flat and f.own]
    sources = sources or [f.source for f in walk.book.facts if f.source >= 0 and f.value in flat]
    return max(sources) if sources else None


def _ids(candidate: Candidate) -> dict:
    return {k: v for k, v in candidate.call.arguments.items() if k.endswith(("_id", "_ids"))}
