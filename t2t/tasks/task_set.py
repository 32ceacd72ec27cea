"""A task set on disk and the database its tasks were made on, opened together.

`t2t generate` writes `tasks.jsonl` beside the `db.json` it explored; the tasks only make sense on
that DB (their ids and gold states come from it), so it is found there unless one is given.
"""

from __future__ import annotations

from pathlib import Path

from t2t.core.environment import Environment
from t2t.core.errors import ConfigError
from t2t.core.files import read_tasks
from t2t.core.schema import Task, VariantKind
from t2t.domain.loader import check_db_shape, load_domain, read_db

__all__ = ["open_task_set"]


def open_task_set(
    tasks_path: str | Path,
    *,
    db: str | Path | None = None,
    domain: str | Path | None = None,
    variants: list[VariantKind] | None = None,
    limit: int | None = None,
) -> tuple[list[Task], Environment]:
    """Tasks (optionally only some variants, the first `limit`) and an environment on their DB.

    Args:
        tasks_path: tasks .jsonl (or τ²-style .json list).
        db: The DB; default `db.json` beside the tasks file, else the domain's own.
        domain: Built-in name or folder; default the tasks' own `domain` field.
        variants: Keep only these kinds.
        limit: Keep the first `limit` tasks after filtering.
    """
    tasks_path = Path(tasks_path)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    tasks = read_tasks(tasks_path)
    if variants:
        tasks = [task for task in tasks if task.variant.kind in variants]
        if not tasks:
            raise ConfigError(f"{tasks_path} has no task of kind {', '.join(variants)}")
    if limit is not None:
        tasks = tasks[:limit]
    named = sorted({task.domain for task in tasks if task.domain})
    if domain is None:
        if len(named) != 1:
            found = ", ".join(named) or "none"
            raise ConfigError(f"{tasks_path}: tasks name domains {found}; pass --domain")
        domain = named[0]
    loaded = load_domain(domain)
    db_path = Path(db) if db is not None else tasks_path.parent / "db.json"
    if db is not None or db_path.exists():
        data = read_db(loaded, db_path)
    elif loaded.default_db is not None:
        data = loaded.default_db()
        check_db_shape(loaded, data, source=f"{loaded.name} default database")
    else:
        raise ConfigError(f"no db.json beside {tasks_path}; pass --db")
    return tasks, loaded.environment(data)
