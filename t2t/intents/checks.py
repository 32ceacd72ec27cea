"""Replay checks every variant kind verifies with: gold succeeds within policy, states differ."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from t2t.core.environment import Environment, canonical_json, normalize
from t2t.core.replay import initial_environment, replay_calls
from t2t.core.schema import Action, Task, ToolCall
from t2t.intents.slots import Rejected

__all__ = [
    "MAX_LISTED",
    "VariantCheck",
    "actions_of",
    "call_key",
    "clean_replay",
    "coerced_arguments",
    "gold_actions",
]

MAX_LISTED = 10  # records / errors kept in a reward's details: enough to see what went wrong


class VariantCheck(BaseModel):
    """The verdict on one task: ok, or the reason it was rejected."""

    task_id: str
    kind: str
    ok: bool
    reason: str | None = None


def gold_actions(task: Task) -> list[Action]:
    criteria = task.evaluation_criteria
    return list(criteria.actions or []) if criteria else []


def actions_of(rows: list[dict[str, Any]]) -> list[ToolCall]:
    return [ToolCall(name=row["name"], arguments=row.get("arguments", {})) for row in rows]


def clean_replay(env: Environment, task: Task, calls: list[ToolCall], what: str) -> Environment:
    """Replay `calls` from the task's initial state; any failed call or broken rule rejects."""
    final, replay = replay_calls(initial_environment(env, task), calls, check_rules=True)
    if replay.errors:
        error = replay.errors[0]
        raise Rejected(f"{what}: call {error.index} ({error.name}) fails: {error.error}")
    if replay.violations:
        broken = replay.violations[0]
        raise Rejected(f"{what}: call {broken.index} ({broken.name}) breaks {broken.rule}")
    return final


def coerced_arguments(env: Environment, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the tool sees them (validated, defaults filled), normalised; raw if invalid."""
    spec = env.domain.tools.get(name)
    if spec is not None:
        try:
            arguments = spec.arguments.model_validate(arguments).model_dump(mode="json")
        except ValidationError:
            pass
    normalized: dict[str, Any] = normalize(arguments)
    return normalized


def call_key(env: Environment, call: ToolCall) -> tuple[str, str]:
    """A call's identity for comparing calls: its name and its arguments as the tool sees them."""
    return call.name, canonical_json(coerced_arguments(env, call.name, call.arguments))
