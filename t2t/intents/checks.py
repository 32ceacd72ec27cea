"""Replay checks every variant kind verifies with: gold succeeds within policy, states differ."""

from __future__ import annotations

from pydantic import BaseModel

from t2t.core.environment import Environment
from t2t.core.replay import initial_environment, replay_calls
from t2t.core.schema import Action, Task, ToolCall
from t2t.intents.slots import Rejected

__all__ = ["VariantCheck", "actions_of", "clean_replay", "gold_actions"]


class VariantCheck(BaseModel):
    """The verdict on one task: ok, or the reason it was rejected."""

    task_id: str
    kind: str
    ok: bool
    reason: str | None = None


def gold_actions(task: Task) -> list[Action]:
    criteria = task.evaluation_criteria
    return list(criteria.actions or []) if criteria else []


def actions_of(rows: list[dict]) -> list[ToolCall]:
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
