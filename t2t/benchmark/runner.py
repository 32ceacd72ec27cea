"""The rollout engine's entry points: agents talk to simulated users and the tools, episodes go to
a JSONL file.

Each finished episode is scored and appended at once, so a killed run resumes where it stopped:
keys already in the file are skipped, and a cut last line is dropped first (`batch`, `results`).

Concurrency: `concurrency` episodes run at once on one event loop, with a semaphore per model (the
agent and an LLM user share one when they are the same model); `workers > 1` shards the episodes
over local processes, and `backend="ray"` over Ray workers, all appending to the same file
(`shards`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from t2t.benchmark.batch import check_run, pending_keys, prepare, run_pending
from t2t.benchmark.config import RunConfig, RunStats
from t2t.benchmark.results import open_results
from t2t.benchmark.shards import run_sharded
from t2t.core.environment import Environment
from t2t.core.schema import Task
from t2t.llm import run_sync

__all__ = ["run_rollouts", "run_rollouts_async"]


async def run_rollouts_async(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    progress: bool = True,
    retry_errors: bool = False,
) -> RunStats:
    """Run every (task, trial) not yet in `out`, `config.concurrency` at a time, appending each."""
    check_run(tasks, env, config)
    with open_results(out) as out:
        todo, skipped = pending_keys(tasks, env, config, out, retry_errors=retry_errors)
        prepare(tasks, env, config)
        stats = await run_pending(todo, env, config, out, progress=progress)
    return stats.model_copy(update={"planned": len(todo) + skipped, "skipped": skipped})


def run_rollouts(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    progress: bool = True,
    retry_errors: bool = False,
    workers: int = 1,
    backend: Literal["local", "ray"] = "local",
) -> RunStats:
    """Sync entry point (safe in Jupyter); `workers > 1` shards episodes over processes."""
    if workers <= 1 and backend == "local":
        return run_sync(
            run_rollouts_async(
                tasks, env, config, out, progress=progress, retry_errors=retry_errors
            )
        )
    return run_sharded(
        tasks,
        env,
        config,
        out,
        workers=workers,
        backend=backend,
        progress=progress,
        retry_errors=retry_errors,
    )
