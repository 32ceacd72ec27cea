"""The rollout engine: resume without loss or duplicates, malformed calls, infra errors, cache,
secrets."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import t2t
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import episode_key, read_episodes, repair_tail
from t2t.benchmark.runner import run_rollouts
from t2t.core.schema import Message, ToolCall
from t2t.llm import register_provider, unregister_provider
from t2t.tasks.task_set import open_task_set

SECRET = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tasks")
    t2t.generate_tasks(t2t.GenerateConfig(domain="retail", n=16), folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def task_set(task_dir):
    return open_task_set(task_dir / "tasks.jsonl")


@pytest.fixture
def provider():
    """Register a scripted offline model under `test-model/…`; counts the calls it gets."""
    calls = []

    def install(handler):
        def counted(request):
            calls.append(request)
            return handler(request, len(calls))

        register_provider("test-model", counted)
        return calls

    yield install
    unregister_provider("test-model")


def _keys(path):
    return Counter(episode_key(e) for e in read_episodes(path, latest=False))


def test_trials_are_keys_and_a_rerun_adds_nothing(task_set, tmp_path):
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="t2t/oracle", trials=2, concurrency=8)
    first = run_rollouts(tasks, env, config, out, progress=False)
    assert (first.ran, first.skipped) == (2 * len(tasks), 0)
    before = out.read_bytes()
    again = run_rollouts(tasks, env, config, out, progress=False)
    assert (again.ran, again.skipped) == (0, 2 * len(tasks))
    assert out.read_bytes() == before
    more = run_rollouts(tasks, env, config.model_copy(update={"trials": 3}), out, progress=False)
    assert (more.ran, more.skipped) == (len(tasks), 2 * len(tasks))
    keys = _keys(out)
    assert len(keys) == 3 * len(tasks) and set(keys.values()) == {1}


def test_a_cut_last_line_is_dropped_and_rerun(task_set, tmp_path):
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="t2t/oracle", concurrency=4)
    run_rollouts(tasks[:6], env, config, out, progress=False)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) - 40])  # killed in the middle of the last line
    assert len(read_episodes(out)) == 5
    stats = run_rollouts(tasks[:6], env, config, out, progress=False)
    assert stats.ran == 1
    keys = _keys(out)
    assert len(keys) == 6 and set(keys.values()) == {1}
    assert repair_tail(out) == 0  # the file ends on a whole line again


def test_a_corrupt_line_in_the_middle_is_an_error_naming_it(task_set, tmp_path):
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    run_rollouts(tasks[:3], env, RunConfig(agent="t2t/oracle"), out, progress=False)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    with pytest.raises(t2t.DataError, match="line 2"):
        read_episodes(out)


def test_kill_9_then_resume_loses_and_duplicates_nothing(task_dir, tmp_path):
    out = tmp_path / "run.jsonl"
    command = [
        sys.executable,
        "-m",
        "t2t.cli",
        "run",
        "--tasks",
        str(task_dir / "tasks.jsonl"),
        "--agent",
        "t2t/sim-latency",
        "--trials",
        "2",
        "--concurrency",
        "4",
        "--limit",
        "8",
        "--out",
        str(out),
        "-q",
    ]
    env = {**os.environ, "T2T_SIM_LATENCY_S": "0.05"}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 4):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = out.read_bytes().count(b"\n")
    assert 4 <= written < 16, "the kill came too late to test a resume"
    subprocess.run(command, env=env, check=True)
    keys = _keys(out)
    assert len(keys) == 16
    assert set(keys.values()) == {1}


def test_malformed_tool_calls_are_tool_errors_and_the_episode_goes_on(task_set, tmp_path, provider):
    tasks, env = task_set
    bad = [
        ToolCall(name="get_user_details", arguments={"__raw__": '{"user_id": '}, id="c1"),
        ToolCall(name="no_such_tool", arguments={}, id="c2"),
        ToolCall(name="get_order_details", arguments={"order_id": 12}, id="c3"),
    ]

    def handler(request, count):
        if count <= len(bad):
            return Message(role="assistant", tool_calls=[bad[count - 1]])
        return "I could not help. Is there anything else I can help you with?"

    calls = provider(handler)
    out = tmp_path / "run.jsonl"
    run_rollouts(tasks[:1], env, RunConfig(agent="test-model/x"), out, progress=False)
    (episode,) = read_episodes(out)
    tool_messages = [m for m in episode.messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["c1", "c2", "c3"]
    assert all(m.content.startswith("Error:") for m in tool_messages)
    assert "not a JSON object" in tool_messages[0].content
    assert "not found" in tool_messages[1].content
    assert episode.termination_reason == "user_stop"
    assert len(calls) == 4  # the agent was asked again after each failed call
    assert episode.reward is not None and episode.reward.details["failed_calls"] == 3


def test_a_tool_error_loop_ends_as_an_agent_error(task_set, tmp_path, provider):
    tasks, env = task_set
    provider(lambda request, count: Message(role="assistant", tool_calls=[ToolCall(name="nope")]))
    out = tmp_path / "run.jsonl"
    run_rollouts(tasks[:1], env, RunConfig(agent="test-model/x"), out, progress=False)
    (episode,) = read_episodes(out)
    assert episode.termination_reason == "agent_error"
    assert "in a row" in episode.error


def test_step_limit_and_empty_replies_end_the_episode(task_set, tmp_path, provider):
    tasks, env = task_set
    provider(lambda request, count: "Could you tell me more?" if count < 100 else "")
    out = tmp_path / "run.jsonl"
    run_rollouts(tasks[:1], env, RunConfig(agent="test-model/x", max_steps=3), out, progress=False)
    (episode,) = read_episodes(out)
    assert episode.termination_reason == "max_steps"
    assert sum(m.role == "assistant" for m in episode.messages) == 1 + 3  # greeting + 3 turns


def test_infra_errors_are_recorded_unscored_and_retried_on_request(task_set, tmp_path, provider):
    tasks, env = task_set
    failing = {"on": True}

    def handler(request, count):
        if failing["on"]:
            raise ValueError("backend exploded")
        return "Is there anything else I can help you with?"

    provider(handler)
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="test-model/x", agent_params={"max_retries": 0})
    stats = run_rollouts(tasks[:2], env, config, out, progress=False)
    assert stats.infra_errors == 2
    episodes = read_episodes(out)
    assert all(e.termination_reason == "infra_error" and e.reward is None for e in episodes)
    assert all("exploded" in e.error for e in episodes)
    summary = t2t.summarize(episodes)
    assert summary["infra_errors"].max() == 2
    failing["on"] = False
    assert run_rollouts(tasks[:2], env, config, out, progress=False).ran == 0  # kept as is
    retried = run_rollouts(tasks[:2], env, config, out, progress=False, retry_errors=True)
    assert retried.ran == 2 and retried.infra_errors == 0
    latest = read_episodes(out)
    assert len(latest) == 2 and all(e.termination_reason == "user_stop" for e in latest)


def test_a_cached_rerun_makes_no_provider_call_and_no_secret_is_written(
    task_set, tmp_path, provider
):
    tasks, env = task_set
    calls = provider(lambda request, count: "Is there anything else I can help you with?")
    cache = tmp_path / "cache"
    config = RunConfig(
        agent="test-model/x",
        trials=2,
        cache_dir=str(cache),
        agent_params={"api_key": SECRET, "temperature": 0},
    )
    run_rollouts(tasks[:3], env, config, tmp_path / "first.jsonl", progress=False)
    assert len(calls) == 6  # the trial is part of the key: trials get their own replies
    run_rollouts(tasks[:3], env, config, tmp_path / "second.jsonl", progress=False)
    assert len(calls) == 6
    firsts = {e.task_id: e.messages for e in read_episodes(tmp_path / "first.jsonl")}
    assert all(e.messages == firsts[e.task_id] for e in read_episodes(tmp_path / "second.jsonl"))
    for path in [tmp_path / "first.jsonl", tmp_path / "second.jsonl", *cache.rglob("*")]:
        if Path(path).is_file():
            assert SECRET.encode() not in Path(path).read_bytes(), path


def test_tasks_of_another_domain_are_refused(task_set, tmp_path):
    tasks, _ = task_set
    airline = t2t.load_domain("airline")
    env = airline.environment(airline.default_db())
    with pytest.raises(
        t2t.ConfigError, match="tasks are for retail but the environment is airline"
    ):
        run_rollouts(tasks, env, RunConfig(agent="t2t/oracle"), tmp_path / "x.jsonl")


def test_tool_calls_without_ids_get_one_for_their_answers(task_set, tmp_path, provider):
    tasks, env = task_set

    def handler(request, count):
        if count == 1:
            return Message(role="assistant", tool_calls=[ToolCall(name="list_all_product_types")])
        sent = request.messages[-2:]
        assert sent[0].tool_calls[0].id and sent[1].tool_call_id == sent[0].tool_calls[0].id
        return "Is there anything else I can help you with?"

    calls = provider(handler)
    run_rollouts(tasks[:1], env, RunConfig(agent="test-model/x"), tmp_path / "r.jsonl")
    (episode,) = read_episodes(tmp_path / "r.jsonl")
    assert len(calls) == 2 and episode.termination_reason == "user_stop"
    (call,) = episode.tool_calls
    assert [m.tool_call_id for m in episode.messages if m.role == "tool"] == [call.id]
