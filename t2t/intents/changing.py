"""Changing: the user starts with goal A and, when the agent asks to confirm it, switches to goal B.

Strategies: another record, item or option for the same action (B is the explored write, A the
swap); another action on the same record; a second request added at the confirmation. Both goals
must be feasible on their own and end in different states, so an agent that ignores the change
fails. Gold is B; A's calls are kept in `goal_a` for the verifier and the scripted user.
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
    gold_of,
    pick_strategy,
    placed,
    same_record_calls,
    slots_of,
    substitutes,
)
from t2t.tasks.convert import request_text

__all__ = ["Changing"]

_TRIGGER = "the agent asks you to confirm the change"


class Changing:
    name = "changing"
    probe = "stubborn"
    strategies = {"other-record": 0.3, "other-item": 0.2, "switch-action": 0.3, "add-request": 0.2}

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        step = walk.steps[-1]
        prefix = walk.base_writes()[:-1]
        available = {"add-request", "switch-action"}
        available |= {f"other-{s.strategy}" for s in slots_of(walk, step.candidate)}
        available = {"other-item" if a == "other-option" else a for a in available}
        for strategy in pick_strategy(self.strategies, available, rng):
            found = self._goal_a_and_b(walk, strategy, rng)
            if found is None:
                continue
            goal_a, goal_b = found
            return self._task(walk, base, strategy, prefix, goal_a, goal_b)
        raise Rejected("no second goal is feasible and different")

    def _goal_a_and_b(self, walk: Walk, strategy: str, rng: random.Random):
        step = walk.steps[-1]
        here = (float(step.index), step.candidate)
        with at_step(walk, step) as before:
            if strategy == "add-request":
                walk.env = step.after
                used = {s.candidate.call.name for s in walk.steps}
                for name in rng.sample(walk.graph.write_tools, len(walk.graph.write_tools)):
                    if name in used:
                        continue
                    found = walk.try_write(name, rng, env=step.after, attempts=6)
                    if found:
                        return [here], [here, placed(walk, found[0], step.index)]
                return None
            if strategy == "switch-action":
                for candidate in same_record_calls(walk, step, rng, tries=6):
                    if self._differs(walk, candidate, before, step):
                        return [placed(walk, candidate, step.index)], [here]
                return None
            kinds = ("item", "option") if strategy == "other-item" else ("record", "detail")
            for slot in [s for s in slots_of(walk, step.candidate) if s.strategy in kinds]:
                for _, candidate in substitutes(walk, step.candidate, slot, rng):
                    if self._differs(walk, candidate, before, step):
                        return [placed(walk, candidate, step.index)], [here]
        return None

    @staticmethod
    def _differs(walk: Walk, candidate: Candidate, before, step) -> bool:
        """Goal A is feasible, ends elsewhere than B and does not undo the walk's earlier writes."""
        after = walk.outcome(candidate.call, before)
        if after is None:
            return False
        start = walk.steps[0].before.state_hash()
        return after.state_hash() not in (step.after.state_hash(), start)

    def _task(self, walk, base: Task, strategy: str, prefix, goal_a, goal_b) -> Task:
        last = len(walk.steps) - 1  # replaced writes run where the last one did; added ones after
        text_a = [request_text(walk, c, version=last) for _, c in goal_a]
        text_b = [
            request_text(walk, c, version=last + (i > 0 and strategy == "add-request"))
            for i, (_, c) in enumerate(goal_b)
        ]
        if strategy == "add-request":
            switch = "add a second request: you also want to " + "; ".join(text_b[len(text_a) :])
        else:
            switch = "change your mind: instead, you want to " + "; ".join(text_b)
        goal_a_calls = walk.calls_for(prefix + goal_a)
        return derive_task(
            base,
            "changing",
            requests=text_a,
            instructions=(
                f"Ask only for the request above at first. When {_TRIGGER}, {switch}. "
                "Do not go back to your first request."
            ),
            actions=gold_of(walk, prefix + goal_b),
            details={
                "strategy": strategy,
                "trigger": _TRIGGER,
                "goal_a": [c.model_dump(exclude={"id"}) for c in goal_a_calls],
                "stages": [
                    {"goal": "A", "requests": text_a},
                    {"goal": "B", "requests": text_b, "when": _TRIGGER},
                ],
            },
        )

    def verify(self, task: Task, env: Environment) -> None:
        goal_a = task.variant.details.get("goal_a")
        if not goal_a:
            raise Rejected("no first goal recorded")
        a = clean_replay(env, task, actions_of(goal_a), "goal A")
        b = clean_replay(env, task, task.gold_calls, "goal B (gold)")
        if a.state_hash() == b.state_hash():
            raise Rejected("goal A and goal B end in the same state: the change is invisible")
        if a.state_hash() == env.state_hash():
            raise Rejected("goal A changes nothing: there is no first request to move away from")
