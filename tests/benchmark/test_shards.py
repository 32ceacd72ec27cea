"""Sharded rollouts: worker processes (and Ray) write the episodes one process would, one line per
(task, trial), and resume a cut file like one process does."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import t2t
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import episode_key, read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.shards import _apply_settings, _split
from t2t.core.errors import ConfigError
from t2t.tasks.task_set import open_task_set

TRIALS = 2
CONFIG = RunConfig(agent="t2t/oracle", trials=TRIALS, concurrency=4)


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tasks")
    t2t.generate_tasks(t2t.GenerateConfig(domain="retail", n=8), folder, workers=1, progress=False)
    return folder / "tasks.jsonl"


@pytest.fixture(scope="module")
def task_set(tasks_file):
    return open_task_set(tasks_file)


@pytest.fixture(scope="module")
def one_process(task_set, tmp_path_factory):
    """The reference: the same run in this process."""
    tasks, env = task_set
    out = tmp_path_factory.mktemp("one") / "episodes.jsonl"
    run_rollouts(tasks, env, CONFIG, out, progress=False)
    return out


def _keys(path):
    return Counter(episode_key(e) for e in read_episodes(path, latest=False))


def _rewards(path):
    return {(e.task_id, e.trial): e.reward.value for e in read_episodes(path)}


def _assert_one_line_per_key(path, tasks):
    keys = _keys(path)
    assert set(keys.values()) == {1}
    assert sorted((k[0], k[4]) for k in keys) == sorted(
        (task.id, trial) for task in tasks for trial in range(TRIALS)
    )


def test_two_workers_write_one_episode_per_key_with_the_same_rewards(
    task_set, one_process, tmp_path
):
    tasks, env = task_set
    out = tmp_path / "episodes.jsonl"
    stats = run_rollouts(tasks, env, CONFIG, out, progress=False, workers=2)
    assert (stats.planned, stats.skipped, stats.ran) == (
        len(tasks) * TRIALS,
        0,
        len(tasks) * TRIALS,
    )
    _assert_one_line_per_key(out, tasks)
    rewards = _rewards(out)
    assert set(rewards.values()) == {1.0}
    assert rewards == _rewards(one_process)
    assert run_rollouts(tasks, env, CONFIG, out, progress=False, workers=2).ran == 0


def test_a_resumed_sharded_run_adds_only_the_missing_keys(task_set, one_process, tmp_path):
    tasks, env = task_set
    lines = one_process.read_bytes().splitlines(keepends=True)
    kept = len(lines) // 2
    out = tmp_path / "episodes.jsonl"
    out.write_bytes(b"".join(lines[:kept]) + lines[kept][: len(lines[kept]) // 2])  # killed
    stats = run_rollouts(tasks, env, CONFIG, out, progress=False, workers=2)
    assert (stats.skipped, stats.ran) == (kept, len(lines) - kept)
    assert out.read_bytes().startswith(b"".join(lines[:kept]))  # what was there stays as it was
    for line in out.read_text(encoding="utf-8").splitlines():
        json.loads(line)  # the cut line was dropped, not glued to the next one
    _assert_one_line_per_key(out, tasks)
    assert _rewards(out) == _rewards(one_process)


KILLABLE = RunConfig(agent="t2t/sim-latency", trials=TRIALS, concurrency=4)
RUN_IN_A_CHILD = """
import sys
from t2t.benchmark.config import RunConfig
from t2t.benchmark.runner import run_rollouts
from t2t.tasks.task_set import open_task_set
tasks, env = open_task_set(sys.argv[1])
config = RunConfig.model_validate_json(sys.argv[2])
run_rollouts(tasks, env, config, sys.argv[3], progress=False, workers=2)
"""


@pytest.mark.slow
def test_kill_9_of_the_run_alone_stops_its_workers_and_resume_duplicates_nothing(
    tasks_file, task_set, tmp_path, monkeypatch
):
    monkeypatch.setenv("T2T_SIM_LATENCY_S", "0.1")
    out = tmp_path / "run.jsonl"
    argv = [sys.executable, "-c", RUN_IN_A_CHILD, tasks_file, KILLABLE.model_dump_json(), out]
    process = subprocess.Popen([str(arg) for arg in argv], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            not out.exists() or out.read_bytes().count(b"\n") < 4
        ):
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)  # the run's process only: its workers must follow
        process.wait()
        assert 4 <= out.read_bytes().count(b"\n") < 16, "the kill came too late to test a resume"
        tasks, env = task_set
        stats = run_rollouts(tasks, env, KILLABLE, out, progress=False, workers=2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever outlived it, should the test fail
    assert stats.skipped + stats.ran == 16
    keys = _keys(out)
    assert len(keys) == 16
    assert set(keys.values()) == {1}  # no orphaned worker appended what the resume ran


def test_the_concurrency_is_shared_out_not_multiplied():
    shards = _split(pending=10, workers=4, concurrency=6)
    assert [s.concurrency for s in shards] == [2, 2, 1, 1]
    assert sorted(i for s in shards for i, _ in s.keys) == list(range(10))
    assert len(_split(pending=10, workers=4, concurrency=1)) == 1  # one slot: one process
    assert len(_split(pending=3, workers=4, concurrency=32)) == 3  # no idle worker


def test_a_worker_takes_the_runs_settings(monkeypatch):
    for key, value in list(os.environ.items()):
        if key.startswith("T2T_"):
            monkeypatch.setenv(key, value)  # restored after the test, like those set below
    monkeypatch.setenv("T2T_SIM_LATENCY_S", "5")
    monkeypatch.setenv("T2T_CACHE_DIR", "/tmp/old-run")
    _apply_settings({"T2T_SIM_LATENCY_S": "0.01"})
    assert os.environ["T2T_SIM_LATENCY_S"] == "0.01"
    assert "T2T_CACHE_DIR" not in os.environ  # left over from a run the worker served before


def test_an_unknown_backend_is_a_config_error(task_set, tmp_path):
    tasks, env = task_set
    with pytest.raises(ConfigError, match="backend"):
        run_rollouts(tasks, env, CONFIG, tmp_path / "x.jsonl", workers=2, backend="dask")


def test_ray_on_a_two_node_cluster_writes_the_same_episodes_from_the_driver_alone(
    task_set, one_process, tmp_path, monkeypatch
):
    """Two Ray nodes (one CPU each) as a real cluster is: the workers get no results path, they
    send each episode back and the driver appends it, one line per (task, trial) as one process."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    tasks, env = task_set
    out = tmp_path / "episodes.jsonl"
    cluster = None
    for attempt in range(3):  # a loaded CI machine can miss Ray's fixed 30 s raylet start
        try:
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
            cluster.add_node(num_cpus=1)
            ray.init(address=cluster.address, log_to_driver=False, include_dashboard=False)
            break
        except Exception:
            ray.shutdown()
            if cluster is not None:
                cluster.shutdown()
            if attempt == 2:
                raise
    shipped = []
    put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: shipped.append(value) or put(value, **kw))
    try:
        assert len(ray.nodes()) == 2
        stats = run_rollouts(tasks, env, CONFIG, out, progress=False, workers=2, backend="ray")
    finally:
        ray.shutdown()
        cluster.shutdown()
    jobs = [value for value in shipped if hasattr(value, "out") and hasattr(value, "config")]
    assert jobs and all(job.out is None for job in jobs)  # no worker is told where the file is
    assert stats.ran == len(tasks) * TRIALS
    _assert_one_line_per_key(out, tasks)
    assert _rewards(out) == _rewards(one_process)


def test_a_ray_shard_sends_its_episodes_in_batches_and_waits_for_them_at_the_end(monkeypatch):
    """One blocking put per episode kept Ray workers waiting on the queue's actor."""
    import types

    from t2t.benchmark import shards
    from t2t.core.schema import Episode

    sent, awaited = [], []

    class Actor:
        class put_nowait_batch:  # noqa: N801  # as a Ray actor method is called
            @staticmethod
            def remote(lines):
                sent.append(list(lines))
                return f"ref-{len(sent)}"

    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(get=awaited.extend))
    episode = Episode(
        task_id="t1", agent_model="t2t/oracle", user_model="scripted", termination_reason="done"
    )
    sender = shards._Sender(types.SimpleNamespace(actor=Actor), period_s=3600)
    for _ in range(3):
        sender.add(episode)
    assert sent == []  # nothing sent, nothing waited on, within the period
    sender.close()
    assert [len(batch) for batch in sent] == [3] and awaited == ["ref-1"]
    assert Episode.model_validate_json(sent[0][0]) == episode

    sent.clear(), awaited.clear()
    sender = shards._Sender(types.SimpleNamespace(actor=Actor), period_s=0)
    sender.add(episode), sender.add(episode)
    assert len(sent) == 2 and awaited == []  # a batch per period, without waiting
    sender.close()
    assert awaited == ["ref-1", "ref-2"]
