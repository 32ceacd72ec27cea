"""Closed-loop scoring of one episode by replay (pass^k summaries are in `passk`).

An episode is scored from its messages alone: the agent's calls are replayed on a fork of the
task's initial DB (milliseconds), so the score never trusts what a rollout recorded. State and
`communicate_info` are checked here for every task; the rest are the components the task's kind
reports (`IntentKind.score`), so imported τ² tasks are scored by state + communicate and a new
variant kind needs no branch here. Components a kind adds beyond `Reward`'s fields are kept in
`details["components"]` and count towards the reward like the others.

Every episode also gets a grounding check (`t2t.benchmark.grounding`), reported in the details
and not part of the reward: `grounded` (every argument value of every agent call was said by the
user, shown by a tool result or allowed by the tool's schema), `ungrounded_count` and the first
`ungrounded` values (call index, tool, argument path, value).
"""

from __future__ import annotations

from typing import Any

from t2t.benchmark.grounding import ungrounded_values
from t2t.core.environment import Environment, RecordChange
from t2t.core.replay import compare_states, initial_environment, replay_calls
from t2t.core.schema import Episode, Message, Reward, Task, ToolCall
from t2t.intents.checks import MAX_LISTED
from t2t.intents.kind import ScoreContext, kind_of
from t2t.intents.text import mentions

__all__ = [
    "COMPONENTS",
    "evaluate_episode",
    "score_episode",
]

COMPONENTS = (
    "state_ok",
    "communicate_ok",
    "forbidden_ok",
    "required_ok",
    "clarified_ok",
    "refused_ok",
)
"""The reward components `Reward` has fields for (a kind may report others)."""


def _change(change: RecordChange) -> dict[str, Any]:
    return {
        "table": change.table,
        "key": change.key,
        "expected": change.before,
        "actual": change.after,
    }


def _agent_calls(messages: list[Message]) -> list[tuple[int, ToolCall]]:
    """(message index, call) for each assistant tool call, in order."""
    return [
        (index, call)
        for index, message in enumerate(messages)
        if message.role == "assistant"
        for call in message.tool_calls or []
    ]


def evaluate_episode(task: Task, messages: list[Message], env: Environment) -> Reward:
    """Score a conversation by replaying the agent's calls against the gold final state.

    Args:
        task: The task the episode ran; its variant details decide which checks apply.
        messages: The conversation without the system prompt.
        env: The domain environment on the task set's DB, not yet set up for the task.
    """
    start = initial_environment(env, task)
    located = _agent_calls(messages)
    calls = [call for _, call in located]
    actual, replay = replay_calls(start, calls, check_rules=True)
    expected, gold = replay_calls(start, task.gold_calls)
    details: dict[str, Any] = {
        "calls": len(calls),
        "failed_calls": len(replay.errors),
        "call_errors": [e.model_dump() for e in replay.errors[:MAX_LISTED]],
        "violations": [v.model_dump() for v in replay.violations[:MAX_LISTED]],
    }
    ungrounded = ungrounded_values(messages, env.domain)  # reported, not scored
    details["grounded"] = not ungrounded
    details["ungrounded_count"] = len(ungrounded)
    details["ungrounded"] = [u.model_dump() for u in ungrounded[:MAX_LISTED]]
    if gold.errors:  # a task defect, not the agent's: reported so it can be traced
        details["gold_errors"] = [e.model_dump() for e in gold.errors[:MAX_LISTED]]

    comparison = compare_states(actual, expected)
    state_ok = comparison.ok
    details["state_diff"] = [_change(c) for c in comparison.changes[:MAX_LISTED]]
    details["state_diff_count"] = len(comparison.changes)

    communicate_ok = None
    infos = task.evaluation_criteria.communicate_info if task.evaluation_criteria else None
    if infos:
        said = [m.content for m in messages if m.role == "assistant" and m.content]
        missing = [info for info in infos if not any(mentions(text, info) for text in said)]
        communicate_ok = not missing
        details["missing_info"] = missing

    context = ScoreContext(task, env, start, messages, located, replay, details)
    scored = dict(kind_of(task).score(task, context))
    named = {name: scored.pop(name, None) for name in COMPONENTS[2:]}
    writes = [i for i, (_, c) in enumerate(located) if env.domain.is_write(c.name)]
    details["first_write_index"] = writes[0] if writes else None
    if scored:  # the kind's own components
        details["components"] = scored

    components = (state_ok, communicate_ok, *named.values(), *scored.values())
    value = 1.0 if all(c is not False for c in components) else 0.0
    return Reward(
        value=value, state_ok=state_ok, communicate_ok=communicate_ok, **named, details=details
    )


def score_episode(task: Task, episode: Episode, env: Environment) -> Episode:
    """A copy of `episode` with its reward computed from its messages."""
    return episode.model_copy(update={"reward": evaluate_episode(task, episode.messages, env)})
