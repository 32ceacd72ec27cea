"""Publish task sets as a dataset: a folder `datasets.load_dataset(folder)` reads, with a card.

One row per task, split train/test by task family as `export-sft` splits (a variant never sits
apart from its base task), so a model trained on `train` is tested on tasks it never saw in any
form. The user's side is in plain columns; the gold actions, what the agent must say and the
kind's details are JSON text (their keys differ per tool and kind, which no single Arrow schema
holds), and `task` is the whole τ²-compatible task (`t2t.Task.model_validate_json` reads it).
The card (README.md) gives the counts per domain × kind, how each set was generated, the
`t2t audit` figures, the licence and how to cite.
"""

from __future__ import annotations

import json
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from t2t.core.errors import ConfigError
from t2t.core.files import read_json, write_jsonl
from t2t.core.schema import Task
from t2t.failures.audit import audit_rows, audit_tasks
from t2t.finetune.sft import split_tasks, task_family
from t2t.generate import PIPELINE_VERSION, GenerateConfig
from t2t.tasks.task_set import open_task_set

__all__ = ["DatasetExport", "export_dataset"]

_AUDIT_COLUMNS = {  # the card's audit table: share of tasks whose text shows each flaw
    "tool_name": "tool name",
    "key_value_dump": "key: value",
    "internal_id": "internal id",
    "timestamp": "timestamp",
    "motive": "gives a motive",
}


class DatasetExport(BaseModel):
    """What `export_dataset` wrote."""

    out: Path
    rows: dict[str, int]  # per split
    counts: dict[str, dict[str, int]]  # domain → kind → tasks


def export_dataset(
    tasks_paths: list[Path],
    out: str | Path,
    *,
    name: str = "t2t tool-calling tasks",
    test_fraction: float = 0.2,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
) -> DatasetExport:
    """Write `out/data/{train,test}.jsonl` and `out/README.md` (the card) from task sets."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the dataset")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} exists; pass --force to replace it")
    tasks: list[Task] = []
    sources = []
    databases: dict[str, str] = {}  # task id → the dataset's copy of its set's db.json
    audits = []
    for index, path in enumerate(tasks_paths):
        loaded, env = open_task_set(path)
        tasks += loaded
        audits += audit_tasks(loaded, env, progress=progress)
        source = _source(Path(path), env.domain.name, len(loaded))
        source["db"] = f"db/{index}-{env.domain.name}.json"
        sources.append(source)
        databases.update({task.id: source["db"] for task in loaded})
    ids = [task.id for task in tasks]
    if len(set(ids)) != len(ids):
        raise ConfigError("two task sets share task ids: export sets of different seeds/domains")
    split = split_tasks(tasks, test_fraction=test_fraction, seed=seed)
    if out.exists():
        shutil.rmtree(out)
    (out / "data").mkdir(parents=True)
    (out / "db").mkdir()
    for path, source in zip(tasks_paths, sources, strict=True):
        shutil.copyfile(Path(path).parent / "db.json", out / source["db"])
    rows: dict[str, int] = {}
    for side in ("train", "test"):
        chosen = [
            _row(task) | {"db": databases[task.id]} for task in tasks if split.side(task.id) == side
        ]
        if chosen:
            rows[side] = write_jsonl(out / "data" / f"{side}.jsonl", chosen)
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        domain = counts.setdefault(task.domain or "?", {})
        domain[task.variant.kind] = domain.get(task.variant.kind, 0) + 1
    card = _card(
        name, rows, counts, tasks, split.side, sources, audit_rows(audits), test_fraction, seed
    )
    (out / "README.md").write_text(card, encoding="utf-8")
    return DatasetExport(out=out, rows=rows, counts=counts)


def _row(task: Task) -> dict[str, Any]:
    instructions = task.user_scenario.instructions
    said = {} if isinstance(instructions, str) else instructions.model_dump()
    criteria = task.evaluation_criteria
    return {
        "id": task.id,
        "domain": task.domain,
        "kind": task.variant.kind,
        "family": task_family(task),
        "reason_for_call": said.get("reason_for_call") or "",
        "known_info": said.get("known_info") or "",
        "unknown_info": said.get("unknown_info") or "",
        "task_instructions": said.get("task_instructions") or str(instructions),
        "actions": json.dumps(
            [a.model_dump(exclude_none=True) for a in (criteria.actions or [])] if criteria else []
        ),
        "communicate_info": json.dumps((criteria.communicate_info or []) if criteria else []),
        "variant_details": json.dumps(task.variant.details),
        "task": task.model_dump_json(exclude_none=True),
    }


def _source(path: Path, domain: str, tasks: int) -> dict[str, Any]:
    """How a task set was made: its generation settings, and whether this pipeline made it."""
    manifest_path = path.parent / "manifest.json"
    if not manifest_path.exists():
        return {"file": _named(path), "domain": domain, "tasks": tasks, "settings": None}
    manifest = read_json(manifest_path, what="task set manifest")
    settings = manifest.get("config") or {}
    try:
        current = GenerateConfig(**settings).config_hash() == manifest.get("config_hash")
    except (ValidationError, TypeError):
        current = False
    return {
        "file": _named(path),
        "domain": domain,
        "tasks": tasks,
        "settings": settings,
        "pipeline": PIPELINE_VERSION if current else None,
    }


def _named(path: Path) -> str:
    """A tasks file by its folder too: every set's file is called tasks.jsonl."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _card(
    name: str,
    rows: dict[str, int],
    counts: dict[str, dict[str, int]],
    tasks: list[Task],
    side: Any,
    sources: list[dict[str, Any]],
    audited: list[dict[str, Any]],
    test_fraction: float,
    seed: int,
) -> str:
    try:
        t2t_version = version("t2t")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        t2t_version = "unknown"
    files = "\n".join(
        f"  - split: {s}\n    path: data/{s}.jsonl" for s in ("train", "test") if s in rows
    )
    kinds = sorted({k for domain in counts.values() for k in domain})
    per_split = []
    for domain in sorted(counts):
        for split in ("train", "test"):
            mine = [t for t in tasks if t.domain == domain and side(t.id) == split]
            cells = [sum(t.variant.kind == k for t in mine) for k in kinds]
            per_split.append([domain, split, *cells, len(mine)])
    generation = [
        [
            s["file"],
            s["domain"],
            s["tasks"],
            f"`{s['db']}`",
            json.dumps(
                {k: v for k, v in (s["settings"] or {}).items() if v is not None}, sort_keys=True
            )
            if s["settings"]
            else "no manifest",
            s.get("pipeline") or "older",
        ]
        for s in sources
    ]
    audit = [
        [r["domain"], r["kind"], r["tasks"], f"{r['words']:.0f}"]
        + [f"{r[k]:.2f}" if isinstance(r.get(k), float) else "-" for k in _AUDIT_COLUMNS]
        for r in audited
    ]
    return f"""---
license: mit
pretty_name: {name}
task_categories:
- text-generation
tags:
- tool-calling
- agents
- tau2-bench
- trajectory2task
configs:
- config_name: default
  data_files:
{files}
---

# {name}

Verifiable tool-calling tasks generated by t2t {t2t_version}, the Trajectory2Task workbench:
each was explored in a simulated business domain, converted into what a customer asks for, and
checked by replaying its gold actions against the domain's database and policy. Variants make
the user *ambiguous* (the agent must ask), *changing* (the goal changes mid-conversation) or
*infeasible* (the policy forbids it: the agent must refuse and must not write).

Splits are by task family (a base task and its variants stay together), {test_fraction:.0%} of
families held out for `test` (seed {seed}): {", ".join(f"{n} {s}" for s, n in rows.items())} rows.

```python
from datasets import load_dataset
from t2t import Task

data = load_dataset("path/to/this/folder")
task = Task.model_validate_json(data["train"][0]["task"])  # the whole τ²-compatible task
```

## Tasks per domain and kind

{_table(["domain", "split", *kinds, "all"], per_split)}

## Columns

`id`, `domain`, `kind` (base, ambiguous, changing, infeasible), `family` (the base task's id);
what the simulated user is told: `reason_for_call`, `known_info`, `unknown_info`,
`task_instructions`; JSON text: `actions` (the gold tool calls), `communicate_info` (what the agent
must say), `variant_details` (the kind's own facts: candidates, the forbidden call, …); `task`: the
whole task as JSON, τ²-bench's `tasks.json` fields plus t2t's `variant` and `provenance`; `db`:
the database the task runs on, a file of this folder (`t2t run --tasks … --db db/…json` replays it).

## How it was generated

{_table(["tasks file", "domain", "tasks", "database", "settings", "pipeline version"], generation)}

Pipeline version {PIPELINE_VERSION} is this t2t's; "older" marks a set made before a change that
makes the same seed give other tasks.

## Audit (`t2t audit`)

Share of tasks whose text shows each trait (lower is better but for *gives a motive*), and the
mean words a user is told.

{_table(["domain", "kind", "tasks", "words", *_AUDIT_COLUMNS.values()], audit)}

## Licence

MIT, as t2t. The retail and airline domains follow τ²-bench's (MIT) tools, policies and database
layout; banking is t2t's own.

## Citation

Cite the method these tasks reproduce, *Trajectory2Task* (ACL 2026):

```bibtex
@misc{{trajectory2task,
  title  = {{Trajectory2Task}},
  year   = {{2026}},
  eprint = {{2601.20144}},
  archivePrefix = {{arXiv}},
  note   = {{ACL 2026}}
}}
```
"""
