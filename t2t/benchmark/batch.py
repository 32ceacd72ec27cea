"""One process's share of a run: which episodes are still to run, and running them on one event
loop, appending each to the results file as it finishes.

Both the single-process entry point (`runner.run_rollouts_async`) and each shard (`shards`) go
through `check_run`, `pending_keys`, `prepare` and `run_pending`. Keys already in the file are
skipped, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from t2t.benchmark.agent import Agent
from t2t.benchmark.config import RunConfig, RunStats
from t2t.benchmark.episode import run_episode, task_hash
from t2t.benchmark.probes import check_probe, is_probe, register_probes, register_tasks
from t2t.benchmark.results import EpisodeKey, append_episodes, episode_key, read_episodes
from t2t.core.environment import Environment
from t2t.core.errors import ConfigError
from t2t.core.replay import check_task_domains
from t2t.core.schema import Episode, Task
from t2t.core.settings import check_settings
from t2t.llm import register_model
from t2t.llm.hf_local import check_local_model, is_local, register_local_model

__all__ = ["check_run", "pending_keys", "prepare", "run_keys", "run_pending"]


def pending_keys(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    retry_errors: bool = False,
) -> tuple[list[tuple[Task, int]], int]:
    """(task, trial) pairs still to run, and how many are already in `out`."""
    done: set[EpisodeKey] = set()
    for episode in read_episodes(out):
        if retry_errors and episode.termination_reason == "infra_error":
            continue
        done.add(episode_key(episode))
    todo, skipped = [], 0
    for task, trial, key in run_keys(tasks, env, config):
        if key in done:
            skipped += 1
        else:
            todo.append((task, trial))
    return todo, skipped


def run_keys(
    tasks: Sequence[Task], env: Environment, config: RunConfig
) -> Iterator[tuple[Task, int, EpisodeKey]]:
    """Each (task, trial) of a run with the key its episode carries (`results.episode_key`)."""
    digest = config.config_hash()
    for task in tasks:
        content = task_hash(task, env)
        for trial in range(config.trials):
            key = (task.id, task.variant.kind, config.agent, config.user, trial, digest, content)
            yield task, trial, key


def check_run(tasks: Sequence[Task], env: Environment, config: RunConfig) -> None:
    check_settings()
    for model in (config.agent, config.user):
        check_probe(model)
        check_local_model(model)
    ids = [task.id for task in tasks]
    if len(set(ids)) != len(ids):
        twice = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
        raise ConfigError(f"task ids must be unique; repeated: {', '.join(twice[:3])}")
    check_task_domains(tasks, env)


def prepare(tasks: Sequence[Task], env: Environment, config: RunConfig) -> None:
    """Register prices and what the probes need, in this process (each worker calls it)."""
    for model, (input_cost, output_cost) in config.prices.items():
        register_model(model, input_cost_per_token=input_cost, output_cost_per_token=output_cost)
    for model in {config.agent, config.user}:
        if is_local(model):
            register_local_model(model, load=True)
    if is_probe(config.agent) or is_probe(config.user):
        register_probes()
        register_tasks(list(tasks), env.domain, env.to_dict() if "random" in config.agent else None)


async def run_pending(
    todo: list[tuple[Task, int]],
    env: Environment,
    config: RunConfig,
    out: Path,
    *,
    progress: bool,
    sink: Callable[[Episode], None] | None = None,
) -> RunStats:
    """Run `todo`, each finished episode appended to `out` at once, or handed to `sink` (a Ray
    worker sends it to the driver, which alone writes the results file).
    """
    started = time.perf_counter()
    semaphores = {config.agent: asyncio.Semaphore(config.concurrency)}
    if config.user != "scripted":
        limit = config.user_concurrency or config.concurrency
        semaphores.setdefault(config.user, asyncio.Semaphore(limit))
    cache = _open_cache(config)
    agent = Agent(config.agent, env.domain, **config.agent_params)
    queue: asyncio.Queue[tuple[Task, int]] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    bar = _bar(len(todo), progress)
    totals = {"ran": 0, "infra": 0, "spent": 0.0}

    async def work() -> None:
        while True:
            try:
                task, trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            episode, spent = await run_episode(
                task, env, config, trial, semaphores=semaphores, cache=cache, agent=agent
            )
            if sink is None:
                append_episodes(out, [episode])
            else:
                sink(episode)
            totals["ran"] += 1
            totals["infra"] += episode.termination_reason == "infra_error"
            totals["spent"] += spent
            if bar is not None:
                bar.update(1)
                bar.set_postfix(cost=f"${totals['spent']:.4f}", errors=totals["infra"])

    try:
        workers = min(config.concurrency, max(len(todo), 1))
        with _collector_for_a_run():
            await asyncio.gather(*(work() for _ in range(workers)))
    finally:
        if bar is not None:
            bar.close()
    return RunStats(
        out=str(out),
        planned=len(todo),
        skipped=0,
        ran=totals["ran"],
        infra_errors=totals["infra"],
        cost_usd=round(totals["spent"], 6),
        duration_s=round(time.perf_counter() - started, 3),
    )


@contextlib.contextmanager
def _collector_for_a_run() -> Iterator[None]:
    """Keep the garbage collector off what lives for the whole run (DB, tasks, libraries).

    Episodes live for many seconds, so their objects reach the oldest generation, and every full
    collection walked the whole DB again: about a millisecond per model call, more than half of
    t2t's cost over a bare litellm loop. Frozen and with a higher threshold, about 0.1 ms.
    """
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(20_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _open_cache(config: RunConfig) -> Any:
    """The cache argument of every model call: none for probes (free; it would measure disk)
    nor for local models (a cached reply is not keyed by the folder's weights).
    """
    models = (config.agent, config.user)
    if any(is_local(m) for m in models):
        return False
    if all(m == "scripted" or is_probe(m) for m in models):
        return False
    return config.cache_dir  # None: T2T_CACHE_DIR, if set


def _bar(total: int, progress: bool) -> Any:
    if not progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="episodes", unit="ep", smoothing=0.05)
