"""Before and after fine-tuning: the same task sets and user, each model, pass^k per variant.

Every model plays every task set (typically the held-out side of the training domain's split and
a domain it never saw) with the same user, trials and step limit. Episodes go to one resumable
results file per task set, so a killed comparison goes on where it stopped and a later one with
another model reuses the rest. Besides pass^k, `tool_calls_ok` (the share of the agent's tool
calls that ran) shows a model learning the format before it learns the job: a small model's
pass^k can stay at 0 while this moves.

Each pass^k carries its 95% bootstrap interval over tasks, and `paired_differences` sets each
model against a baseline task by task: on the same tasks, the difference is measured far more
tightly than two separate intervals suggest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from t2t.benchmark.batch import run_keys
from t2t.benchmark.config import RunConfig
from t2t.benchmark.passk import (
    is_infra_error,
    pass_hat_k,
    pass_k_long,
    variant_order,
    variant_sort_key,
)
from t2t.benchmark.results import episode_key, read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.uncertainty import format_interval, paired_difference
from t2t.core.environment import TOOL_ERROR_PREFIX, Environment
from t2t.core.errors import ConfigError, config_error
from t2t.core.schema import Episode, Task

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "Comparison",
    "compare_figure",
    "compare_frame",
    "compare_models",
    "compare_table",
    "compare_task_sets",
    "model_labels",
    "results_path",
    "paired_differences",
    "play_models",
    "tool_calls_ok",
]

Played = Mapping[tuple[str, str], Sequence[Episode]]
"""Episodes per (model label, task set), as `play_models` returns them."""


def tool_calls_ok(episodes: Sequence[Episode]) -> float | None:
    """Share of the agent's tool calls that ran without error (None: no call was made)."""
    results = [
        not (m.content or "").startswith(TOOL_ERROR_PREFIX)
        for e in episodes
        for m in e.messages
        if m.role == "tool"
    ]
    return sum(results) / len(results) if results else None


def compare_models(
    models: Mapping[str, str],
    task_sets: Mapping[str, tuple[Sequence[Task], Environment]],
    out: str | Path,
    *,
    trials: int = 1,
    user: str = "scripted",
    max_steps: int = 30,
    agent_params: dict[str, Any] | None = None,
    concurrency: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run each model on each task set into `out/<set>.jsonl`; one row per model × set × variant
    × k, pass^k with its 95% bootstrap interval over tasks (`pass_hat_k_lo`, `pass_hat_k_hi`).

    Args:
        models: Label (e.g. "base", "fine-tuned") → litellm model name (`hf-local/<folder>`, …).
        task_sets: Name (e.g. "retail (held out)", "banking (unseen)") → tasks and environment.
        out: Folder for the results files.
        trials: Trials per task (pass^k up to k = trials).
        user: The user for every run (scripted, or a litellm model).
        max_steps: Agent turns per episode.
        agent_params: Model parameters for every agent (e.g. max_tokens, temperature).
        concurrency: Episodes at once (default: the run default).
    """
    played = play_models(
        models,
        task_sets,
        out,
        trials=trials,
        user=user,
        max_steps=max_steps,
        agent_params=agent_params,
        concurrency=concurrency,
        progress=progress,
    )
    return compare_frame(played, models)


def play_models(
    models: Mapping[str, str],
    task_sets: Mapping[str, tuple[Sequence[Task], Environment]],
    out: str | Path,
    *,
    trials: int = 1,
    user: str = "scripted",
    max_steps: int = 30,
    agent_params: dict[str, Any] | None = None,
    concurrency: int | None = None,
    progress: bool = True,
) -> dict[tuple[str, str], list[Episode]]:
    """`compare_models`' runs (resumed where the files have them), returning the episodes per
    (model label, task set): what `paired_differences` pairs task by task.
    """
    if not models:
        raise ConfigError("give at least one model to compare")
    if not task_sets:
        raise ConfigError("give at least one task set to compare on")
    out = Path(out)
    try:
        configs = {
            label: RunConfig(
                agent=model,
                user=user,
                trials=trials,
                max_steps=max_steps,
                agent_params=dict(agent_params or {}),
                **({"concurrency": concurrency} if concurrency is not None else {}),
            )
            for label, model in models.items()
        }
    except ValidationError as exc:
        raise config_error(exc) from None
    played: dict[tuple[str, str], list[Episode]] = {}
    for set_name, (tasks, env) in task_sets.items():
        path = results_path(out, set_name)
        for label in models:
            config = configs[label]
            run_rollouts(tasks, env, config, path, progress=progress)
            wanted = {key for _, _, key in run_keys(tasks, env, config)}
            played[label, set_name] = [e for e in read_episodes(path) if episode_key(e) in wanted]
    return played


def compare_frame(played: Played, models: Mapping[str, str]) -> pd.DataFrame:
    """`compare_models`' table from played episodes (`play_models`)."""
    import pandas as pd

    rows = []
    for (label, set_name), episodes in played.items():
        rows += _rows(label, models[label], set_name, list(episodes))
    frame = pd.DataFrame(rows)
    frame["model"] = pd.Categorical(frame["model"], categories=list(models), ordered=True)
    sets = list(dict.fromkeys(set_name for _, set_name in played))
    frame["task_set"] = pd.Categorical(frame["task_set"], categories=sets, ordered=True)
    frame = frame.sort_values(["task_set", "model", "variant", "k"], key=variant_sort_key)
    return frame.reset_index(drop=True)


def results_path(out: str | Path, set_name: str) -> Path:
    """The results file `play_models` writes a task set's episodes to, under `out`."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in set_name).strip("_")
    return Path(out) / f"{stem or 'tasks'}.jsonl"


def _rows(label: str, model: str, set_name: str, episodes: list[Episode]) -> list[dict[str, Any]]:
    scored = [e for e in episodes if not is_infra_error(e)]
    infra = len(episodes) - len(scored)
    long = pass_k_long(episodes)
    if long.empty:  # nothing scored (every episode an infrastructure error): say so, as NaN
        nan = float("nan")
        return [_row(label, model, set_name, "all", 1, (nan, nan, nan), scored, infra)]
    rows = []
    for record in long.to_dict("records"):
        variant = record["variant"]
        mine = [e for e in scored if variant == "all" or e.variant == variant]
        values = tuple(float(record[c]) for c in ("pass_hat_k", "pass_hat_k_lo", "pass_hat_k_hi"))
        rows.append(_row(label, model, set_name, variant, int(record["k"]), values, mine, infra))
    return rows


def _row(
    label: str,
    model: str,
    set_name: str,
    variant: str,
    k: int,
    values: tuple[float, ...],
    scored: list[Episode],
    infra: int,
) -> dict[str, Any]:
    value, lo, hi = values
    return {
        "model": label,
        "agent_model": model,
        "task_set": set_name,
        "variant": variant,
        "k": k,
        "pass_hat_k": value,
        "episodes": len(scored),
        "infra_errors": infra,
        "tool_calls_ok": tool_calls_ok(scored),
        "pass_hat_k_lo": lo,
        "pass_hat_k_hi": hi,
    }


def compare_table(
    frame: pd.DataFrame, value: str = "pass_hat_k", *, intervals: bool = False
) -> pd.DataFrame:
    """`value` with a row per task set × variant and a column per model (× k), in run order.

    With `intervals`, each cell is text with the 95% interval, "0.42 [0.25, 0.58]" (`value` needs
    `value_lo` and `value_hi` columns, as `pass_hat_k` has).
    """
    several_k = frame["k"].nunique() > 1
    column = frame["model"].astype(str)
    if several_k:
        column = column + " pass^" + frame["k"].astype(str)
    shown = value
    if intervals:
        bounds = [f"{value}_lo", f"{value}_hi"]
        if not set(bounds) <= set(frame.columns):
            raise ConfigError(f"no interval for {value}: the comparison has no {bounds[0]}")
        cells = [
            format_interval(p, lo, hi)
            for p, lo, hi in zip(frame[value], frame[bounds[0]], frame[bounds[1]], strict=True)
        ]
        frame, shown = frame.assign(cell=cells), "cell"
    table = frame.assign(column=column).pivot_table(
        index=["task_set", "variant"],
        columns="column",
        values=shown,
        observed=True,
        dropna=False,
        aggfunc="first",
    )
    rows = list(dict.fromkeys(zip(frame["task_set"], frame["variant"], strict=True)))
    return table.reindex(index=rows, columns=list(dict.fromkeys(column))).rename_axis(columns=None)


def paired_differences(
    played: Played,
    *,
    baseline: str,
    k: int = 1,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Each model's pass^k minus the baseline's, over the tasks both have k valid trials of.

    One row per other model × task set × variant, each set's "all" row, and an overall row
    (task set and variant "all", every set's tasks); `difference` is the mean per-task
    difference, `difference_lo`/`difference_hi` its bootstrap interval over those tasks, and
    `tasks` how many tasks were paired.

    Args:
        played: Episodes per (model label, task set), from `play_models`.
        baseline: The label every other model is set against (e.g. "base").
        k: The pass^k compared.
    """
    import pandas as pd

    labels = list(dict.fromkeys(label for label, _ in played))
    if baseline not in labels:
        raise ConfigError(f"baseline {baseline!r} is not one of the models: {', '.join(labels)}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    sets = list(dict.fromkeys(set_name for _, set_name in played))
    scores = {key: _task_scores(episodes, k) for key, episodes in played.items()}
    rows = []
    for label in labels:
        if label == baseline:
            continue
        groups: dict[tuple[str, str], tuple[dict[tuple[str, str], float], ...]] = {}
        for side, who in enumerate((label, baseline)):
            for set_name in sets:
                for (variant, task), value in scores.get((who, set_name), {}).items():
                    for group in ((set_name, variant), (set_name, "all"), ("all", "all")):
                        groups.setdefault(group, ({}, {}))[side][set_name, task] = value
        for (set_name, variant), (a, b) in groups.items():
            mean, lo, hi = paired_difference(
                a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
            )
            rows.append(
                {
                    "model": label,
                    "baseline": baseline,
                    "task_set": set_name,
                    "variant": variant,
                    "k": k,
                    "tasks": len(a.keys() & b.keys()),
                    "difference": mean,
                    "difference_lo": lo,
                    "difference_hi": hi,
                }
            )
    columns = ["model", "baseline", "task_set", "variant", "k", "tasks", "difference"]
    frame = pd.DataFrame(rows, columns=[*columns, "difference_lo", "difference_hi"])
    frame["model"] = pd.Categorical(frame["model"], categories=labels, ordered=True)
    order = list(dict.fromkeys([*sets, "all"]))
    frame["task_set"] = pd.Categorical(frame["task_set"], categories=order, ordered=True)
    frame = frame.sort_values(["model", "task_set", "variant"], key=variant_sort_key, kind="stable")
    return frame.reset_index(drop=True)


def _task_scores(episodes: Sequence[Episode], k: int) -> dict[tuple[str, str], float]:
    """pass^k of each task with at least k valid trials, keyed by (variant, task id)."""
    trials: dict[tuple[str, str], list[bool]] = {}
    for e in episodes:
        if not is_infra_error(e):
            trials.setdefault((e.variant, e.task_id), []).append(e.reward.value == 1.0)  # type: ignore[union-attr]
    return {key: pass_hat_k(len(t), sum(t), k) for key, t in trials.items() if len(t) >= k}


def compare_figure(frame: pd.DataFrame, *, k: int = 1) -> go.Figure:
    """Bars of pass^k (with its 95% interval over tasks) and of tool calls that ran per variant,
    a colour per model.
    """
    import pandas as pd
    import plotly.express as px

    chosen = frame[frame["k"] == k]
    if chosen.empty:
        raise ConfigError(f"no pass^{k} in the comparison: run at least {k} trials")
    long = pd.concat(
        [
            chosen.assign(
                metric=f"pass^{k}",
                value=chosen["pass_hat_k"],
                above=chosen["pass_hat_k_hi"] - chosen["pass_hat_k"],
                below=chosen["pass_hat_k"] - chosen["pass_hat_k_lo"],
            ),
            chosen.assign(metric="tool calls that ran", value=chosen["tool_calls_ok"]),
        ]
    )
    variants = [v for v in variant_order() if v in set(long["variant"])]
    figure = px.bar(
        long,
        x="variant",
        y="value",
        color="model",
        barmode="group",
        facet_col="task_set",
        facet_row="metric",
        error_y="above",
        error_y_minus="below",
        range_y=[0, 1.15],
        text_auto=".2g",  # a 0 is a number too, not a missing bar
        category_orders={
            "model": _order(frame["model"]),
            "variant": variants,
            "task_set": _order(frame["task_set"]),
        },
        title=(
            f"Before and after fine-tuning: pass^{k} (bars: 95% interval over tasks) and tool "
            "calls that ran, per variant"
        ),
    )
    figure.update_traces(textposition="outside", textangle=0, cliponaxis=False)
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    figure.update_yaxes(title_text="")
    return figure


def _order(column: pd.Series) -> list[Any]:
    """A column's categories in order; first-seen order for a plain column (a frame read back)."""
    if hasattr(column, "cat"):
        return list(column.cat.categories)
    return list(dict.fromkeys(column))


def model_labels(items: Sequence[str]) -> dict[str, str]:
    """`LABEL=MODEL` items as label → model, each label once."""
    models: dict[str, str] = {}
    for item in items:
        label, _, model = item.partition("=")
        if not model or not label:
            raise ConfigError(f"a model is given as LABEL=MODEL, not {item!r}")
        if label in models:
            raise ConfigError(f"model label {label!r} is given twice")
        models[label] = model
    return models


@dataclass(frozen=True)
class Comparison:
    """What `compare_task_sets` made: the rows, the paired differences, and the files it wrote."""

    frame: pd.DataFrame
    csv: Path
    figure: Path
    paired: pd.DataFrame
    paired_csv: Path


def compare_task_sets(
    models: Sequence[str] | Mapping[str, str],
    tasks: str | Path,
    out: str | Path,
    *,
    domain: str | None = None,
    split: str | Path | None = None,
    unseen: Sequence[str | Path] = (),
    limit: int | None = None,
    trials: int = 1,
    user: str = "scripted",
    max_steps: int = 30,
    max_tokens: int | None = None,
    baseline: str | None = None,
    progress: bool = True,
) -> Comparison:
    """`compare_models` on a task set (its held-out side with `split`) and unseen domains' sets;
    writes `out/compare.csv`, the comparison figure, and `out/compare_paired.csv` (each model's
    `paired_differences` against the baseline).

    Args:
        models: `LABEL=MODEL` items, or label → model.
        tasks: The task set (tasks.jsonl) of the domain the models were tuned on.
        out: Folder for the results files, compare.csv and the figure.
        domain: The task set's domain, if its tasks do not name one.
        split: A `split.json` of `export_sft`: only its test side is run ("held out").
        unseen: Task sets of other domains ("unseen").
        limit: The first `limit` tasks of each set.
        max_tokens: The agents' max_tokens, if any.
        baseline: The label the others are set against (default: the first model).
    """
    from t2t.failures.figures import save_figures
    from t2t.finetune.sft import read_split
    from t2t.tasks.task_set import open_task_set

    for what, value in (("limit", limit), ("max_tokens", max_tokens)):
        if value is not None and value < 1:
            raise ConfigError(f"{what} must be at least 1, not {value}")
    labels = dict(models) if isinstance(models, Mapping) else model_labels(models)
    if baseline is not None and baseline not in labels:
        raise ConfigError(f"baseline {baseline!r} is not one of the models: {', '.join(labels)}")
    task_list, env = open_task_set(tasks, domain=domain)
    name = env.domain.name
    if split is not None:
        saved = read_split(split)
        task_list = [t for t in task_list if saved.side(t.id) == "test"]
        if not task_list:
            raise ConfigError(f"{split}: no task of {tasks} is on the test side")
        name = f"{name} (held out)"
    task_sets = {name: (task_list[:limit], env)}
    for path in unseen:
        unseen_tasks, unseen_env = open_task_set(path, limit=limit)
        unseen_name = f"{unseen_env.domain.name} (unseen)"
        if unseen_name in task_sets:
            domain_name = unseen_env.domain.name
            raise ConfigError(f"two unseen task sets of {domain_name}: give each domain once")
        task_sets[unseen_name] = (unseen_tasks, unseen_env)
    played = play_models(
        labels,
        task_sets,
        out,
        trials=trials,
        user=user,
        max_steps=max_steps,
        agent_params={"max_tokens": max_tokens} if max_tokens else {},
        progress=progress,
    )
    frame = compare_frame(played, labels)
    csv = Path(out) / "compare.csv"
    frame.to_csv(csv, index=False)
    paired = paired_differences(played, baseline=baseline or next(iter(labels)))
    paired_csv = Path(out) / "compare_paired.csv"
    paired.to_csv(paired_csv, index=False)
    figure = save_figures({"compare": compare_figure(frame)}, Path(out))[0]
    return Comparison(frame, csv, figure, paired, paired_csv)
