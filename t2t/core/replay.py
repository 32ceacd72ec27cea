"""Replay verifier: run gold calls on a fork of the initial DB and compare final states.

Verification is by replay, never by a model: a task is kept only if its gold calls run without
error, and an episode's state is right only if replaying its calls reaches the gold final state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from t2t.core.environment import Environment, RecordChange
from t2t.core.errors import ConfigError, DataError, data_error
from t2t.core.schema import Episode, Task, ToolCall, ToolResult

__all__ = [
    "CallError",
    "ReplayResult",
    "RuleViolation",
    "StateComparison",
    "TaskVerification",
    "check_episode_state",
    "check_task_domains",
    "compare_states",
    "initial_environment",
    "replay_calls",
    "replay_gold",
    "verify_task",
]


class CallError(BaseModel):
    """A replayed call that failed, at its position in the call list."""

    index: int
    name: str
    error: str


class RuleViolation(BaseModel):
    """A replayed write that a policy rule forbids in the state it ran in."""

    index: int
    name: str
    rule: str
    reason: str


class ReplayResult(BaseModel):
    """Per-call results of a replay, its failures, its policy violations and the final hash."""

    results: list[ToolResult] = Field(default_factory=list)
    errors: list[CallError] = Field(default_factory=list)
    violations: list[RuleViolation] = Field(default_factory=list)
    final_hash: str

    @property
    def ok(self) -> bool:
        return not self.errors


class StateComparison(BaseModel):
    """Whether two final states match, and which records differ if not."""

    ok: bool
    changes: list[RecordChange] = Field(default_factory=list)


class TaskVerification(BaseModel):
    """The verdict on one task: gold replays cleanly within the policy, or what broke."""

    task_id: str
    ok: bool
    final_hash: str
    errors: list[CallError] = Field(default_factory=list)
    violations: list[RuleViolation] = Field(default_factory=list)
    writes: int = 0


class _InitializationAction(BaseModel):
    """τ²'s `EnvFunctionCall`, as far as replay supports it (the assistant's own tools)."""

    model_config = ConfigDict(extra="ignore")

    env_type: Literal["assistant"] = "assistant"
    func_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


def initial_environment(env: Environment, task: Task) -> Environment:
    """The task's initial state: `env` plus its initialization actions, which must all succeed."""
    state = task.initial_state or {}
    where = f"task {task.id}: initial_state"
    if state.get("initialization_data") or state.get("message_history"):
        raise DataError("initialization_data and message_history are not supported", field=where)
    try:
        actions = [
            _InitializationAction.model_validate(a)
            for a in state.get("initialization_actions") or []
        ]
    except ValidationError as exc:
        raise data_error(exc, prefix=f"{where}.initialization_actions.") from None
    if not actions:
        return env
    start, replay = replay_calls(
        env, [ToolCall(name=a.func_name, arguments=a.arguments) for a in actions]
    )
    if replay.errors:
        error = replay.errors[0]
        raise DataError(
            f"initialization action {error.index} ({error.name}) failed: {error.error}", field=where
        )
    return start


def replay_calls(
    env: Environment, calls: Iterable[ToolCall], *, check_rules: bool = False
) -> tuple[Environment, ReplayResult]:
    """Run `calls` in order on a fork of `env`; failed calls are recorded and replay goes on.

    With `check_rules`, each write is first checked against the domain's policy rules in the state
    it is about to change, and what it breaks is recorded.
    """
    final = env.fork()
    results, errors, violations = [], [], []
    for index, call in enumerate(calls):
        if check_rules and env.domain.is_write(call.name):
            violations += [
                RuleViolation(index=index, name=call.name, rule=rule, reason=reason)
                for rule, reason in final.check_rules(call)
            ]
        result = final.run(call)
        results.append(result)
        if not result.ok:
            errors.append(CallError(index=index, name=call.name, error=result.error or ""))
    replay = ReplayResult(
        results=results, errors=errors, violations=violations, final_hash=final.state_hash()
    )
    return final, replay


def replay_gold(task: Task, env: Environment) -> tuple[Environment, ReplayResult]:
    """The gold final state of `task` starting from `env`."""
    return replay_calls(initial_environment(env, task), task.gold_calls)


def compare_states(actual: Environment, expected: Environment) -> StateComparison:
    """Equal hashes mean equal states; otherwise list the records that differ."""
    if actual.state_hash() == expected.state_hash():
        return StateComparison(ok=True)
    return StateComparison(ok=False, changes=expected.diff(actual))


def check_episode_state(episode: Episode, task: Task, env: Environment) -> StateComparison:
    """Replay the agent's calls and the gold calls from `env` and compare the two final states."""
    actual, _ = replay_calls(initial_environment(env, task), episode.tool_calls)
    expected, _ = replay_gold(task, env)
    return compare_states(actual, expected)


def verify_task(task: Task, env: Environment) -> TaskVerification:
    """A task is valid when every gold call succeeds on a fork of its initial DB, within policy."""
    _, replay = replay_calls(initial_environment(env, task), task.gold_calls, check_rules=True)
    writes = sum(1 for call in task.gold_calls if env.domain.is_write(call.name))
    return TaskVerification(
        task_id=task.id,
        ok=replay.ok and not replay.violations,
        final_hash=replay.final_hash,
        errors=replay.errors,
        violations=replay.violations,
        writes=writes,
    )


def check_task_domains(tasks: Iterable[Task], env: Environment) -> None:
    """Tasks for another domain than `env`'s are a user mistake, named as such (replayed, each
    would fail on records the database does not have).
    """
    domains = {name for task in tasks if (name := task.domain_name)}
    if domains - {env.domain.name}:
        raise ConfigError(
            f"tasks are for {', '.join(sorted(domains))} but the environment is "
            f"{env.domain.name}: use --domain {' or '.join(sorted(domains))}, one at a time"
        )
