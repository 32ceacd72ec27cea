"""The generation pipeline: explore → convert → variants → verify → keep; resumable, parallel.

Walk `i` is seeded from (`seed`, `i`) alone, so results do not depend on how walks are spread
over processes. Walks run in chunks; each finished chunk is written to `parts/` at once, so a
killed run resumes from the last chunk. Tasks are kept in walk order until every kind has its
share of `n`, then written as `tasks.jsonl` (+ τ² `tau2/tasks.json` and the DB), with a yield
report of what was explored, converted, verified and kept, and why the rest was dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from tqdm.auto import tqdm

from t2t.core.environment import Domain, Environment, canonical_json
from t2t.core.errors import ConfigError
from t2t.core.files import read_json, write_json, write_jsonl
from t2t.core.processes import exit_with_parent
from t2t.core.schema import SCHEMA_VERSION, Task
from t2t.domain.loader import load_domain, scale_sizes
from t2t.explore.from_trajectory import walk_from_trajectory
from t2t.explore.graph import ToolGraph, build_tool_graph
from t2t.explore.values import ValuePool
from t2t.explore.walk import Walk, explore_offline
from t2t.intents import INTENT_KINDS, Rejected, check_variant
from t2t.intents.workers import KindShipment, install_kinds, ship_kinds
from t2t.tasks.convert import convert_walk
from t2t.tasks.tau2 import db_sha256, write_tau2_tasks

__all__ = ["PIPELINE_VERSION", "GenerateConfig", "YieldReport", "generate_tasks", "walk_seed"]

logger = logging.getLogger(__name__)
PIPELINE_VERSION = 8  # bump when a change makes the same seed give other tasks
_MAX_WALKS_PER_TASK = 20  # give up when yield is this poor: a domain the explorer cannot use


class GenerateConfig(BaseModel):
    """Everything that determines a task set; its hash names the run for resuming."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str = "retail"
    db_seed: int = 0
    scale: str | None = None
    n: int = Field(100, ge=1)
    variants: tuple[str, ...] = Field(default_factory=lambda: tuple(INTENT_KINDS))
    seed: int = 0
    chunk_size: int | None = Field(None, ge=1)  # walks per saved chunk; default by explorer
    explorer: Literal["graph", "llm"] = "graph"
    model: str | None = None
    examples: int = Field(2, ge=0, le=2)
    rewrite_model: str | None = None
    judge_model: str | None = None
    judge_threshold: float = Field(7.0, ge=1, le=10)

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> GenerateConfig:
        if self.explorer == "llm" and not self.model:
            raise ValueError("the llm explorer needs a model (e.g. t2t-explore/graph offline)")
        return self

    @field_validator("variants")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [k for k in kinds if k not in INTENT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"unknown variant kinds {unknown}; choose from {list(INTENT_KINDS)}")
        return tuple(dict.fromkeys(kinds))

    def config_hash(self) -> str:
        fields = self.model_dump(exclude={"n"})  # more tasks = the same walks, resumed
        fields["pipeline"] = PIPELINE_VERSION  # walks saved by other code are not reused
        return hashlib.sha256(canonical_json(fields).encode()).hexdigest()[:16]

    @property
    def chunk(self) -> int:
        """Walks per chunk: small for the LLM explorer, whose walks take seconds each."""
        return self.chunk_size or (4 if self.explorer == "llm" else 16)

    def quotas(self) -> dict[str, int]:
        share, extra = divmod(self.n, len(self.variants))
        return {kind: share + (i < extra) for i, kind in enumerate(self.variants)}


class YieldReport(BaseModel):
    """How many items survived each step, per kind, and why the others were dropped."""

    walks: int = 0
    explored: int = 0
    converted: int = 0
    built: dict[str, int] = Field(default_factory=dict)
    verified: dict[str, int] = Field(default_factory=dict)
    duplicates: dict[str, int] = Field(default_factory=dict)
    kept: dict[str, int] = Field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = Field(default_factory=dict)
    config_hash: str = ""
    db_sha256: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def total_kept(self) -> int:
        return sum(self.kept.values())


def walk_seed(seed: int, index: int | str) -> int:
    """The seed of walk `index`: a hash, so neighbouring walks are unrelated."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# ------------------------------------------------------------------------------ one process

_STATE: dict[str, Any] = {}


def _context(config: GenerateConfig) -> tuple[Environment, ToolGraph, ValuePool]:
    """The environment, tool graph and value pool of a config, built once per process."""
    key = (config.domain, config.db_seed, config.scale)
    if _STATE.get("key") != key:
        domain = load_domain(config.domain)
        db = _make_db(domain, config)
        env = domain.environment(db)
        _STATE.update(key=key, env=env, graph=build_tool_graph(env), pool=ValuePool(db))
    return _STATE["env"], _STATE["graph"], _STATE["pool"]


def _make_db(domain: Domain, config: GenerateConfig) -> dict[str, Any]:
    if domain.generate_db is None:
        if config.db_seed or config.scale:
            raise ConfigError(f"domain {domain.name} has no generator: --db-seed/--scale unusable")
        if domain.default_db is None:
            raise ConfigError(f"domain {domain.name} has neither a generator nor a default DB")
        return domain.default_db()
    return domain.generate_db(seed=config.db_seed, **scale_sizes(domain, config.scale))


def _process_walk(config: GenerateConfig, index: int) -> dict[str, Any]:
    """Walk `index` → its base task and variants, each verified; dropped kinds with reasons."""
    env, graph, pool = _context(config)
    seed = walk_seed(config.seed, index)
    if config.explorer == "llm":
        walk = _explore_with_model(config, env, graph, pool, seed)
    else:
        walk = explore_offline(env, graph, pool, seed=seed)
    row: dict[str, Any] = {
        "config_hash": config.config_hash(),
        "index": index,
        "explored": walk is not None,
        "tasks": {},
        "dropped": {},
    }
    if walk is None:
        row["dropped"] = {kind: "explore: no feasible write" for kind in config.variants}
        return row
    prefix = f"{config.domain}-{config.seed}-{index:06d}"
    base = convert_walk(walk, task_id=f"{prefix}-base", seed=seed)
    if config.explorer == "llm":
        base.provenance.generator = f"llm-explorer:{config.model}+template"
    base.provenance.trajectory_id = prefix
    base.provenance.source = f"{config.domain} db seed {config.db_seed} scale {config.scale}"
    for kind in config.variants:
        rng = random.Random(walk_seed(seed, kind))
        try:
            task = INTENT_KINDS[kind].build(walk, base, rng)
        except Rejected as exc:
            row["dropped"][kind] = f"build: {exc}"
            continue
        check = check_variant(task, env)
        if not check.ok:
            row["dropped"][kind] = f"verify: {check.reason}"
            continue
        try:
            task = _polish(config, task, walk, prefix)
        except Rejected as exc:
            row["dropped"][kind] = f"judge: {exc}"
            continue
        row["tasks"][kind] = task.model_dump(mode="json", exclude_none=True)
    return row


def _polish(config: GenerateConfig, task: Task, walk: Walk, prefix: str) -> Task:
    """The optional LLM steps: reword the scenario, then keep only what the judge rates ≥ 7."""
    if not (config.rewrite_model or config.judge_model):
        return task
    from t2t.tasks.rewrite import judge_task, keep_by_judge, rewrite_task, with_judge_scores

    if config.rewrite_model:
        task = rewrite_task(task, walk.trajectory(prefix), model=config.rewrite_model)
    if config.judge_model:  # a judge that cannot be reached stops the run: it is not a score
        task = with_judge_scores(task, judge_task(task, model=config.judge_model))
        scores = task.provenance.judge_scores or {}
        if not keep_by_judge(scores, config.judge_threshold):
            mean = sum(scores.values()) / max(len(scores), 1)
            raise Rejected(f"mean score {mean:.1f} below {config.judge_threshold:g}")
    return task


def _explore_with_model(
    config: GenerateConfig, env: Environment, graph: ToolGraph, pool: ValuePool, seed: int
) -> Walk | None:
    """The paper's LLM explorer for the user an offline walk with this seed would start from."""
    from t2t.explore.llm_explorer import explore_with_llm
    from t2t.explore.scripted_llm import PROBE_EXPLORER, register_probe_explorer

    assert config.model is not None, "the llm explorer has a model (checked by GenerateConfig)"
    if config.model.startswith(f"{PROBE_EXPLORER}/"):
        register_probe_explorer(env, graph, pool)
    guide = explore_offline(env, graph, pool, seed=seed)
    if guide is None:
        return None
    examples = [
        w.trajectory(f"example-{i}")
        for i in range(1, config.examples + 1)
        if (w := explore_offline(env, graph, pool, seed=seed + i)) is not None
    ]
    trajectory = explore_with_llm(
        env.domain,
        env,
        model=config.model,
        user_id=guide.user_id,
        identity=guide.identity,
        seed=seed,
        examples=examples,
    )
    return walk_from_trajectory(env, graph, pool, trajectory)


def _process_chunk(
    config: GenerateConfig, start: int, kinds: KindShipment | None = None
) -> list[dict[str, Any]]:
    if kinds is not None:  # in a worker: first the kinds registered in the parent at runtime
        install_kinds(kinds)
    return [_process_walk(config, i) for i in range(start, start + config.chunk)]


# ------------------------------------------------------------------------------ the run


def _fingerprint(task: dict[str, Any]) -> str:
    """Two tasks are the same when they ask for the same calls (and their kind's specifics, the
    details it names in `identity_keys`).
    """
    variant = task.get("variant", {})
    details = variant.get("details", {})
    kind = INTENT_KINDS.get(variant.get("kind"))
    same = {
        "kind": variant.get("kind"),
        "actions": [
            (a["name"], a.get("arguments")) for a in task["evaluation_criteria"]["actions"]
        ],
        **{k: details.get(k) for k in (kind.identity_keys if kind else ())},
    }
    return hashlib.sha256(canonical_json(same).encode()).hexdigest()


def _open_run(out: Path, config: GenerateConfig, force: bool) -> Path:
    try:
        return _prepare_run(out, config, force)
    except OSError as exc:
        raise ConfigError(
            f"cannot use {out} as the task set folder: {exc.strerror or exc}"
        ) from None


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One writer per task set folder: a second `t2t generate` on it stops instead of mixing in."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the task set")
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / ".lock", "w")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise ConfigError(
            f"cannot use {out} as the task set folder: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"another t2t generate is writing to {out}; wait for it") from None
    try:
        yield
    finally:
        handle.close()


def _prepare_run(out: Path, config: GenerateConfig, force: bool) -> Path:
    parts = out / "parts"
    manifest_path = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the task set")
    if manifest_path.exists():
        manifest = read_json(manifest_path, what="run manifest")
        if force:
            shutil.rmtree(parts, ignore_errors=True)
        elif manifest.get("config_hash") != config.config_hash():
            mine = config.model_dump(mode="json", exclude={"n"})
            theirs = {k: v for k, v in (manifest.get("config") or {}).items() if k != "n"}
            made = (
                "by an older t2t (the pipeline changed since)"
                if mine == theirs
                else f"with other settings ({manifest.get('config')})"
            )
            raise ConfigError(
                f"{out} holds a task set made {made}; "
                "pass --force to replace it or choose another --out"
            )
    elif out.exists() and any(p.name != ".lock" for p in out.iterdir()) and not force:
        raise ConfigError(f"{out} exists and is not a t2t task set; pass --force or another --out")
    parts.mkdir(parents=True, exist_ok=True)
    write_json(
        manifest_path,
        {"config": config.model_dump(mode="json"), "config_hash": config.config_hash()},
    )
    return parts


def _chunks(parts: Path, config: GenerateConfig, workers: int) -> Iterator[list[dict[str, Any]]]:
    """Chunk results in walk order: from parts/ when done before, else computed (in parallel)."""
    size = config.chunk
    config_hash = config.config_hash()

    def saved(start: int) -> Path:
        return parts / f"chunk-{start:08d}.jsonl"

    def load(start: int) -> list[dict[str, Any]] | None:
        path = saved(start)
        if not path.exists():
            return None
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if line]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # damaged from outside (writes are atomic): compute the chunk again
        fresh = all(row.get("config_hash") == config_hash for row in rows)
        return rows if len(rows) == size and fresh else None

    if workers <= 1:
        start = 0
        while True:
            rows = load(start)
            if rows is None:
                rows = _process_chunk(config, start)
                write_jsonl(saved(start), rows)
            yield rows
            start += size
    kinds = ship_kinds()
    pool = ProcessPoolExecutor(max_workers=workers, initializer=exit_with_parent)
    try:
        pending: dict[int, Future[list[dict[str, Any]]] | None] = {}
        next_start = 0
        start = 0
        while True:
            while len(pending) < 2 * workers:
                if load(next_start) is None:
                    pending[next_start] = pool.submit(_process_chunk, config, next_start, kinds)
                else:
                    pending[next_start] = None
                next_start += size
            future = pending.pop(start)
            if future is None:
                rows = load(start) or []
            else:
                rows = future.result()
                write_jsonl(saved(start), rows)
            yield rows
            start += size
    finally:  # the quota is met: queued chunks are not needed, running ones are abandoned
        pool.shutdown(wait=False, cancel_futures=True)


def generate_tasks(
    config: GenerateConfig,
    out: str | Path,
    *,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> YieldReport:
    """Generate `config.n` verified tasks into folder `out`; resumes a run with the same config."""
    out = Path(out)
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    env, _, _ = _context(config)  # fail fast on a bad domain/scale, before any process starts
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        ship_kinds()  # fail fast on a kind the workers could not import
    with _locked(out):
        return _generate(config, out, env, workers, force, progress)


def _generate(
    config: GenerateConfig, out: Path, env: Environment, workers: int, force: bool, progress: bool
) -> YieldReport:
    parts = _open_run(out, config, force)
    quotas = config.quotas()
    report = YieldReport(config_hash=config.config_hash(), db_sha256=db_sha256(env.to_dict()))
    kept: dict[str, list[dict[str, Any]]] = {kind: [] for kind in config.variants}
    seen: set[str] = set()
    built: Counter[str] = Counter()
    verified: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    dropped: dict[str, Counter[str]] = {kind: Counter() for kind in config.variants}
    limit = config.n * _MAX_WALKS_PER_TASK
    bar = tqdm(total=config.n, desc=f"generate {config.domain}", unit="task", disable=not progress)
    with bar:
        for rows in _chunks(parts, config, workers):
            for row in rows:
                report.walks += 1
                report.explored += row["explored"]
                report.converted += row["explored"]  # the template converter never fails
                for kind in config.variants:
                    task = row["tasks"].get(kind)
                    reason = row["dropped"].get(kind)
                    if reason:
                        built[kind] += not reason.startswith(("build", "explore"))
                        dropped[kind][_reason_class(reason)] += 1
                        continue
                    built[kind] += 1
                    verified[kind] += 1
                    fingerprint = _fingerprint(task)
                    if fingerprint in seen:
                        duplicates[kind] += 1
                        continue
                    seen.add(fingerprint)
                    if len(kept[kind]) < quotas[kind]:
                        kept[kind].append(task)
                        bar.update(1)
            if all(len(kept[k]) >= quotas[k] for k in config.variants) or report.walks >= limit:
                break
    report.built, report.verified, report.duplicates = dict(built), dict(verified), dict(duplicates)
    report.kept = {kind: len(tasks) for kind, tasks in kept.items()}
    report.dropped = {kind: dict(counter.most_common()) for kind, counter in dropped.items()}
    _write_outputs(out, config, env, kept, report)
    return report


def _reason_class(reason: str) -> str:
    """Group reasons that differ only in ids, so the report stays short."""
    return reason.split(" (")[0].split(": call ")[0][:120]


def _write_outputs(
    out: Path,
    config: GenerateConfig,
    env: Environment,
    kept: dict[str, list[dict[str, Any]]],
    report: YieldReport,
) -> None:
    tasks = [task for kind in config.variants for task in kept[kind]]
    tasks.sort(key=lambda t: t["id"])
    write_jsonl(out / "tasks.jsonl", tasks)
    write_tau2_tasks([Task.model_validate(t) for t in tasks], out / "tau2" / "tasks.json")
    write_json(out / "db.json", env.to_dict(), indent=None)
    write_json(out / "yield.json", report.model_dump(mode="json"))
    if report.total_kept < config.n:
        logger.warning(
            "kept %d of %d tasks after %d walks: the explorer finds few verifiable tasks here",
            report.total_kept,
            config.n,
            report.walks,
        )
