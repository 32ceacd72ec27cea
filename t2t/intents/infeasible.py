"""Infeasible: the request breaks a named policy rule; the agent must refuse and must not write it.

Built by changing the last write until a policy rule forbids it: another of the user's records
(cancel the delivered order instead of the pending one), another value for one argument (an
unavailable option, a gift card that does not cover the amount), another action on the same
record (return a pending order), or the same action on another customer's record (where the
policy says one conversation serves one customer: `own_records`). Requests only the written
policy forbids (the tool would carry them out) are preferred to ones the tool refuses as well;
each task records which it is (`refusal_source`). Degenerate requests, ones no customer makes
(an item exchanged for itself, a move onto the same account, a value outside the allowed set,
an impossible count, an item not in the order, a call that changes nothing), are never built.
Gold is everything before that write plus the read that shows why, so the expected final state
is the state before the infeasible step. The agent must not
attempt the call (`forbidden_ok`), must make the showing read (`required_ok`) and must say no
(`refused_ok`); the user insists once, and the reckless probe makes the call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from t2t.core.environment import Domain, Environment, canonical_json, normalize
from t2t.core.replay import ReplayResult, initial_environment, replay_calls
from t2t.core.schema import Episode, Task, ToolCall, UserInstructions
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
from t2t.intents.sound import (
    OWN_RECORDS,
    RefusalSource,
    broken_rules,
    degenerate_reason,
    foreign_reason,
    hidden_keys,
    likeness,
    own_records_rule,
    owner_of,
    refusal_source,
    stated_facts,
    table_of,
    user_key,
)
from t2t.intents.text import has_internal_id, refused
from t2t.tasks.convert import actions_from, request_text

__all__ = ["Infeasible", "InfeasibleDetails"]

FOREIGN_SHARE = 0.4  # walks offered the another-customer strategy: the rest keep the domain's rules


class InfeasibleDetails(Details):
    strategy: str | None = None
    rule: str | None = None
    reason: str | None = None
    forbidden_call: dict[str, Any] | None = None  # {name, arguments}
    # {name, arguments (partial)}: never to be attempted
    forbidden: OrEmptyList[dict[str, Any]] = []
    # {name, arguments}: must succeed
    required: OrEmptyList[dict[str, Any]] = []
    # "policy": the tool would carry the forbidden call out, only the written policy forbids it;
    # "tool": the tool refuses it as well
    refusal_source: RefusalSource | None = None
    # attributes of the named records that show why the request is refused: the agent must find
    # them, so the request's wording must not state them (e.g. an order's "status")
    hidden: OrEmptyList[str] = []

    @property
    def refusable(self) -> bool:
        """A forbidden call is recorded: the user insists on it and the probes refuse it."""
        return "forbidden_call" in self.model_fields_set


class Infeasible(KindHooks[InfeasibleDetails]):
    name = "infeasible"
    probe = "reckless"
    strategies = {
        "forbidden-record": 0.3,
        "forbidden-value": 0.25,
        "forbidden-action": 0.25,
        "foreign-record": 0.2,
    }
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
        if (
            own_records_rule(walk.env.domain)
            and slots
            and slots[0].strategy == "record"
            and rng.random() < FOREIGN_SHARE
        ):
            available.add("foreign-record")
        fallback: tuple[str, Candidate, tuple[str, str], RefusalSource] | None = None
        with at_step(walk, step) as before:
            for strategy in pick_strategy(self.strategies, available, rng):
                for candidate in self._changed(walk, step, strategy, rng):
                    broken = before.check_rules(candidate.call)
                    if strategy == "foreign-record":
                        foreign = foreign_reason(before, candidate.call, walk.user_id)
                        if broken or foreign is None:  # only the one-customer rule, nothing else
                            continue
                        broken = [(OWN_RECORDS, foreign)]
                    elif not broken or walk.foreign(candidate.call):
                        continue
                    if degenerate_reason(before, candidate.call) is not None:
                        continue
                    if refusal_source(before, candidate.call) == "policy":
                        return self._task(walk, base, strategy, candidate, broken[0], "policy")
                    fallback = fallback or (strategy, candidate, broken[0], "tool")
        if fallback:  # every strategy tried: settle for a request the tool refuses as well
            return self._task(walk, base, *fallback)
        raise Rejected("no sound change of the request breaks a policy rule")

    def _changed(
        self, walk: Walk, step: WriteStep, strategy: str, rng: random.Random
    ) -> Iterator[Candidate]:
        if strategy == "forbidden-action":
            yield from same_record_calls(walk, step, rng, tries=4)
            return
        if strategy == "foreign-record":
            yield from _foreign_calls(walk, step, rng)
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
        source: RefusalSource,
    ) -> Task:
        rule, reason = broken
        step = walk.steps[-1]
        prefix = walk.base_writes()[:-1]
        gold_calls = walk.calls_for(prefix)
        showing = _showing_read(walk, forbidden, step.candidate)
        needed = set(forbidden.sources) | ({showing} if showing is not None else set())
        if strategy == "foreign-record" and _unsayable_anchor(walk, step, forbidden):
            # a card or account named by its last digits: no agent can look someone else's up;
            # it finds none of the user's that fits, and says no
            needed, showing = set(), None
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
                refusal_source=source,
                hidden=hidden_keys(step.before, forbidden.call, rule),
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
        broken = dict(broken_rules(final, forbidden, _user_of(task)))
        if rule not in broken:
            allowed = "allowed by policy" if not broken else f"breaks {sorted(broken)}, not {rule}"
            raise Rejected(f"the infeasible request {forbidden.name} is {allowed}")
        degenerate = degenerate_reason(final, forbidden)
        if degenerate is not None:
            raise Rejected(f"the infeasible request {forbidden.name} is degenerate: {degenerate}")
        source = refusal_source(final, forbidden)
        if details.refusal_source not in (None, source):
            raise Rejected(f"the refusal source is {source!r}, not {details.refusal_source!r}")

    # ------------------------------------------------------------------- hooks of later stages

    def user_script(self, task: Task, domain: Domain) -> UserScript:
        return _InsistOnce() if self.details(task).refusable else UserScript()

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]:
        """The strategy and the recorded refusal source; with the DB, whether only the policy
        forbids the request (the tool carries it out after the gold), whether it is degenerate
        (see `degenerate_reason`) and whether the request states a `hidden` fact.
        """
        details = self.details(task)
        facts: dict[str, Any] = {
            "strategy": details.strategy,
            "refusal_source": details.refusal_source,
            "labelled": details.refusal_source is not None,
        }
        call = details.forbidden_call
        if env is None or not call:
            return facts
        forbidden = ToolCall(name=call["name"], arguments=call.get("arguments") or {})
        final, _ = replay_calls(initial_environment(env, task), task.gold_calls)
        facts["policy_only"] = refusal_source(final, forbidden) == "policy"
        facts["degenerate"] = degenerate_reason(final, forbidden) is not None
        user = task.user_scenario.instructions
        text = " ".join(
            [user.reason_for_call, user.known_info or ""]
            if isinstance(user, UserInstructions)
            else [user]
        )
        facts["states_hidden"] = bool(stated_facts(final, forbidden, details.hidden, text))
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


def _unsayable_anchor(walk: Walk, step: WriteStep, forbidden: Candidate) -> bool:
    """The record a foreign request is about has an internal id (a card, an account): the user
    names it by its last digits, not by a number an agent could look up.
    """
    anchor = next(iter(slots_of(walk, step.candidate)), None)
    value = forbidden.call.arguments.get(anchor.arg) if anchor is not None else None
    return isinstance(value, str) and has_internal_id(value)


def _ids(candidate: Candidate) -> dict[str, Any]:
    return {k: v for k, v in candidate.call.arguments.items() if k.endswith(("_id", "_ids"))}


def _foreign_calls(walk: Walk, step: WriteStep, rng: random.Random) -> Iterator[Candidate]:
    """The explored action (or another on the same kind of record) on other customers' records:
    the record is read first, as an agent checks it, and the user quotes its number.
    """
    anchor = next(iter(slots_of(walk, step.candidate)), None)
    key = user_key(walk.env)
    if anchor is None or anchor.strategy != "record" or key is None:
        return
    state = walk.env.state
    table = table_of(state, step.candidate.call.arguments[anchor.arg])
    if table is None:
        return
    keys = list(state[table])
    mine = state[table][step.candidate.call.arguments[anchor.arg]]
    picked = rng.sample(keys, min(len(keys), 60))
    others = [
        k for k in picked if owner_of(state, state[table][k], key) not in (None, walk.user_id)
    ]
    others.sort(key=lambda k: -likeness(state[table][k], mine))  # the same status first
    names = [step.candidate.call.name] + [
        n
        for n in rng.sample(walk.graph.write_tools, len(walk.graph.write_tools))
        if n != step.candidate.call.name and anchor.arg in walk.graph.required[n]
    ]
    for other in others[:4]:
        walk.detail(anchor.arg, other)
        for name in names:
            for _ in range(4):
                filled = walk.fill(name, rng, fixed={anchor.arg: other})
                if filled is not None:
                    origins: dict[str, Any] = {**filled.origins, anchor.arg: "profile"}
                    yield Candidate(filled.call, filled.sources, origins)


def _user_of(task: Task) -> Any:
    return task.variant.details.get("user_id")
