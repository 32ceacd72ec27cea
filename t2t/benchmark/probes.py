"""Probe agents: offline litellm providers that play a task perfectly, or with one known flaw.

`model="t2t/oracle"` reads the task's gold actions and variant details the way a perfect agent
would act: it makes the gold calls in order, asks for an explicit yes before each write, asks
which record is meant when the request is ambiguous, follows the user's change of mind, refuses
an infeasible request with the policy's reason and tells what it must tell. Each flawed probe is
the oracle with the one flaw a variant kind exists to catch, the kind's `probe`; the kind's hooks
(`probe_plan`, `probe_before_call`, `probe_closing`) say how, and `probe_confirms_blindly` whether
the probe takes any answer to its confirmation questions as a yes.

Every probe but `random` acts only on what the conversation has shown (`t2t.benchmark.grounding`):
before a call with a value that neither the user said nor a tool result showed, it asks the user
for it (the first call: "Could you give me your email, so I can verify your identity?"), once
per argument; a value still missing after that is used as the plan has it, and the episode's
grounding check reports it. A call only a flaw makes (eager's guess, reckless's forbidden call)
is made as it is, without asking. Confirmations name the call's records as the tool results showed
them ("I can cancel pending order #W4843015 — Luggage Set and Charger — with reason 'ordered by
mistake'. Shall I go ahead?"), never JSON or a tool's name. The flaws:

- `t2t/eager` never asks; on an ambiguous task it guesses a candidate other than the withheld one
  (the unlucky guess the variant must catch; a lucky guess would still fail the clarification).
- `t2t/stubborn` ignores a change of goal and carries out the first one.
- `t2t/reckless` also makes the forbidden call of an infeasible task once the user says yes.
- `t2t/random` makes random schema-valid calls with values from the DB, then stops.
- `t2t/sim-latency[/probe]` is the probe (oracle by default) after a random delay of 0.5–1.5 ×
  `T2T_SIM_LATENCY_S` seconds (default 1), for throughput measurements.

Probes are stateless: each turn is derived from the task and the conversation so far, so cached or
resumed conversations go on where they were. They go through `t2t.llm` like any model; the task
is found by the `t2t_task_id` the agent puts in the request's metadata (`register_tasks` first).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from t2t.benchmark.grounding import heard_text, ungrounded_arguments
from t2t.benchmark.wording import ask_text, asked_names, confirmation_text, humanize
from t2t.core.environment import Domain
from t2t.core.errors import ConfigError
from t2t.core.schema import Message, Task, ToolCall
from t2t.core.settings import sim_latency_s
from t2t.explore.values import ValuePool, random_call
from t2t.intents.kind import INTENT_KINDS, kind_of
from t2t.llm import ProviderRequest, register_model, register_provider

__all__ = [
    "PROBE_PROVIDER",
    "PROBES",
    "confirmation_text",
    "check_probe",
    "is_probe",
    "next_probe_turn",
    "probe_names",
    "register_probes",
    "register_tasks",
]

PROBE_PROVIDER = "t2t"


def probe_names() -> tuple[str, ...]:
    """The oracle, the flawed probe of each registered kind (in registry order), random."""
    flawed = [k.probe for k in INTENT_KINDS.values() if k.probe]
    return ("oracle", *dict.fromkeys(flawed), "random")


def _confirms_blindly(name: str) -> bool:
    """A probe property, the same on every task: the kind whose probe it is says so."""
    return any(k.probe == name and k.probe_confirms_blindly for k in INTENT_KINDS.values())


PROBES = probe_names()
"""The probes of the kinds registered at import (`probe_names()` for later registrations)."""
_RANDOM_CALLS = 4  # the random probe makes this many calls, then says it is done
_SWITCH_WORDS = ("instead", "changed my mind", "also want", "also like", "another request")
_YES = re.compile(r"(yes|yeah|yep|sure|ok|okay|please do|go ahead|correct)\b")


@dataclass(frozen=True)
class _Context:
    task: Task
    writes: frozenset[str]
    domain: Domain
    pool: ValuePool | None


_TASKS: dict[str, _Context] = {}


def register_tasks(tasks: list[Task], domain: Domain, db: dict[str, Any] | None = None) -> None:
    """Make `tasks` known to the probes in this process (workers register their own)."""
    writes = domain.write_tools
    pool = ValuePool(db, seed=0) if db is not None else None
    for task in tasks:
        _TASKS[task.id] = _Context(task, writes, domain, pool)


def is_probe(model: str) -> bool:
    return model.split("/", 1)[0] == PROBE_PROVIDER


def check_probe(model: str) -> None:
    """A clear error for a misspelt probe before any episode runs (not one infra error each)."""
    name = model.split("/", 1)[-1].removeprefix("sim-latency").strip("/") or "oracle"
    if is_probe(model) and name not in probe_names():
        raise ConfigError(
            f"unknown probe {model!r}: choose t2t/<probe> or t2t/sim-latency/<probe> with "
            f"<probe> one of {', '.join(probe_names())}"
        )


def register_probes() -> None:
    """Route `t2t/<probe>` model names to the probes (idempotent).

    Each name is priced at zero: litellm prices every reply, and an unknown model costs it a slow
    fallback search on every call (a third of a probe call's CPU time).
    """
    register_provider(PROBE_PROVIDER, _answer)
    for probe in probe_names():
        for name in (probe, f"sim-latency/{probe}"):
            register_model(
                f"{PROBE_PROVIDER}/{name}", input_cost_per_token=0, output_cost_per_token=0
            )
    register_model(f"{PROBE_PROVIDER}/sim-latency", input_cost_per_token=0, output_cost_per_token=0)


async def _answer(request: ProviderRequest) -> Message:
    # litellm hands over "sim-latency/oracle" for t2t/sim-latency/oracle, "sim-latency" alone
    # for t2t/sim-latency: drop the provider only where it is still there
    name = request.model.removeprefix(f"{PROBE_PROVIDER}/")
    metadata = request.params.get("metadata") or {}
    if name.startswith("sim-latency"):
        mean = float(metadata.get("sim_latency_s", sim_latency_s()))
        seed = f"{metadata.get('t2t_task_id')}/{metadata.get('t2t_trial')}/{len(request.messages)}"
        await asyncio.sleep(mean * random.Random(seed).uniform(0.5, 1.5))
        name = name.removeprefix("sim-latency").strip("/") or "oracle"
    if name not in probe_names():
        raise ConfigError(f"unknown probe {name!r}: choose one of {', '.join(probe_names())}")
    context = _TASKS.get(str(metadata.get("t2t_task_id")))
    if context is None:  # e.g. a raw throughput loop with no task behind it
        return Message(role="assistant", content="How can I help you today?")
    return next_probe_turn(name, context, request.messages, trial=metadata.get("t2t_trial", 0))


# ------------------------------------------------------------------------------------- playing


def next_probe_turn(
    name: str, context: _Context, messages: list[Message], *, trial: int = 0
) -> Message:
    """The probe's next assistant message given the conversation so far."""
    if name == "random":
        return _random_turn(context, messages, trial)
    task = context.task
    kind = kind_of(task)
    switched = _user_switched(messages)
    plan = kind.probe_plan(name, task, task.gold_calls, context.writes, switched)
    made = [call for m in messages if m.role == "assistant" for call in m.tool_calls or []]
    step = _next_unmade(plan, made)
    if step is not None:
        call = plan[step]
        write = call.name in context.writes
        # a call only the probe's flaw makes (a guess, the forbidden call) is made as it is
        honest = (
            plan
            if name == "oracle"
            else kind.probe_plan("oracle", task, task.gold_calls, context.writes, switched)
        )
        if (
            question := kind.probe_before_call(name, task, call, messages, write=write)
        ) is not None:
            return _say(question)
        own = (call.name, _key(call.arguments)) not in {(c.name, _key(c.arguments)) for c in honest}
        if not own and (ask := _ask_missing(call, messages, context.domain, first=not made)):
            return _say(ask)
        if write and not _confirmed(
            call, messages, blindly=_confirms_blindly(name), domain=context.domain
        ):
            return _say(confirmation_text(call, messages, context.domain))
        call_id = f"call_{len(made)}"
        return Message(role="assistant", tool_calls=[call.model_copy(update={"id": call_id})])
    if (closing := kind.probe_closing(name, task)) is not None:
        return _say(closing)
    told = task.evaluation_criteria.communicate_info if task.evaluation_criteria else None
    extra = f" Here is what you asked for: {'; '.join(told)}." if told else ""
    return _say(f"Your request is complete.{extra} Is there anything else I can help you with?")


def _ask_missing(
    call: ToolCall, messages: list[Message], domain: Domain, *, first: bool
) -> str | None:
    """A question for the values of `call` nothing has given yet, each asked for once.

    Before the first call the question is for the user's identity.
    """
    missing = ungrounded_arguments(call, heard_text(messages), domain)
    names = dict.fromkeys(humanize(path.split(".")[0].split("[")[0]) for path, _ in missing)
    asked = asked_names(messages)
    new = [n for n in names if n not in asked]
    return ask_text(new, identity=first) if new else None


def _next_unmade(plan: list[ToolCall], made: list[ToolCall]) -> int | None:
    """Index of the first plan call not matched by a call already made (each matched once)."""
    remaining = [(c.name, _key(c.arguments)) for c in made]
    for index, call in enumerate(plan):
        key = (call.name, _key(call.arguments))
        if key in remaining:
            remaining.remove(key)
        else:
            return index
    return None


def _key(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def _say(text: str) -> Message:
    return Message(role="assistant", content=text)


def _confirmed(
    call: ToolCall, messages: list[Message], *, blindly: bool, domain: Domain | None = None
) -> bool:
    """The last thing said was our question about exactly this call, answered with a yes."""
    if len(messages) < 2 or messages[-1].role != "user":
        return False
    question = messages[-2]
    expected = confirmation_text(call, messages[:-2], domain)
    if question.role != "assistant" or question.content != expected:
        return False
    return blindly or _is_yes(messages[-1].content or "")


def _is_yes(text: str) -> bool:
    lowered = text.strip().lower()
    return bool(_YES.match(lowered)) and not any(w in lowered for w in _SWITCH_WORDS[:2])


def _user_switched(messages: list[Message]) -> bool:
    """The user announced a change of goal (any user turn after the opening one)."""
    turns = [m.content or "" for m in messages if m.role == "user"][1:]
    return any(word in turn.lower() for turn in turns for word in _SWITCH_WORDS)


def _random_turn(context: _Context, messages: list[Message], trial: int) -> Message:
    made = sum(len(m.tool_calls or []) for m in messages if m.role == "assistant")
    if made >= _RANDOM_CALLS or context.pool is None:
        return _say("Done. Is there anything else I can help you with?")
    seed = f"{context.task.id}/{trial}/{len(messages)}"
    rng = random.Random(int.from_bytes(hashlib.blake2b(seed.encode()).digest()[:8], "big"))
    call = random_call(context.domain, context.pool, rng)
    return Message(role="assistant", tool_calls=[call.model_copy(update={"id": f"call_{made}"})])
