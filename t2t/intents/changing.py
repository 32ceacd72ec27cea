"""Changing: the user starts with goal A and, when the agent asks to confirm it, switches to goal B.

Strategies: a change of mind, with a reason the user gives (another record, item or option for
the same action: B is the explored write, A the swap; another action on the same record), and,
for at most a fifth of the tasks, a second request added at the confirmation ("add-request").
Both goals must be feasible on their own and end in different states, so an agent that ignores
the change fails, and the gold must change the database (no freeze-then-unfreeze). Gold is B;
A's calls are kept in `goal_a` for the verifier, the scripted user (who switches at the
confirmation of A's write) and the taxonomy; the stubborn probe carries out A.
"""

from __future__ import annotations

import random
import re
from typing import Any

from t2t.core.environment import Domain, Environment
from t2t.core.replay import ReplayResult, initial_environment, replay_calls
from t2t.core.schema import Episode, Task, ToolCall
from t2t.explore.walk import Candidate, Walk, WriteStep
from t2t.intents.checks import actions_of, call_key, clean_replay
from t2t.intents.kind import Details, FailureType, KindHooks, OrEmptyList, UserScript
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
from t2t.intents.text import first_person
from t2t.tasks.convert import request_text

__all__ = ["Changing", "ChangingDetails"]

_TRIGGER = "the agent asks you to confirm the change"
ADD_REQUEST_SHARE = 0.1
"""Walks offered "add-request" (and only it): a change of mind succeeds on about half the walks,
so added requests stay well under a fifth of the changing tasks."""

# Why the user changes their mind, per strategy (one picked by seed); the user's own words, so
# free of tool names. Each switch text carries a word the probes read as a switch ("instead",
# "changed my mind", "also want").
_REASONS: dict[str, tuple[str, ...]] = {
    "other-record": (
        "I just realised I was thinking of the wrong one",
        "I checked my emails and mixed them up",
        "it's actually the other one that needs it",
    ),
    "other-item": (
        "I looked again and it's the other one I meant",
        "I had the wrong one in mind",
        "on second thought, the other one matters more to me",
    ),
    "switch-action": (
        "I talked it over at home and that suits me better",
        "I thought about it and that works better for me",
        "my plans have changed a bit",
    ),
    "add-request": (
        "while I have you",
        "since I'm talking to you anyway",
        "before I forget",
    ),
}


_INSTEAD = re.compile(r"\binstead\b")


def _gives_motive(
    walk: Walk, goal: list[tuple[float, Candidate]], texts: list[str], version: int
) -> bool:
    """Whether a request of `goal` says why (its words change without the phrasebook's motive)."""
    return any(
        text != request_text(walk, candidate, version=version, motive=False)
        for text, (_, candidate) in zip(texts, goal, strict=True)
    )


class ChangingDetails(Details):
    strategy: str | None = None
    trigger: str | None = None
    goal_a: OrEmptyList[dict[str, Any]] = []  # A's calls, {name, arguments}
    stages: OrEmptyList[dict[str, Any]] = []  # {goal, requests[, when]} for A, then B
    motive: str | None = None  # why the user changes their mind (or adds a request)
    switch: str | None = None  # the user's words at the trigger


class Changing(KindHooks[ChangingDetails]):
    name = "changing"
    probe = "stubborn"
    probe_confirms_blindly = True  # stubborn hears "yes" whatever the user says
    strategies = {"other-record": 0.3, "other-item": 0.2, "switch-action": 0.3, "add-request": 0.2}
    details_model = ChangingDetails
    identity_keys = ("goal_a",)
    failure_types = {
        "ignored_change": FailureType(
            "the agent carried out the user's first goal after it changed", 43
        ),
    }

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        step = walk.steps[-1]
        if step.after.state_hash() == walk.steps[0].before.state_hash():
            raise Rejected("the walk ends where it started: the gold would change nothing")
        prefix = walk.base_writes()[:-1]
        available = {"switch-action"} | {
            f"other-{s.strategy}" for s in slots_of(walk, step.candidate)
        }
        available = {"other-item" if a == "other-option" else a for a in available}
        if rng.random() < ADD_REQUEST_SHARE:  # capped: a change of mind is what this kind tests
            available = {"add-request"}
        for strategy in pick_strategy(self.strategies, available, rng):
            found = self._goal_a_and_b(walk, strategy, rng)
            if found is None:
                continue
            goal_a, goal_b = found
            return self._task(walk, base, strategy, prefix, goal_a, goal_b, rng)
        raise Rejected("no second goal is feasible and different")

    def _goal_a_and_b(
        self, walk: Walk, strategy: str, rng: random.Random
    ) -> tuple[list[tuple[float, Candidate]], list[tuple[float, Candidate]]] | None:
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
    def _differs(walk: Walk, candidate: Candidate, before: Environment, step: WriteStep) -> bool:
        """Goal A is feasible, ends elsewhere than B and does not undo the walk's earlier writes."""
        after = walk.outcome(candidate.call, before)
        if after is None:
            return False
        start = walk.steps[0].before.state_hash()
        return after.state_hash() not in (step.after.state_hash(), start)

    def _task(
        self,
        walk: Walk,
        base: Task,
        strategy: str,
        prefix: list[tuple[float, Candidate]],
        goal_a: list[tuple[float, Candidate]],
        goal_b: list[tuple[float, Candidate]],
        rng: random.Random,
    ) -> Task:
        last = len(walk.steps) - 1  # replaced writes run where the last one did; added ones after
        text_a = [request_text(walk, c, version=last) for _, c in goal_a]
        text_b = [
            request_text(walk, c, version=last + (i > 0 and strategy == "add-request"))
            for i, (_, c) in enumerate(goal_b)
        ]
        motive: str | None = rng.choice(_REASONS.get(strategy, _REASONS["other-record"]))
        if strategy == "add-request":
            added = "; ".join(text_b[len(text_a) :])
            switch = f"add a second request ({motive}): you also want to {added}"
            said = f"Yes, and {motive}, I also want to {first_person(added)}."
        else:
            wanted = "; ".join(text_b)
            if strategy == "switch-action" and _gives_motive(walk, goal_b, text_b, last):
                motive = None  # one reason, not "that works better … because it arrived damaged"
            instead = not _INSTEAD.search(wanted)  # not "instead … instead"
            if motive:
                switch = f"change your mind ({motive}): instead, you want to {wanted}"
                said = f"Actually, I've changed my mind: {motive}, so {'instead ' * instead}I'd"
            else:  # no second colon: "mind: instead" would read as a key and its value
                switch = f"change your mind, and instead you want to {wanted}"
                said = f"Actually, I've changed my mind, and {'instead ' * instead}I'd"
            said += f" rather {first_person(wanted)}."
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
            details=ChangingDetails(
                strategy=strategy,
                trigger=_TRIGGER,
                goal_a=[c.model_dump(exclude={"id"}) for c in goal_a_calls],
                stages=[
                    {"goal": "A", "requests": text_a},
                    {"goal": "B", "requests": text_b, "when": _TRIGGER},
                ],
                motive=motive,
                switch=said,
            ).model_dump(),
        )

    def verify(self, task: Task, env: Environment) -> None:
        goal_a = self.details(task).goal_a
        if not goal_a:
            raise Rejected("no first goal recorded")
        a = clean_replay(env, task, actions_of(goal_a), "goal A")
        b = clean_replay(env, task, task.gold_calls, "goal B (gold)")
        if a.state_hash() == b.state_hash():
            raise Rejected("goal A and goal B end in the same state: the change is invisible")
        if a.state_hash() == env.state_hash():
            raise Rejected("goal A changes nothing: there is no first request to move away from")
        if b.state_hash() == initial_environment(env, task).state_hash():
            raise Rejected("the gold ends in the initial state: it changes nothing")

    # ------------------------------------------------------------------- hooks of later stages

    def user_script(self, task: Task, domain: Domain) -> UserScript:
        details = self.details(task)
        writes = [row for row in details.goal_a if domain.is_write(row["name"])]
        # the confirmation of goal A's own write
        text = details.switch or _switch_text(details.stages)
        return _Switch(text, max(len(writes) - 1, 0))

    def user_texts(self, task: Task) -> list[str]:
        details = self.details(task)
        texts = [r for s in details.stages for r in s.get("requests") or [] if isinstance(r, str)]
        return texts + ([details.switch] if details.switch else [])

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]:
        """The strategy, whether it is a change of mind (not only an added request), and whether
        the gold changes anything at all (a no-op change of mind).
        """
        strategy = self.details(task).strategy
        facts: dict[str, Any] = {"strategy": strategy}
        if strategy:
            facts["change_of_mind"] = strategy != "add-request"
        if env is not None:
            start = initial_environment(env, task)
            final, _ = replay_calls(start, task.gold_calls)
            facts["noop_gold"] = final.state_hash() == start.state_hash()
        return facts

    def probe_plan(
        self,
        probe: str,
        task: Task,
        gold: list[ToolCall],
        writes: frozenset[str],
        switched: bool,
    ) -> list[ToolCall]:
        goal_a = self.details(task).goal_a
        if goal_a and (probe == self.probe or not switched):
            return [ToolCall(**row) for row in goal_a]
        return gold

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]:
        if task is None or env is None or replay is None:
            return []
        goal_a = self.details(task).goal_a
        acted = _acted_on_first_goal(episode, task, goal_a, env, replay)
        return ["ignored_change"] if acted else []


class _Switch(UserScript):
    """At the confirmation of goal A's write, the user switches to goal B (once)."""

    def __init__(self, text: str | None, at: int) -> None:
        self.text, self.at, self.switched = text, at, False

    def on_confirm(self, index: int) -> str | None:
        if self.text and not self.switched and index >= self.at:
            self.switched = True
            return self.text
        return None


def _switch_text(stages: list[dict[str, Any]]) -> str | None:
    """The user's words at the changing trigger: a second request, or a new one instead."""
    if len(stages) < 2:
        return None
    first, second = stages[0]["requests"], stages[1]["requests"]
    if second[: len(first)] == first:
        added = "; ".join(second[len(first) :])
        return f"Yes, and I also want to {first_person(added)}."
    return f"Actually, I changed my mind: instead, I want to {first_person('; '.join(second))}."


def _acted_on_first_goal(
    episode: Episode,
    task: Task,
    goal_a_rows: list[dict[str, Any]],
    env: Environment,
    replay: ReplayResult,
) -> bool:
    """The agent carried out goal A: a write of A's own, or all of A and none of B's own."""
    goal_a = {
        call_key(env, call) for call in actions_of(goal_a_rows) if env.domain.is_write(call.name)
    }
    gold = {call_key(env, c) for c in task.gold_calls if env.domain.is_write(c.name)}
    made = {
        call_key(env, c)
        for c, r in zip(episode.tool_calls, replay.results, strict=True)
        if r.ok and env.domain.is_write(c.name)
    }
    # a write only goal A has, or all of A (when B adds to A) and nothing of B's own
    return bool(made & (goal_a - gold)) or (
        bool(goal_a) and goal_a <= made and not made & (gold - goal_a)
    )
