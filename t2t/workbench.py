"""Where the notebooks keep their results, and how each gets the tasks and episodes it needs.

Every notebook runs alone: it asks for a task set or a benchmark by its settings and gets what an
earlier notebook (or run) left on disk, or makes it. Generation and rollouts resume, so running a
notebook again redoes nothing. Results go under `results_dir()`:
`tasks/<domain>-n<n>-s<seed>/` (the generator's folder) and `runs/<domain>.jsonl` (episodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from t2t.benchmark.batch import run_keys
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import episode_key, read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.core.environment import Environment
from t2t.core.files import read_json
from t2t.core.schema import Episode, Task
from t2t.core.settings import configured_models, results_root
from t2t.generate import GenerateConfig, generate_tasks
from t2t.intents import INTENT_KINDS
from t2t.tasks.task_set import open_task_set

__all__ = ["benchmark", "configured_models", "per_kind", "results_dir", "task_set"]


def results_dir(default: str | Path = "../results/workbench") -> Path:
    """The notebooks' results folder: `T2T_RESULTS`, else `default` (relative to the notebook)."""
    folder = results_root() or Path(default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _complete(folder: Path, config: GenerateConfig) -> bool:
    """A finished run of `config` is in `folder`: its yield report (written last) names it."""
    report = folder / "yield.json"
    if not (report.exists() and (folder / "tasks.jsonl").exists()):
        return False
    done: bool = read_json(report, what="yield report").get("config_hash") == config.config_hash()
    return done


def _made_differently(folder: Path, config: GenerateConfig) -> bool:
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return False
    made: str | None = read_json(manifest, what="run manifest").get("config_hash")
    return made != config.config_hash()


def task_set(
    domain: str,
    *,
    n: int,
    seed: int = 0,
    results: Path | None = None,
    progress: bool = True,
) -> tuple[list[Task], Environment, Path]:
    """`n` verified tasks of `domain` (DB and walks from `seed`), generated once, then reused.

    Returns the tasks, an environment on their DB, and their folder (with `yield.json`).
    """
    config = GenerateConfig(domain=domain, n=n, seed=seed, db_seed=seed)
    folder = (results or results_dir()) / "tasks" / f"{domain}-n{n}-s{seed}"
    if not _complete(folder, config):
        # the folder is this cache's own: a set an older t2t made there is replaced, not refused
        generate_tasks(config, folder, progress=progress, force=_made_differently(folder, config))
    tasks, env = open_task_set(folder / "tasks.jsonl")
    return tasks, env, folder


def per_kind(tasks: Sequence[Task], k: int) -> list[Task]:
    """The first `k` tasks of each variant kind, kind by kind (base, ambiguous, changing, …)."""
    return [
        task for kind in INTENT_KINDS for task in [t for t in tasks if t.variant.kind == kind][:k]
    ]


def benchmark(
    tasks: Sequence[Task],
    env: Environment,
    out: Path,
    *,
    agents: Sequence[str],
    trials: int = 2,
    user: str = "scripted",
    progress: bool = True,
) -> list[Episode]:
    """Play `tasks` with each agent (`t2t/<probe>` or a litellm model name) into JSONL `out`.

    Episodes already in `out` are not run again. Returns the episodes of these tasks, agents and
    trials only: `out` may also hold those of other task sets or agents (all kept for reports).
    """
    wanted = set()
    for agent in agents:
        config = RunConfig(agent=agent, user=user, trials=trials)
        run_rollouts(tasks, env, config, out, progress=progress)
        wanted |= {key for _, _, key in run_keys(tasks, env, config)}
    return [episode for episode in read_episodes(out) if episode_key(episode) in wanted]
