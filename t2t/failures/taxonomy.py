"""Why episodes fail: a failure taxonomy per episode, as a pandas table.

Each failing episode gets every failure type that applies (`failures`) and the most telling one
(`failure`, the first in `FAILURE_TYPES` order, so a breakdown sums to the failing episodes).
Types come from the reward components the evaluator recorded and, for a wrong final state, from
replaying the episode: a record the gold changed and the agent did not is a *missing write*, one
both changed differently *wrong arguments*, one only the agent changed an *extra write*. Each
variant kind adds its own types (`IntentKind.failure_types`, ranked among these) and says when
they apply (`IntentKind.classify`).

A failing episode whose agent passed a tool a value that nobody gave it (the scorer's grounding
check, `t2t.benchmark.grounding`) is a *hallucinated value*. It ranks after the policy and the
kinds' own types (what the variant tests comes first) and before the final-state types, which a
made-up id usually explains. A passing episode keeps no failure type (the reward is not changed
by grounding): its `grounded` column says whether it guessed, and `export-sft` drops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from t2t.benchmark.grounding import episode_grounded
from t2t.benchmark.passk import is_infra_error, variant_sort_key
from t2t.benchmark.scoring import COMPONENTS
from t2t.core.environment import Environment
from t2t.core.errors import DataError
from t2t.core.replay import ReplayResult, initial_environment, replay_calls
from t2t.core.schema import Episode, Task
from t2t.intents.kind import INTENT_KINDS, FailureType
from t2t.intents.text import TRANSFER_TOOL

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FAILURE_TYPES",
    "OUTCOMES",
    "classify_failures",
    "episode_frame",
    "failure_counts",
    "failure_types",
    "run_labels",
]

_GENERIC_TYPES: dict[str, FailureType] = {
    "infra_error": FailureType(
        "the infrastructure broke (rate limit, timeout, …): counted, never scored", 0
    ),
    "step_limit": FailureType("the episode hit the step limit", 10),
    "tool_error_loop": FailureType(
        "the agent repeated failing tool calls until the run stopped it", 20
    ),
    "policy_violation": FailureType("the agent made a call the policy forbids", 30),
    # 40-54: the kinds' own types (failed_to_refuse 41, no_clarification 42, ignored_change 43)
    "hallucinated_value": FailureType(
        "the agent passed a tool a value nobody said and no tool result showed", 55
    ),
    "premature_end": FailureType(
        "the conversation ended before the agent wrote anything it should have", 60
    ),
    "missing_write": FailureType("a record the gold changes was left as it was", 70),
    "wrong_arguments": FailureType("a record the gold changes was changed differently", 80),
    "extra_write": FailureType("a record the gold leaves alone was changed", 90),
    "missing_information": FailureType("the agent never said a fact the user had to hear", 100),
    "other": FailureType("failed for a reason none of the above explains", 1000),
}


def failure_types() -> dict[str, str]:
    """Every failure type (generic and the registered kinds'), most telling first."""
    ranked = dict(_GENERIC_TYPES)
    for kind in INTENT_KINDS.values():
        ranked.update(kind.failure_types)
    order = sorted(ranked, key=lambda name: ranked[name].rank)  # stable: ties by registration
    return {name: ranked[name].explanation for name in order}


class _FailureTypes(Mapping[str, str]):
    """`failure_types()` as a read-only mapping that follows the registry."""

    def __getitem__(self, name: str) -> str:
        return failure_types()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(failure_types())

    def __len__(self) -> int:
        return len(failure_types())


FAILURE_TYPES: Mapping[str, str] = _FailureTypes()
"""Failure types, most telling first: an episode's `failure` is the first of its `failures`."""

OUTCOMES = ("pass", "fail", "infra_error")


def _state_failures(
    episode: Episode, task: Task, env: Environment
) -> tuple[set[str], ReplayResult]:
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
    return found, replay


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
    replay = None
    if reward.state_ok is False and task is not None and env is not None:
        state, replay = _state_failures(episode, task, env)
        found.update(state)
    # the task's own kind when it is known (an episode records the same name)
    kind = INTENT_KINDS[task.variant.kind if task is not None else episode.variant]
    found.update(kind.classify(episode, task, env, replay))
    if reward.state_ok is False and kind.feasible:
        if any(c.name == TRANSFER_TOOL for c in episode.tool_calls):
            found.add("premature_end")  # handed a feasible request to a human
    if reward.communicate_ok is False:
        found.add("missing_information")
    if episode_grounded(episode, env.domain if env is not None else None) is False:
        found.add("hallucinated_value")
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
                "grounded": episode_grounded(episode, env.domain if env is not None else None),
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
    "grounded",
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
