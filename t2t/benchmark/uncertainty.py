"""95% bootstrap intervals over tasks, for one model's score and for two models' difference.

A benchmark is a sample of tasks, so the bootstrap resamples tasks (with replacement), never
trials: a task's value is its pass^k estimate or a component's mean over its trials. Percentile
intervals from a seeded `numpy.random.default_rng`: the same values and seed give the same
interval. One task (or tasks that all score the same) gives a zero-width interval, which says
nothing about the spread between tasks; no task gives NaN.

numpy is imported by the functions only, keeping `import t2t` light.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple, TypeVar

__all__ = ["Difference", "Interval", "bootstrap_ci", "format_interval", "paired_difference"]

_TaskKey = TypeVar("_TaskKey", bound=Hashable)

_CELLS_PER_CHUNK = 1 << 20
"""Resample counts held at once: bounds memory on 10,000 distinct values."""


class Interval(NamedTuple):
    """A confidence interval; unpacks as `(lo, hi)`."""

    lo: float
    hi: float


class Difference(NamedTuple):
    """Mean paired difference a − b over the shared tasks and its interval."""

    mean: float
    lo: float
    hi: float


def bootstrap_ci(
    values: Iterable[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the mean of per-task `values` (NaNs are left out).

    Args:
        values: One value per task (its pass^k estimate, a component's mean, a difference).
        n_resamples: Resamples of the tasks, each as many tasks as given, drawn with replacement.
        confidence: Coverage of the interval, between 0 and 1.
        seed: Seed of the resampling; the same seed gives the same interval.
    """
    import numpy as np

    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    data = np.asarray([float(v) for v in values], dtype=float)
    data = data[~np.isnan(data)]
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan)
    distinct, counts = np.unique(data, return_counts=True)
    if len(distinct) == 1:
        return Interval(float(distinct[0]), float(distinct[0]))
    rng = np.random.default_rng(seed)
    if len(distinct) * 4 <= n:
        # n draws with replacement = multinomial counts of the distinct values, the same
        # distribution in resamples × distinct values (pass^1 has two) rather than × tasks
        chunk = max(1, _CELLS_PER_CHUNK // len(distinct))
        draws = [
            rng.multinomial(n, counts / n, size=min(chunk, n_resamples - start)) @ distinct / n
            for start in range(0, n_resamples, chunk)
        ]
    else:
        chunk = max(1, _CELLS_PER_CHUNK // n)
        draws = [
            data[rng.integers(0, n, size=(min(chunk, n_resamples - start), n))].mean(axis=1)
            for start in range(0, n_resamples, chunk)
        ]
    means = np.concatenate(draws)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    # float rounding in the resample means must not put the point, or a bound, outside the data
    mean, low, high = float(data.mean()), float(distinct[0]), float(distinct[-1])
    return Interval(max(min(float(lo), mean), low), min(max(float(hi), mean), high))


def paired_difference(
    a_by_task: Mapping[_TaskKey, float],
    b_by_task: Mapping[_TaskKey, float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """Mean of a − b over the tasks both have a value for, with its bootstrap interval.

    Pairing by task takes out how hard each task is, so the interval is narrower than the two
    models' separate intervals suggest when both find the same tasks hard.
    """
    shared = sorted(  # in key order, not the mappings' order: the same pairs, the same interval
        (
            t
            for t in a_by_task.keys() & b_by_task.keys()
            if not (math.isnan(a_by_task[t]) or math.isnan(b_by_task[t]))
        ),
        key=repr,
    )
    if not shared:
        return Difference(math.nan, math.nan, math.nan)
    diffs = [a_by_task[t] - b_by_task[t] for t in shared]
    lo, hi = bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return Difference(sum(diffs) / len(diffs), lo, hi)


def format_interval(
    point: float | None, lo: float | None, hi: float | None, *, digits: int = 2
) -> str:
    """A cell such as "0.42 [0.25, 0.58]"; "-" for no value, the point alone for no interval."""
    if point is None or math.isnan(point):
        return "-"
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{point:.{digits}f}"
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
