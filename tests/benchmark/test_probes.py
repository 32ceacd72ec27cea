"""Probe agents validate the variants empirically: the oracle solves every kept task, and each
flawed probe fails the kind it targets (and only that kind), on every built-in domain."""

from collections import Counter, defaultdict

import pytest

import t2t
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.wording import ASK_PREFIX, IDENTITY_SUFFIX
from t2t.intents.ambiguous import CLARIFY_TEXT
from t2t.tasks.task_set import open_task_set

DOMAINS = ("retail", "airline", "banking")
TARGET = {"eager": "ambiguous", "stubborn": "changing", "reckless": "infeasible"}


@pytest.fixture(scope="module", params=DOMAINS)
def task_set(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"tasks-{request.param}")
    t2t.generate_tasks(t2t.GenerateConfig(domain=request.param, n=32), folder, progress=False)
    return open_task_set(folder / "tasks.jsonl")


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retail16")
    t2t.generate_tasks(t2t.GenerateConfig(domain="retail", n=16), folder, progress=False)
    return open_task_set(folder / "tasks.jsonl")


def _rewards(tasks, env, agent, out):
    run_rollouts(tasks, env, RunConfig(agent=agent, concurrency=16), out, progress=False)
    episodes = read_episodes(out)
    assert Counter(e.task_id for e in episodes) == Counter(t.id for t in tasks)
    by_kind = defaultdict(list)
    for episode in episodes:
        by_kind[episode.variant].append(episode)
    return by_kind


def test_oracle_solves_every_task(task_set, tmp_path):
    tasks, env = task_set
    by_kind = _rewards(tasks, env, "t2t/oracle", tmp_path / "oracle.jsonl")
    assert set(by_kind) == {"base", "ambiguous", "changing", "infeasible"}
    failed = [
        (e.task_id, e.termination_reason, e.reward.details)
        for episodes in by_kind.values()
        for e in episodes
        if e.reward is None or e.reward.value != 1.0
    ]
    assert failed == []
    assert all(e.termination_reason == "user_stop" for es in by_kind.values() for e in es)


@pytest.mark.parametrize("probe", sorted(TARGET))
def test_flawed_probe_fails_its_kind_only(task_set, tmp_path, probe):
    tasks, env = task_set
    by_kind = _rewards(tasks, env, f"t2t/{probe}", tmp_path / f"{probe}.jsonl")
    target = by_kind[TARGET[probe]]
    failures = sum(e.reward.value == 0.0 for e in target)
    assert target and failures >= 0.95 * len(target)
    for kind, episodes in by_kind.items():
        if kind != TARGET[probe]:
            assert all(e.reward.value == 1.0 for e in episodes), kind
    if probe == "eager":  # it never asks which one, nor for the values of its guess
        said = [m.content for es in by_kind.values() for e in es for m in e.messages]
        questions = [t for t in said if t and t.startswith(ASK_PREFIX)]
        assert all(q.endswith(IDENTITY_SUFFIX) for q in questions)
        assert CLARIFY_TEXT not in said
    if probe != "reckless":  # the forbidden call may carry a value only the task knows
        ungrounded = [
            e.task_id for es in by_kind.values() for e in es if not e.reward.details["grounded"]
        ]
        assert ungrounded == []


def test_flaws_are_caught_by_the_component_meant_for_them(retail, tmp_path):
    tasks, env = retail
    eager = _rewards(tasks, env, "t2t/eager", tmp_path / "eager.jsonl")["ambiguous"]
    assert all(e.reward.clarified_ok is False for e in eager)
    assert all(e.reward.state_ok is False for e in eager)  # the guess was wrong, too
    reckless = _rewards(tasks, env, "t2t/reckless", tmp_path / "reckless.jsonl")["infeasible"]
    assert all(e.reward.forbidden_ok is False for e in reckless)
    stubborn = _rewards(tasks, env, "t2t/stubborn", tmp_path / "stubborn.jsonl")["changing"]
    assert all(e.reward.state_ok is False for e in stubborn)


def test_random_probe_makes_schema_valid_calls_and_rarely_succeeds(retail, tmp_path):
    tasks, env = retail
    by_kind = _rewards(tasks, env, "t2t/random", tmp_path / "random.jsonl")
    episodes = [e for es in by_kind.values() for e in es]
    calls = [call for e in episodes for call in e.tool_calls]
    assert calls and all(call.name in env.domain.tools for call in calls)
    assert sum(e.reward.value for e in episodes) <= 0.25 * len(episodes)


@pytest.mark.parametrize("model", ["t2t/nosuch", "t2t/sim-latency/nosuch"])
def test_unknown_probe_is_refused_before_any_episode(retail, tmp_path, model):
    tasks, env = retail
    out = tmp_path / "bad.jsonl"
    with pytest.raises(t2t.ConfigError, match="oracle"):
        run_rollouts(tasks[:2], env, RunConfig(agent=model), out, progress=False)
    assert not out.exists()


@pytest.mark.parametrize("model", ["t2t/sim-latency", "t2t/sim-latency/oracle"])
def test_sim_latency_waits_with_a_probe_named_too(monkeypatch, model):
    """Each reply waits 0.5-1.5x T2T_SIM_LATENCY_S, the probe named or not (the wait itself is
    recorded, not timed)."""
    from t2t.benchmark import probes
    from t2t.core.schema import Message
    from t2t.llm.client import complete_sync

    waits = []

    async def record(seconds):
        waits.append(seconds)

    monkeypatch.setenv("T2T_SIM_LATENCY_S", "0.2")
    monkeypatch.setattr(probes.asyncio, "sleep", record)
    probes.register_probes()
    complete_sync(model, [Message(role="user", content="hi")])
    assert len(waits) == 1 and 0.1 <= waits[0] <= 0.3
