"""Why episodes fail: a failure taxonomy per episode, as a pandas table.

Each failing episode gets every failure type that applies (`failures`) and the most telling one
(`failure`, the first in `FAILURE_TYPES` order, so a breakdown sums to the failing episodes).
Types come from the reward components the evaluator recorded and, for a wrong final state, from
replaying the episode: a record the gold changed and the agent did not is a *missing write*, one
both changed differently *wrong arguments*, one only the agent changed an *extra write*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from t2t.benchmark.passk import is_infra_error, variant_sort_key
from t2t.benchmark.scoring import COMPONENTS, TRANSFER_TOOL, call_key
from t2t.core.environment import Environment
from t2t.core.errors import DataError
from t2t.core.replay import ReplayResult, initial_environment, replay_calls
from t2t.core.schema import Episode, Task, ToolCall

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FAILURE_TYPES",
    "OUTCOMES",
    "classify_failures",
    "episode_frame",
    "failure_counts",
    "run_labels",
]

FAILURE_TYPES: dict[str, str] = {
    "infra_error": "the infrastructure broke (rate limit, timeout, …): counted, never scored",
    "step_limit": "the episode hit the step limit",
    "tool_error_loop": "the agent repeated failing tool calls until the run stopped it",
    "policy_violation": "the agent made a call the policy forbids",
    "failed_to_refuse": "an infeasible request was never refused or transferred",
    "no_clarification": "the agent acted on an ambiguous request without asking",
    "ignored_change": "the agent carried out the user's first goal after it changed",
    "premature_end": "the conversation ended before the agent wrote anything it should have",
    "missing_write": "a record the gold changes was left as it was",
    "wrong_arguments": "a record the gold changes was changed differently",
    "extra_write": "a record the gold leaves alone was changed",
    "missing_information": "the agent never said a fact the user had to hear",
    "other": "failed for a reason none of the above explains",
}
"""Failure types, most telling first: an episode's `failure` is the first of its `failures`."""

OUTCOMES = ("pass", "fail", "infra_error")


def _state_failures(episode: Episode, task: Task, env: Environment) -> list[str]:
    """Missing / wrong / extra writes, by comparing gold and agent changes to the initial state."""
    start = initial_environment(env, task)
    expected, _ = replay_calls(start, task.gold_calls)
    actual, replay = replay_calls(start, episode.tool_calls)
    gold_changed = {(c.table, c.key) for c in start.diff(expected)}
    agent_changed = {(c.table, c.key) for c in start.diff(actual)}
    found = set()
    for change in expected.diff(actual):
        where = (change.table, change.key)
        if where in gold_changed and where in agent_changed:
            found.add("wrong_arguments")
        elif where in gold_changed:
            found.add("missing_write")
        else:
            found.add("extra_write")
    wrote = any(
        r.ok and env.domain.is_write(c.name)
        for c, r in zip(episode.tool_calls, replay.results, strict=True)
    )
    if not wrote and "missing_write" in found:
        found.add("premature_end")
    if task.variant.kind == "changing" and _acted_on_first_goal(episode, task, env, replay):
        found.add("ignored_change")
    return sorted(found)


def _acted_on_first_goal(
    episode: Episode, task: Task, env: Environment, replay: ReplayResult
) -> bool:
    """The agent carried out goal A: a write of A's own, or all of A and none of B's own."""
    goal_a = {
        call_key(env, ToolCall(name=row["name"], arguments=row.get("arguments", {})))
        for row in task.variant.details.get("goal_a", [])
        if env.domain.is_write(row["name"])
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


def classify_failures(episode: Episode, task: Task | None, env: Environment | None) -> list[str]:
    """Every failure type that applies to `episode`, most telling first; [] when it passed.

    Without its task and environment the final-state types (missing / wrong / extra write,
    premature end, ignored change) cannot be told apart and a wrong state counts as "other".
    """
    if is_infra_error(episode):
        return ["infra_error"]
    reward = episode.reward
    assert reward is not None  # is_infra_error covers a missing reward
    if reward.value == 1.0:
        return []
    found: set[str] = set()
    if episode.termination_reason == "max_steps":
        found.add("step_limit")
    if episode.termination_reason == "agent_error":
        loop = "in a row" in (episode.error or "")
        found.add("tool_error_loop" if loop else "premature_end")
    if reward.forbidden_ok is False or reward.details.get("violations"):
        found.add("policy_violation")
    if reward.refused_ok is False:
        found.add("failed_to_refuse")
    if reward.clarified_ok is False and reward.details.get("first_write_index") is not None:
        found.add("no_clarification")  # it wrote without asking; with no write, it gave up
    if reward.state_ok is False and task is not None and env is not None:
        found.update(_state_failures(episode, task, env))
    if reward.state_ok is False and episode.variant != "infeasible":
        if any(c.name == TRANSFER_TOOL for c in episode.tool_calls):
            found.add("premature_end")  # handed a feasible request to a human
    if reward.communicate_ok is False:
        found.add("missing_information")
    return [name for name in FAILURE_TYPES if name in found] or ["other"]


def episode_frame(
    episodes: Sequence[Episode],
    tasks: Iterable[Task] | Mapping[str, Task] | None = None,
    env: Environment | None = None,
    *,
    progress: bool = False,
) -> pd.DataFrame:
    """One row per episode (row label = position in `episodes`) with outcome and failure types.

    Args:
        episodes: Scored episodes, e.g. from `t2t.read_episodes`.
        tasks: The task set the episodes ran (ids must match), for the final-state types.
        env: The task set's environment, as `t2t.open_task_set` returns it.
        progress: Show a progress bar (replaying thousands of failures takes seconds).
    """
    import pandas as pd

    by_id = dict(tasks) if isinstance(tasks, Mapping) else {t.id: t for t in tasks or []}
    if tasks is not None:
        unknown = sorted({e.task_id for e in episodes} - set(by_id))
        if unknown:
            raise DataError(
                f"{len(unknown)} episodes' tasks are not in the task set given "
                f"(first: {unknown[:3]}); pass the task set the run used"
            )
    rows = []
    for episode in tqdm(episodes, desc="classifying", unit="ep", disable=not progress):
        task = by_id.get(episode.task_id)
        failures = classify_failures(episode, task, env if task is not None else None)
        reward = episode.reward
        if is_infra_error(episode):
            outcome = "infra_error"
        else:
            outcome = "pass" if not failures else "fail"
        rows.append(
            {
                "task_id": episode.task_id,
                "variant": episode.variant,
                "agent_model": episode.agent_model,
                "user_model": episode.user_model,
                "config_hash": episode.config_hash,
                "trial": episode.trial,
                "outcome": outcome,
                "failure": failures[0] if failures else "",
                "failures": ", ".join(failures),
                "reward": reward.value if reward is not None else float("nan"),
                **{
                    name: getattr(reward, name) if reward is not None else None
                    for name in COMPONENTS
                },
                "termination_reason": episode.termination_reason,
                "turns": len(episode.messages),  # as in `summarize`: tool messages count
                "tool_calls": len(episode.tool_calls),
                "failed_calls": (reward.details.get("failed_calls", 0) if reward else 0),
                "cost_usd": episode.cost_usd,
                "tokens": episode.tokens,
                "duration_s": episode.duration_s,
            }
        )
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    frame.insert(2, "run", run_labels(frame, config="config_hash"))
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=OUTCOMES)
    return frame


_COLUMNS = [
    "task_id",
    "variant",
    "agent_model",
    "user_model",
    "config_hash",
    "trial",
    "outcome",
    "failure",
    "failures",
    "reward",
    *COMPONENTS,
    "termination_reason",
    "turns",
    "tool_calls",
    "failed_calls",
    "cost_usd",
    "tokens",
    "duration_s",
]


def run_labels(table: pd.DataFrame, *, config: str = "config") -> pd.Series:
    """A name per run (agent, user, settings): the agent, plus the user / settings hash only
    where one agent has several, so figures never blend separate runs into one line or cell.
    """
    configs = table[config] if config in table.columns else None
    users = table.groupby("agent_model")["user_model"].transform("nunique")
    labels = table["agent_model"].where(
        users == 1, table["agent_model"] + " · " + table["user_model"]
    )
    if configs is not None:
        several = table.groupby(["agent_model", "user_model"])[config].transform("nunique") > 1
        labels = labels.where(~several, labels + " [" + configs.str[:8] + "]")
    return labels.rename("run")


def failure_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Failing episodes per run × variant × failure type (the `failure` column), with shares."""
    failing = frame[frame["outcome"] != "pass"]
    keys = ["run", "variant"]
    counts = failing.groupby([*keys, "failure"], observed=True).size().rename("episodes")
    totals = frame.groupby(keys, observed=True).size().rename("of")
    table = counts.reset_index().merge(totals.reset_index(), on=keys)
    table["share"] = table["episodes"] / table["of"]
    return table.sort_values(keys, key=variant_sort_key, kind="stable").reset_index(drop=True)
