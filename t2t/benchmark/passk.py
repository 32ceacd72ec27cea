"""pass^k summaries per model × variant: τ-bench's unbiased estimator over valid trials.

Infrastructure errors are counted and left out of every score; runs with different settings are
kept in separate rows, never pooled as trials. Each score carries a 95% bootstrap interval over
tasks (`uncertainty`), so two rows are compared with their noise in view.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from t2t.benchmark.scoring import COMPONENTS
from t2t.benchmark.uncertainty import bootstrap_ci, format_interval
from t2t.core.schema import Episode
from t2t.intents.kind import INTENT_KINDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "VARIANT_ORDER",
    "fold_intervals",
    "format_table",
    "interval_columns",
    "is_infra_error",
    "order_variants",
    "pass_hat_k",
    "pass_k_long",
    "pass_k_matrix",
    "summarize",
    "variant_order",
    "variant_sort_key",
]


def variant_order() -> tuple[str, ...]:
    """The registered kinds in registry order, then the "all" row."""
    return (*INTENT_KINDS, "all")


VARIANT_ORDER = variant_order()
"""The order at import (`variant_order()` follows later registrations)."""


def order_variants(values: Iterable[str]) -> list[str]:
    """The variant kinds among `values` in the usual order, unknown ones after, sorted."""
    present, order = set(values), variant_order()
    return [v for v in order if v in present] + sorted(present - set(order))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """τ-bench's unbiased pass^k: the chance that k of n trials, drawn without replacement, all
    succeed when c of them did.
    """
    if k < 1 or k > n:
        raise ValueError(f"pass^k needs 1 <= k <= n, got k={k}, n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {c}")
    return math.comb(c, k) / math.comb(n, k)


def is_infra_error(episode: Episode) -> bool:
    """An episode the infrastructure broke: counted, never scored."""
    return episode.termination_reason == "infra_error" or episode.reward is None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def interval_columns(column: str) -> tuple[str, str]:
    """The (lo, hi) columns of a score's interval: `pass^2` → `pass_hat_2_lo`, `reward` →
    `reward_lo`. Not `pass^2_lo`, so code picking the `pass^` columns by prefix still works.
    """
    stem = f"pass_hat_{column[5:]}" if column.startswith("pass^") else column
    return f"{stem}_lo", f"{stem}_hi"


def _row(keys: dict[str, str], episodes: list[Episode], max_k: int | None) -> dict[str, Any]:
    valid = [e for e in episodes if not is_infra_error(e)]
    by_task: dict[str, list[Episode]] = {}
    for e in valid:
        by_task.setdefault(e.task_id, []).append(e)
    trials = {t: [e.reward.value == 1.0 for e in es] for t, es in by_task.items()}  # type: ignore[union-attr]
    top = max_k or min((len(t) for t in trials.values()), default=0)
    row: dict[str, Any] = {
        **keys,
        "tasks": len({e.task_id for e in episodes}),
        "episodes": len(episodes),
        "infra_errors": len(episodes) - len(valid),
    }
    per_task: dict[str, list[float]] = {}  # each score's value per task, for its interval
    for k in range(1, top + 1):
        values = [pass_hat_k(len(t), sum(t), k) for t in trials.values() if len(t) >= k]
        row[f"pass^{k}"], per_task[f"pass^{k}"] = _mean(values), values
    row["reward"] = _mean([e.reward.value for e in valid])  # type: ignore[union-attr]
    per_task["reward"] = [_mean([e.reward.value for e in es]) for es in by_task.values()]  # type: ignore[union-attr]
    for name in COMPONENTS:
        row[name] = _mean([float(v) for e in valid if (v := getattr(e.reward, name)) is not None])
        per_task[name] = [
            _mean([float(v) for e in es if (v := getattr(e.reward, name)) is not None])
            for es in by_task.values()
        ]
    row["cost_usd"] = _mean([e.cost_usd for e in valid])
    row["turns"] = _mean([float(len(e.messages)) for e in valid])
    row["duration_s"] = _mean([e.duration_s for e in valid])
    for column, values in per_task.items():
        row.update(zip(interval_columns(column), bootstrap_ci(values), strict=True))
    return row


def summarize(episodes: Iterable[Episode], *, max_k: int | None = None) -> pd.DataFrame:
    """One row per run (agent_model, user_model, settings hash) and variant, plus an "all" row.

    Runs with other settings (max_steps, temperature, …) are separate rows, never pooled as
    trials; the `config` column shows the settings hash when one agent and user has several.

    `episodes` counts every episode and `infra_errors` those the infrastructure broke; every
    column after them is computed over the other episodes only. pass^k runs to `max_k`, or else
    to the fewest valid trials of any task in the row; pass^k of a row averages the tasks with
    at least k valid trials. Component rates are over the episodes the component applies to.

    The last columns are 95% bootstrap intervals over tasks (`interval_columns` names them:
    `pass_hat_1_lo`, `pass_hat_1_hi`, …, `reward_lo`, `reward_hi`, `state_ok_lo`, …): a task's
    value is its pass^k estimate, or its mean of the reward or component over its trials.
    """
    import pandas as pd

    if max_k is not None and max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    runs: dict[tuple[str, str, str], dict[str, list[Episode]]] = {}
    for e in episodes:  # one run = one agent, user and settings hash: never pooled as trials
        variants = runs.setdefault((e.agent_model, e.user_model, e.config_hash), {})
        variants.setdefault(e.variant, []).append(e)
    rows = []
    for (agent, user, config), variants in sorted(runs.items()):
        order = [v for v in variant_order() if v in variants]
        order += sorted(set(variants) - set(order))
        run = {"agent_model": agent, "user_model": user, "config": config}
        for variant in order:
            rows.append(_row({**run, "variant": variant}, variants[variant], max_k))
        everything = [e for v in order for e in variants[v]]
        rows.append(_row({**run, "variant": "all"}, everything, max_k))
    top = max((int(c[5:]) for r in rows for c in r if c.startswith("pass^")), default=0)
    columns = ["agent_model", "user_model", "config", "variant", "tasks", "episodes"]
    columns += ["infra_errors", *(f"pass^{k}" for k in range(1, top + 1))]
    scores = [*(f"pass^{k}" for k in range(1, top + 1)), "reward", *COMPONENTS]
    columns += ["reward", *COMPONENTS, "cost_usd", "turns", "duration_s"]
    columns += [c for score in scores for c in interval_columns(score)]
    table = pd.DataFrame(rows, columns=columns)
    pairs = {(agent, user) for agent, user, _ in runs}
    if len(pairs) == len(runs):  # one settings hash per agent and user: the column says nothing
        table = table.drop(columns="config")
    return table


def pass_k_long(episodes: Iterable[Episode], *, max_k: int | None = None) -> pd.DataFrame:
    """pass^k in long form (agent_model, user_model, [config,] variant, k, pass_hat_k,
    pass_hat_k_lo, pass_hat_k_hi): the estimate and its 95% bootstrap interval over tasks.
    """
    import pandas as pd

    table = summarize(episodes, max_k=max_k)
    keys = [c for c in ("agent_model", "user_model", "config") if c in table.columns]
    keys.append("variant")
    passes = [c for c in table.columns if c.startswith("pass^")]
    long = table.melt(id_vars=keys, value_vars=passes, var_name="k", value_name="pass_hat_k")
    for end in ("lo", "hi"):
        bounds = table.melt(
            id_vars=keys,
            value_vars=[f"pass_hat_{c[5:]}_{end}" for c in passes],
            value_name=f"pass_hat_k_{end}",
        )
        long[f"pass_hat_k_{end}"] = bounds[f"pass_hat_k_{end}"]  # melted in the same order
    long = long.dropna(subset=["pass_hat_k"])
    long["k"] = long["k"].str.removeprefix("pass^").astype(int)
    long = long.sort_values([*keys, "k"], key=variant_sort_key, kind="stable")
    return pd.DataFrame(long).reset_index(drop=True)


def variant_sort_key(column: pd.Series) -> pd.Series:
    """Sort key putting variants in VARIANT_ORDER (base first, unknown kinds last)."""
    if column.name != "variant":
        return column
    rank = {v: i for i, v in enumerate(variant_order())}
    return column.map(lambda v: rank.get(v, len(rank)))


def pass_k_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """A `summarize` table as agent × variant cells "pass^1 / pass^2 / …"."""
    import pandas as pd

    columns = [c for c in table.columns if str(c).startswith("pass^")]

    def label(row: Any) -> str:
        config = row.get("config")
        return row.agent_model if config is None else f"{row.agent_model} [{config[:8]}]"

    cells = {
        (label(row), row.variant): " / ".join(
            "-" if pd.isna(row[c]) else f"{row[c]:.2f}" for c in columns
        )
        for _, row in table.iterrows()
    }
    agents = list(dict.fromkeys(label(row) for _, row in table.iterrows()))
    variants = [v for v in variant_order() if v in set(table["variant"])]
    matrix = pd.DataFrame(
        {v: [cells.get((a, v), "") for a in agents] for v in variants},
        index=pd.Index(agents, name="agent"),
    )
    matrix.attrs["title"] = f"{' / '.join(columns)} per variant"
    return matrix


def fold_intervals(table: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """`table` with each score and its interval in one text cell, "0.667 [0.333, 1.000]", and
    the `_lo`/`_hi` columns gone: the form to read, not to compute with.
    """
    folded = table.copy()
    for column in table.columns:
        lo, hi = interval_columns(str(column))
        if lo in table.columns and hi in table.columns:
            folded[column] = [
                format_interval(p, a, b, digits=digits)
                for p, a, b in zip(table[column], table[lo], table[hi], strict=True)
            ]
            folded = folded.drop(columns=[lo, hi])
    return folded


def format_table(df: pd.DataFrame) -> str:
    """A compact text rendering of `summarize`'s table for the terminal, intervals folded."""
    if df.empty:
        return "(no episodes)"
    folded = fold_intervals(df)
    text: str = folded.to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="-")
    return text
