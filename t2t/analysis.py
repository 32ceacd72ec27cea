"""Why episodes fail: a failure taxonomy per episode, as a pandas table, and the plotly figures.

Each failing episode gets every failure type that applies (`failures`) and the most telling one
(`failure`, the first in `FAILURE_TYPES` order, so a breakdown sums to the failing episodes).
Types come from the reward components the evaluator recorded and, for a wrong final state, from
replaying the episode: a record the gold changed and the agent did not is a *missing write*, one
both changed differently *wrong arguments*, one only the agent changed an *extra write*.

plotly is imported by the figure functions only, keeping `import t2t` light.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from t2t.env import Environment
from t2t.errors import ConfigError, DataError
from t2t.evaluate import (
    COMPONENTS,
    TRANSFER_TOOL,
    VARIANT_ORDER,
    call_key,
    is_infra_error,
    mutates,
    pass_k_long,
    variant_sort_key,
)
from t2t.schema import Episode, Task, ToolCall
from t2t.settings import chromium_override
from t2t.verify import ReplayResult, initial_environment, replay_calls

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "FAILURE_TYPES",
    "classify_failures",
    "cost_vs_success",
    "episode_frame",
    "failure_breakdown",
    "failure_counts",
    "pass_k_curves",
    "pass_k_heatmap",
    "run_labels",
    "save_figures",
    "standard_figures",
    "turns_distribution",
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

_OUTCOMES = ("pass", "fail", "infra_error")


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
        r.ok and mutates(env, c.name)
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
        if mutates(env, row["name"])
    }
    gold = {call_key(env, c) for c in task.gold_calls if mutates(env, c.name)}
    made = {
        call_key(env, c)
        for c, r in zip(episode.tool_calls, replay.results, strict=True)
        if r.ok and mutates(env, c.name)
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
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=_OUTCOMES)
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


def _variants(values: Iterable[str]) -> list[str]:
    present = set(values)
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


# ------------------------------------------------------------------------------ figures


def pass_k_curves(episodes: Iterable[Episode], *, max_k: int | None = None) -> go.Figure:
    """pass^k against k, one line per run, one panel per variant (how reliability decays)."""
    import plotly.express as px

    long = _pass_k_by_run(episodes, max_k)
    long = long[long["variant"] != "all"]
    figure = px.line(
        long,
        x="k",
        y="pass_hat_k",
        color="run",
        facet_col="variant",
        markers=True,
        category_orders={"variant": _variants(long["variant"])},
        labels={"pass_hat_k": "pass^k"},
        title="pass^k over trials",
    )
    figure.update_yaxes(range=[-0.05, 1.05])
    figure.update_xaxes(dtick=1)
    return _plain_facet_titles(figure)


def _pass_k_by_run(episodes: Iterable[Episode], max_k: int | None) -> pd.DataFrame:
    long = pass_k_long(episodes, max_k=max_k)
    long.insert(0, "run", run_labels(long))
    return long


def pass_k_heatmap(episodes: Iterable[Episode], *, k: int = 1) -> go.Figure:
    """Run × variant pass^k as a heatmap with the values written in the cells."""
    import plotly.express as px

    long = _pass_k_by_run(episodes, k)
    long = long[long["k"] == k]
    if long.empty:
        raise DataError(f"no task has {k} valid trials: pass^{k} is undefined")
    grid = long.pivot(index="run", columns="variant", values="pass_hat_k")
    grid = grid.loc[list(dict.fromkeys(long["run"]))]
    grid = grid[_variants(grid.columns)]
    figure = px.imshow(
        grid,
        text_auto=".2f",
        zmin=0,
        zmax=1,
        color_continuous_scale="RdYlGn",
        aspect="auto",
        labels={"color": f"pass^{k}", "x": "variant", "y": "run"},
        title=f"pass^{k} per agent × variant",
    )
    return figure


def failure_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Share of each variant's episodes failing for each reason, one panel per run."""
    import plotly.express as px

    table = failure_counts(frame)
    figure = px.bar(
        table,
        x="variant",
        y="share",
        color="failure",
        facet_col="run",
        category_orders={
            "variant": _variants(frame["variant"]),
            "failure": list(FAILURE_TYPES),
        },
        hover_data=["episodes", "of"],
        labels={"share": "share of episodes"},
        title="Why episodes fail, per variant",
    )
    return _plain_facet_titles(figure)


def _plain_facet_titles(figure: go.Figure) -> go.Figure:
    """Panel titles "t2t/eager" rather than plotly's "agent=t2t/eager"."""
    return figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))


def cost_vs_success(frame: pd.DataFrame) -> go.Figure:
    """Mean cost per episode against success rate, one point per run × variant."""
    import plotly.express as px

    scored = frame[frame["outcome"] != "infra_error"]
    points = (
        scored.groupby(["run", "variant"], observed=True)
        .agg(success=("reward", "mean"), cost_usd=("cost_usd", "mean"), episodes=("reward", "size"))
        .reset_index()
    )
    return px.scatter(
        points,
        x="cost_usd",
        y="success",
        color="run",
        symbol="variant",
        size="episodes",
        size_max=18,
        labels={"cost_usd": "mean cost per episode (USD)", "success": "success rate"},
        title="Cost vs success",
    )


def turns_distribution(frame: pd.DataFrame) -> go.Figure:
    """Conversation length (messages, tool messages included) per variant, pass vs fail, per run."""
    import plotly.express as px

    figure = px.box(
        frame,
        x="variant",
        y="turns",
        color="outcome",
        facet_col="run",
        category_orders={"variant": _variants(frame["variant"]), "outcome": list(_OUTCOMES)},
        labels={"turns": "messages"},
        title="Conversation length per episode",
    )
    return _plain_facet_titles(figure)


def standard_figures(episodes: Sequence[Episode], frame: pd.DataFrame) -> dict[str, go.Figure]:
    """The five figures of a results page, by file name; those with nothing to show are left out
    (pass^k and cost when every episode was an infra error, the breakdown when none failed).
    """
    figures = {}
    if (frame["outcome"] != "infra_error").any():
        figures["pass_k_curves"] = pass_k_curves(episodes)
        figures["pass_k_heatmap"] = pass_k_heatmap(episodes)
    if (frame["outcome"] != "pass").any():
        figures["failure_breakdown"] = failure_breakdown(frame)
    if (frame["outcome"] != "infra_error").any():
        figures["cost_vs_success"] = cost_vs_success(frame)
    figures["turns_distribution"] = turns_distribution(frame)
    return figures


def save_figures(
    figures: Mapping[str, go.Figure], folder: str | Path, *, png: bool | None = None
) -> list[Path]:
    """Write each figure as `<name>.html` (plotly.js copied beside them once, works offline).

    PNGs are written too when `png` is True, or when None and kaleido finds a Chromium; a
    missing Chromium with `png=True` is an error that says what to install.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write figures to {folder}: {exc.strerror or exc}") from None
    written = []
    for name, figure in figures.items():
        path = folder / f"{name}.html"
        figure.write_html(path, include_plotlyjs="directory")
        written.append(path)
    if png is None:
        png = _chromium() is not None and importlib.util.find_spec("kaleido") is not None
    if png:
        written += _write_pngs(figures, folder)
    return written


def _chromium() -> str | None:
    import shutil

    if chosen := chromium_override():
        return chosen
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def _write_pngs(figures: Mapping[str, go.Figure], folder: Path) -> list[Path]:
    import os

    from t2t.errors import MissingDependencyError

    browser = _chromium()
    if browser is None:
        raise ConfigError(
            "PNG export needs Chromium (Debian: apt-get install chromium); HTML needs nothing"
        )
    os.environ.setdefault("BROWSER_PATH", browser)  # where kaleido's choreographer looks first
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise MissingDependencyError("kaleido", "notebooks") from None
    import plotly.io as pio

    paths = [folder / f"{name}.png" for name in figures]
    pio.write_images(list(figures.values()), paths, width=1000, height=500)  # one browser for all
    return paths
