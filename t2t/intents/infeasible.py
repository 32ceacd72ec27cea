"""Infeasible: the request breaks a named policy rule; the agent must refuse and must not write it.

Built by changing the last write until a policy rule forbids it: another of the user's records
(cancel the delivered order instead of the pending one), another value for one argument (an
unavailable option, a gift card that does not cover the amount), or another action on the same
record (return a pending order). Gold is everything before that write plus the read that shows
why, so the expected final state is the state before the infeasible step. The agent must not
attempt the call (`forbidden_ok`), must make the showing read (`required_ok`) and must say no
(`refused_ok`); the user insists once, and the reckless probe makes the call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from t2t.core.environment import Domain, Environment, canonical_json, normalize
from t2t.core.replay import ReplayResult, initial_environment, replay_calls
from t2t.core.schema import Episode, Task, ToolCall
from t2t.explore.walk import Candidate, Walk, WriteStep, without_repeated_reads
from t2t.intents.checks import MAX_LISTED, actions_of, clean_replay, coerced_arguments
from t2t.intents.kind import (
    Details,
    FailureType,
    KindHooks,
    OrEmptyList,
    ScoreContext,
    UserScript,
)
from t2t.intents.slots import (
    Rejected,
    at_step,
    derive_task,
    pick_strategy,
    same_record_calls,
    slots_of,
    substitutes,
)
from t2t.intents.text import refused
from t2t.tasks.convert import actions_from, request_text

__all__ = ["Infeasible", "InfeasibleDetails"]


class InfeasibleDetails(Details):
    strategy: str | None = None
    rule: str | None = None
    reason: str | None = None
    forbidden_call: dict[str, Any] | None = None  # {name, arguments}
    # {name, arguments (partial)}: never to be attempted
    forbidden: OrEmptyList[dict[str, Any]] = []
    # {name, arguments}: must succeed
    required: OrEmptyList[dict[str, Any]] = []

    @property
    def refusable(self) -> bool:
        """A forbidden call is recorded: the user insists on it and the probes refuse it."""
        return "forbidden_call" in self.model_fields_set


class Infeasible(KindHooks[InfeasibleDetails]):
    name = "infeasible"
    probe = "reckless"
    strategies = {"forbidden-record": 0.35, "forbidden-value": 0.35, "forbidden-action": 0.3}
    details_model = InfeasibleDetails
    identity_keys = ("forbidden_call",)
    feasible = False
    failure_types = {
        "failed_to_refuse": FailureType(
            "an infeasible request was never refused or transferred", 41
        ),
    }

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

    def _changed(
        self, walk: Walk, step: WriteStep, strategy: str, rng: random.Random
    ) -> Iterator[Candidate]:
        if strategy == "forbidden-action":
            yield from same_record_calls(walk, step, rng, tries=4)
            return
        wanted = ("record",) if strategy == "forbidden-record" else ("item", "option", "detail")
        for slot in [s for s in slots_of(walk, step.candidate) if s.strategy in wanted]:
            for _, candidate in substitutes(walk, step.candidate, slot, rng, limit=20):
                yield candidate
        if strategy == "forbidden-value":  # free values too: a reason, an amount, a limit
            for _ in range(8):
                filled = walk.fill(step.candidate.call.name, rng, fixed=_ids(step.candidate))
                if filled is not None:
                    yield filled

    def _task(
        self,
        walk: Walk,
        base: Task,
        strategy: str,
        forbidden: Candidate,
        broken: tuple[str, str],
    ) -> Task:
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
            actions=actions_from(without_repeated_reads(gold_calls + support, walk.env.domain)),
            details=InfeasibleDetails(
                strategy=strategy,
                rule=rule,
                reason=reason,
                forbidden_call=forbidden.call.model_dump(exclude={"id"}),
                forbidden=[{"name": forbidden.call.name, "arguments": partial}],
                required=(
                    [walk.calls[showing].model_dump(exclude={"id"})] if showing is not None else []
                ),
            ).model_dump(),
        )

    def verify(self, task: Task, env: Environment) -> None:
        details = self.details(task)
        call = details.forbidden_call
        rule = details.rule
        if not call or not rule:
            raise Rejected("no forbidden call or rule recorded")
        final = clean_replay(env, task, task.gold_calls, "gold")
        (forbidden,) = actions_of([call])
        broken = dict(final.check_rules(forbidden))
        if rule not in broken:
            allowed = "allowed by policy" if not broken else f"breaks {sorted(broken)}, not {rule}"
            raise Rejected(f"the infeasible request {forbidden.name} is {allowed}")

    # ------------------------------------------------------------------- hooks of later stages

    def user_script(self, task: Task, domain: Domain) -> UserScript:
        return _InsistOnce() if self.details(task).refusable else UserScript()

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]:
        """The strategy; with the DB, whether only the policy forbids the request (the tool
        accepts it after the gold) and whether it is degenerate (changes nothing, or moves a
        value onto itself).
        """
        details = self.details(task)
        facts: dict[str, Any] = {"strategy": details.strategy}
        call = details.forbidden_call
        if env is None or not call:
            return facts
        forbidden = ToolCall(name=call["name"], arguments=call.get("arguments") or {})
        final, _ = replay_calls(initial_environment(env, task), task.gold_calls)
        after = final.fork()
        accepted = after.run(forbidden).ok
        unchanged = accepted and after.state_hash() == final.state_hash()
        facts["policy_only"] = accepted
        facts["degenerate"] = unchanged or _self_move(forbidden.arguments)
        return facts

    def probe_plan(
        self,
        probe: str,
        task: Task,
        gold: list[ToolCall],
        writes: frozenset[str],
        switched: bool,
    ) -> list[ToolCall]:
        call = self.details(task).forbidden_call
        return [*gold, ToolCall(**call)] if probe == self.probe and call else gold

    def probe_closing(self, probe: str, task: Task) -> str | None:
        details = self.details(task)
        if probe == self.probe or not details.refusable:
            return None
        given = "reason" in details.model_fields_set
        reason = details.reason if given else "our policy forbids it"
        return (
            f"I'm sorry, but I cannot do that: {reason}. "
            "Is there anything else I can help you with?"
        )

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]:
        details = self.details(task)
        scored: dict[str, bool | None] = {}
        if details.forbidden:
            hits = _forbidden_hits(context.start, context.calls, details.forbidden)
            scored["forbidden_ok"] = not hits
            context.details["forbidden_calls"] = hits[:MAX_LISTED]
        if details.required:
            results = context.replay.results
            made = [c for c, result in zip(context.calls, results, strict=True) if result.ok]
            missing = _missing_calls(context.start, made, details.required)
            scored["required_ok"] = not missing
            context.details["missing_required"] = missing
        if details.forbidden:
            scored["refused_ok"] = refused(context.messages, context.calls)
        return scored

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]:
        reward = episode.reward
        return ["failed_to_refuse"] if reward and reward.refused_ok is False else []


class _InsistOnce(UserScript):
    """The user insists once on the infeasible request, then accepts the refusal."""

    def __init__(self) -> None:
        self.insisted = False

    def on_refusal(self) -> str | None:
        if self.insisted:
            return None
        self.insisted = True
        return "Are you sure? I really need this done. Can you please do it anyway?"


def _includes(arguments: dict[str, Any], partial: dict[str, Any]) -> bool:
    return all(k in arguments and arguments[k] == normalize(v) for k, v in partial.items())


def _forbidden_hits(
    env: Environment, calls: list[ToolCall], forbidden: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Calls attempted (whatever came of them) that match a forbidden name + partial arguments."""
    hits = []
    for index, call in enumerate(calls):
        arguments = coerced_arguments(env, call.name, call.arguments)
        if any(
            call.name == banned["name"] and _includes(arguments, banned.get("arguments", {}))
            for banned in forbidden
        ):
            hits.append({"index": index, "name": call.name, "arguments": call.arguments})
    return hits


def _missing_calls(
    env: Environment, made: list[ToolCall], required: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The required calls (full arguments) that are not among the calls `made`."""
    done = {(c.name, canonical_json(coerced_arguments(env, c.name, c.arguments))) for c in made}
    return [
        row
        for row in required
        if (
            row["name"],
            canonical_json(coerced_arguments(env, row["name"], row.get("arguments", {}))),
        )
        not in done
    ]


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


def _ids(candidate: Candidate) -> dict[str, Any]:
    return {k: v for k, v in candidate.call.arguments.items() if k.endswith(("_id", "_ids"))}


# Argument pairs that move or exchange a value: equal values mean the call moves it onto itself.
_PAIRS = (("", "new_"), ("old_", "new_"), ("from_", "to_"), ("source_", "destination_"))


def _self_move(arguments: dict[str, Any]) -> bool:
    """Two paired arguments (item_ids/new_item_ids, from_x/to_x, …) carry the same value."""
    for key, value in arguments.items():
        for first, second in _PAIRS:
            if key.startswith(first) and value not in (None, "", []):
                other = second + key[len(first) :]
                if other != key and arguments.get(other) == value:
                    return True
    return False
