"""Scale-out for the rollout engine: the pending episodes split over processes or Ray workers.

One event loop is CPU-bound near 400 model calls a second on a 2-core VM (litellm's own overhead
is most of it), so fast models or high concurrency need more than one process. Each shard runs
the ordinary async engine on its share of the episodes, with its share of the concurrency. Local
shards append to the results file themselves (whole lines under a lock); Ray shards may run on
machines that do not see it, so they send finished episodes back through a Ray queue, a batch at
a time, and the driver alone appends them. Resume, reports and the file format are the same
whatever the backend.

Workers start clean: local ones come from a fork server (or are spawned), never forked from a
process that already runs threads (t2t's model loop, litellm's executor, a progress bar), and they
are kept for the next run of this process (importing litellm takes seconds). Each run ships its
`T2T_*` settings along with the work, so a worker sees the settings of the run, not those of the
moment it started. Ray workers get the DB and the tasks through the object store, once per run.
As with any spawned worker, a script that shards must start its run under
`if __name__ == "__main__":` (notebooks and the CLI need nothing).

Workers exit as soon as the process that runs the pool is gone, kill -9 included, so none goes on
appending behind a resumed run's back.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from t2t.benchmark.batch import check_run, pending_keys, prepare, run_pending
from t2t.benchmark.config import RunConfig, RunStats
from t2t.benchmark.results import append_lines, open_results
from t2t.core.environment import Domain, Environment
from t2t.core.errors import ConfigError, MissingDependencyError
from t2t.core.processes import exit_with
from t2t.core.schema import Episode, Task
from t2t.domain.loader import load_domain
from t2t.intents.workers import KindShipment, install_kinds, ship_kinds
from t2t.llm import preload, run_sync

__all__ = ["run_sharded"]

logger = logging.getLogger(__name__)

_SETTINGS_PREFIX = "T2T_"  # the environment overrides a run is made with (t2t.core.settings)


@dataclass(frozen=True)
class _Job:
    """What all shards of one run share."""

    config: RunConfig
    # absolute: local workers do not share the caller's working directory; None for Ray, whose
    # workers may run on machines without the driver's disk: they send episodes back instead
    out: str | None
    domain: str | Domain  # a folder or built-in name to load, or the domain itself if built in code
    settings: dict[str, str]
    caller: tuple[str, int]  # (host, pid) of the process running the run: workers die with it
    kinds: KindShipment  # the kinds registered at runtime: workers know only the built-in ones


@dataclass(frozen=True)
class _Shard:
    """One worker's share: (index into the shipped tasks, trial) pairs and its concurrency."""

    keys: list[tuple[int, int]]
    concurrency: int


def run_sharded(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    workers: int,
    backend: Literal["local", "ray"] = "local",
    progress: bool = True,
    retry_errors: bool = False,
) -> RunStats:
    """Run the pending episodes on `workers` processes (local) or Ray tasks; one results file.

    The concurrency is split over the shards, so `config.concurrency` stays the limit of the run.
    """
    if backend not in ("local", "ray"):
        raise ConfigError(f"unknown backend {backend!r}: choose local or ray")
    check_run(tasks, env, config)
    kinds = ship_kinds()  # before any file is opened: a kind workers cannot import is an error
    started = time.perf_counter()
    results: list[RunStats] = []
    with open_results(Path(out).resolve()) as out:  # the run's lock: the workers only append
        todo, skipped = pending_keys(tasks, env, config, out, retry_errors=retry_errors)
        if todo:
            job = _Job(
                config,
                None if backend == "ray" else str(out),
                _domain_ref(env.domain),
                _settings(),
                (socket.gethostname(), os.getpid()),
                kinds,
            )
            shards = _split(len(todo), max(1, workers), config.concurrency)
            with _Progress(out, len(todo), progress):
                if backend == "ray":
                    results = _run_on_ray(job, env.to_dict(), todo, shards, out)
                else:
                    results = _run_on_processes(job, env.to_dict(), todo, shards)
    return RunStats(
        out=str(out),
        planned=len(todo) + skipped,
        skipped=skipped,
        ran=sum(r.ran for r in results),
        infra_errors=sum(r.infra_errors for r in results),
        cost_usd=round(sum(r.cost_usd for r in results), 6),
        duration_s=round(time.perf_counter() - started, 3),
    )


def _split(pending: int, workers: int, concurrency: int) -> list[_Shard]:
    """Round-robin shares of the pending pairs; the concurrency split so its sum stays the same."""
    count = min(workers, concurrency, pending)
    return [
        _Shard(
            keys=[(i, 0) for i in range(index, pending, count)],  # positions in `todo` for now
            concurrency=concurrency // count + (index < concurrency % count),
        )
        for index in range(count)
    ]


def _domain_ref(domain: Domain) -> str | Domain:
    """How a worker finds the domain: its folder, else the object (a domain built in code)."""
    return str(Path(domain.folder).resolve()) if domain.folder else domain


def _settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_SETTINGS_PREFIX)}


def _apply_settings(settings: dict[str, str]) -> None:
    """Make this worker's `T2T_*` environment the run's (a kept worker may have served another)."""
    for key in [k for k in os.environ if k.startswith(_SETTINGS_PREFIX)]:
        if key not in settings:
            del os.environ[key]
    os.environ.update(settings)


def _run_shard(
    job: _Job, db: dict[str, Any], tasks: list[Task], shard: _Shard, episodes: Any = None
) -> RunStats:
    """In a worker: rebuild the environment, register the probes, run this shard's episodes
    (appended to the results file, or put into the driver's `episodes` queue: Ray).
    """
    install_kinds(job.kinds)  # first: the tasks, probes and scorer look their kinds up
    if job.caller[0] == socket.gethostname():  # a Ray worker on a remote node cannot watch it
        exit_with(job.caller[1])
    _apply_settings(job.settings)
    domain = job.domain if isinstance(job.domain, Domain) else load_domain(job.domain)
    env = domain.environment(db)
    todo = [(tasks[index], trial) for index, trial in shard.keys]
    config = job.config.model_copy(update={"concurrency": shard.concurrency})
    prepare(list({task.id: task for task, _ in todo}.values()), env, config)
    if job.out is not None:
        return run_sync(run_pending(todo, env, config, Path(job.out), progress=False))
    sender = _Sender(episodes)
    try:
        return run_sync(run_pending(todo, env, config, Path("."), progress=False, sink=sender.add))
    finally:
        sender.close()  # what finished before an error is sent too


class _Sender:
    """A Ray shard's finished episodes, sent to the driver's queue a batch at a time.

    One blocking put per episode kept each worker waiting on the queue's actor (16% idle) and the
    actor busy; a batch every `period_s` is sent without waiting, and `close` waits until every
    batch has landed, so the driver's last look after the shards end sees them all.
    """

    def __init__(self, queue: Any, period_s: float = 0.2) -> None:
        self.queue, self.period_s = queue, period_s
        self.lines: list[str] = []
        self.sent: list[Any] = []
        self.last = time.monotonic()

    def add(self, episode: Episode) -> None:
        self.lines.append(episode.model_dump_json(exclude_none=True))
        if time.monotonic() - self.last >= self.period_s:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.sent.append(self.queue.actor.put_nowait_batch.remote(self.lines))
            self.lines = []
        self.last = time.monotonic()

    def close(self) -> None:
        import ray

        self.flush()
        ray.get(self.sent)


# ---------------------------------------------------------------------------------- processes

_POOL: tuple[int, int, ProcessPoolExecutor] | None = None  # (pid, size, pool): kept between runs
_POOL_LOCK = threading.Lock()


def _run_on_processes(
    job: _Job, db: dict[str, Any], todo: list[tuple[Task, int]], shards: list[_Shard]
) -> list[RunStats]:
    pool = _pool(len(shards))
    futures = []
    for shard in shards:
        # each process gets only its own tasks (pickled once per shard, shared by their trials)
        own = list({todo[i][0].id: todo[i][0] for i, _ in shard.keys}.values())
        where = {task.id: index for index, task in enumerate(own)}
        keys = [(where[todo[i][0].id], todo[i][1]) for i, _ in shard.keys]
        futures.append(pool.submit(_run_shard, job, db, own, _Shard(keys, shard.concurrency)))
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            raise failed[0].exception()  # type: ignore[misc]
        return [future.result() for future in futures]
    except BaseException:
        _discard_pool(pool)  # an error or Ctrl-C: no shard may go on appending behind our back
        raise


def _pool(size: int) -> ProcessPoolExecutor:
    """This process's worker pool of at least `size` processes, started once and kept."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and (
            _POOL[0] != os.getpid() or _POOL[1] < size or getattr(_POOL[2], "_broken", False)
        ):
            if _POOL[0] == os.getpid():
                _POOL[2].shutdown(wait=False, cancel_futures=True)
            _POOL = None
        if _POOL is None:
            pool = ProcessPoolExecutor(
                max_workers=size,
                mp_context=_start_context(),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            _POOL = (os.getpid(), size, pool)
        return _POOL[2]


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's processes now (they may be mid-run) and forget the pool."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL[2] is pool:
            _POOL = None
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _start_context() -> Any:
    """A fork server (preloaded with the engine) where there is one, else spawn; never fork."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "t2t.benchmark.shards"])
    return context


def _start_worker(run_pid: int) -> None:
    """In a new worker: die with the process that runs the pool; import litellm now, not mid-run."""
    exit_with(run_pid)
    preload()


# ----------------------------------------------------------------------------------------- ray


def _run_on_ray(
    job: _Job, db: dict[str, Any], todo: list[tuple[Task, int]], shards: list[_Shard], out: Path
) -> list[RunStats]:
    """Shards on Ray workers, which send each finished episode back through a queue; this
    process alone appends them to `out`, as they come (a cluster needs no shared disk).
    """
    ray = _ray()
    from ray.util.queue import Queue

    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < len(shards):  # each shard holds a CPU: the others wait for one to finish
        logger.warning("%d Ray workers asked for, %g CPUs in the cluster", len(shards), cpus)
    tasks = list({task.id: task for task, _ in todo}.values())
    where = {task.id: index for index, task in enumerate(tasks)}
    refs = [ray.put(job), ray.put(db), ray.put(tasks)]  # once per run, shared by all shards
    episodes = Queue(actor_options={"num_cpus": 0})
    remote = _remote_shard(ray)
    pending = []
    for shard in shards:
        keys = [(where[todo[i][0].id], todo[i][1]) for i, _ in shard.keys]
        pending.append(remote.remote(*refs, _Shard(keys, shard.concurrency), episodes))
    try:
        running = list(pending)
        while running:  # the last pass runs once every shard ended: their puts have landed
            _, running = ray.wait(running, num_returns=len(running), timeout=0.2)
            _append_received(episodes, out)
        stats: list[RunStats] = ray.get(pending)
        return stats
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        _append_received(episodes, out)  # what finished before an error is kept
        episodes.shutdown()


def _append_received(episodes: Any, out: Path) -> None:
    waiting = episodes.qsize()
    if waiting:
        lines = episodes.get_nowait_batch(waiting)
        for line in lines:  # a worker with another t2t version must not write a bad line
            Episode.model_validate_json(line)
        append_lines(out, lines)


def _ray() -> Any:
    """Ray, started as a quiet local instance unless already running (or RAY_ADDRESS names one)."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray (the Ray backend)", extra="ray") from None
    if not ray.is_initialized():
        ray.init(
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    return ray


_REMOTE: Any = None


def _remote_shard(ray: Any) -> Any:
    """`_run_shard` as a Ray task; a shard is not retried (it would repeat appended episodes)."""
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(num_cpus=1, max_retries=0)(_run_shard)
    return _REMOTE


# ------------------------------------------------------------------------------------ progress


class _Progress:
    """A bar over the lines the shards append to the results file (polled by a thread)."""

    def __init__(self, out: Path, total: int, enabled: bool) -> None:
        self.out, self.total, self.enabled = out, total, enabled and total > 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter = _LineCounter(out)

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._counter.count()  # lines already there are not this run's
            self._counter.lines = 0
            self._thread = threading.Thread(target=self._poll, name="t2t-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self) -> None:
        from tqdm.auto import tqdm

        with tqdm(total=self.total, desc="episodes", unit="ep", smoothing=0.05) as bar:
            while True:
                stopping = self._stop.wait(0.5)
                bar.n = min(self.total, self._counter.count())
                bar.refresh()
                if stopping:
                    return


class _LineCounter:
    """Lines appended to a file so far, reading only what was added since the last look."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    self.lines += chunk.count(b"\n")
                    self.offset += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines
