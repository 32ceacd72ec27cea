"""The offline explorer: seeded walks that authenticate, read before they write and keep only
successful, policy-abiding calls; and `walk_from_trajectory`, which rebuilds a walk by replay."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t2t
from t2t.core.replay import replay_calls
from t2t.core.schema import ToolCall, ToolResult, Trajectory
from t2t.explore import build_tool_graph, explore_offline, walk_from_trajectory
from t2t.explore.facts import parse_output
from t2t.explore.values import ValuePool
from t2t.intents import INTENT_KINDS, Rejected
from t2t.tasks import convert_walk

DOMAINS = ("retail", "airline", "banking")
SEEDS = st.integers(min_value=0, max_value=2**40)
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)


class Setup:
    def __init__(self, name: str) -> None:
        domain = t2t.load_domain(name)
        self.db = domain.generate_db(seed=0, **domain.scales["small"])
        self.env = domain.environment(self.db)
        self.graph = build_tool_graph(self.env)
        self.pool = ValuePool(self.db)

    def walk(self, seed: int, **kw):
        return explore_offline(self.env, self.graph, self.pool, seed=seed, **kw)

    def is_write(self, call: ToolCall) -> bool:
        return self.env.domain.tools[call.name].mutates


@pytest.fixture(scope="module")
def setups():
    return {name: Setup(name) for name in DOMAINS}


@pytest.fixture(scope="module")
def twins():
    """Built again from scratch: another DB object, graph and pool with the same seeds."""
    return {name: Setup(name) for name in DOMAINS}


def values_in(value, found: set) -> set:
    """Every scalar and every dict key of a JSON tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            values_in(item, found)
    elif isinstance(value, list):
        for item in value:
            values_in(item, found)
    elif value is not None and not isinstance(value, bool):
        found.add(value)
    return found


def ids_of(call: ToolCall) -> list:
    """Values of arguments that name records (top level, and inside lists of objects)."""
    found = []
    for arg, value in call.arguments.items():
        items = value if isinstance(value, list) else [value]
        if arg.endswith(("_id", "_ids")):
            found += [(arg, v) for v in items]
        for item in items:
            if isinstance(item, dict):
                found += [(k, v) for k, v in item.items() if k.endswith("_id")]
    return found


def walk_of(setup, seed):
    walk = setup.walk(seed)
    if walk is None:  # some airline users have nothing to change; exploration says so
        assert setup.env.domain.name == "airline"
    return walk


@pytest.mark.parametrize("name", DOMAINS)
@PROPERTY
@given(seed=SEEDS)
def test_trajectories_authenticate_first_with_the_users_own_data(setups, name, seed):
    setup = setups[name]
    walk = walk_of(setup, seed)
    if walk is None:
        return
    calls = walk.trajectory("t").calls
    assert calls[0].name in setup.graph.identity_tools
    own = values_in(setup.db[setup.graph.user_table][walk.user_id], {walk.user_id})
    assert calls[0].arguments and set(calls[0].arguments.values()) <= own
    assert walk.identity == calls[0].arguments


@pytest.mark.parametrize("name", DOMAINS)
@PROPERTY
@given(seed=SEEDS)
def test_every_call_replays_and_every_write_reads_its_ids_first(setups, name, seed):
    setup = setups[name]
    walk = walk_of(setup, seed)
    if walk is None:
        return
    calls = walk.trajectory("t").calls
    final, replay = replay_calls(setup.env, calls, check_rules=True)
    assert replay.errors == [] and replay.violations == []
    writes = [c for c in calls if setup.is_write(c)]
    assert 1 <= len(writes) <= 3 and writes == [s.candidate.call for s in walk.steps]
    seen: set = set()
    state = setup.env.fork()
    for call, result in zip(calls, replay.results, strict=True):
        if setup.is_write(call):
            for arg, value in ids_of(call):
                assert value in seen, f"{call.name}.{arg}={value!r} was never read before"
            assert state.check_rules(call) == []
            before = state.state_hash()
            assert state.run(call).ok and state.state_hash() != before  # each write changes
        else:
            values_in(parse_output(result.content), seen)
            assert state.run(call).ok
    assert final.state_hash() == walk.env.state_hash() == state.state_hash()


@pytest.mark.parametrize("name", DOMAINS)
@PROPERTY
@given(seed=SEEDS)
def test_the_same_seed_gives_the_same_trajectory(setups, twins, name, seed):
    first, second = setups[name].walk(seed), twins[name].walk(seed)
    assert (first is None) == (second is None)
    if first is not None:
        a = first.trajectory("t").model_dump_json()
        assert a == second.trajectory("t").model_dump_json()


@pytest.mark.parametrize("name", DOMAINS)
def test_different_seeds_mostly_give_different_trajectories(setups, name):
    found = [setups[name].walk(seed) for seed in range(20)]
    trajectories = {w.trajectory("t").model_dump_json() for w in found if w is not None}
    assert len(trajectories) >= 15
    assert len({w.user_id for w in found if w is not None}) >= 10


def test_writes_bounds_the_number_of_writes(setups):
    setup = setups["retail"]
    for seed in range(10):
        walk = setup.walk(seed, writes=1)
        assert walk is not None and len(walk.steps) == 1


def test_write_steps_record_the_states_around_each_write(setups):
    setup = setups["banking"]
    walk = next(w for s in range(50) if (w := setup.walk(s)) and len(w.steps) >= 2)
    env = setup.env
    for step in walk.steps:
        assert walk.calls[step.index] == step.candidate.call
        replayed, _ = replay_calls(env, walk.calls[: step.index])
        assert replayed.state_hash() == step.before.state_hash()
        assert step.after.state_hash() != step.before.state_hash()
    assert walk.steps[0].after.state_hash() == walk.steps[1].before.state_hash()


# ------------------------------------------------------------------ walk_from_trajectory


def _gold(walk):
    return convert_walk(walk, task_id="t-base", seed=1).evaluation_criteria.actions


@pytest.mark.parametrize("name", ["retail", "banking"])
def test_a_replayed_offline_trajectory_gives_the_same_walk_and_gold(setups, name):
    setup = setups[name]
    for seed in range(12):
        walk = setup.walk(seed)
        rebuilt = walk_from_trajectory(setup.env, setup.graph, setup.pool, walk.trajectory("t"))
        assert rebuilt is not None
        assert [s.candidate.call for s in rebuilt.steps] == [s.candidate.call for s in walk.steps]
        assert rebuilt.identity == walk.identity and rebuilt.user_id == walk.user_id
        assert rebuilt.env.state_hash() == walk.env.state_hash()
        assert _gold(rebuilt) == _gold(walk)


def test_a_replayed_airline_trajectory_keeps_the_reads_behind_object_arguments(setups):
    setup = setups["airline"]
    for seed in range(12):
        walk = setup.walk(seed)
        if walk is None:
            continue
        rebuilt = walk_from_trajectory(setup.env, setup.graph, setup.pool, walk.trajectory("t"))
        assert [s.candidate.call for s in rebuilt.steps] == [s.candidate.call for s in walk.steps]
        assert _gold(rebuilt) == _gold(walk), seed


def _two_write_walk(setup):
    return next(w for s in range(60) if (w := setup.walk(s)) and len(w.steps) >= 2)


def _with_call(trajectory: Trajectory, at: int, call: ToolCall, *, ok: bool = True) -> Trajectory:
    calls = [*trajectory.calls[:at], call, *trajectory.calls[at:]]
    results = [
        *trajectory.results[:at],
        ToolResult(name=call.name, ok=ok, content=""),
        *trajectory.results[at:],
    ]
    return trajectory.model_copy(update={"calls": calls, "results": results})


def test_a_failing_write_ends_the_replayed_walk(setups):
    setup = setups["retail"]
    walk = _two_write_walk(setup)
    trajectory = walk.trajectory("t")
    first = walk.steps[0].candidate.call
    at = trajectory.calls.index(first) + 1
    broken = ToolCall(name=first.name, arguments={**first.arguments, "order_id": "#W0000000"})
    rebuilt = walk_from_trajectory(
        setup.env, setup.graph, setup.pool, _with_call(trajectory, at, broken)
    )
    assert [s.candidate.call for s in rebuilt.steps] == [first]


def test_a_rule_breaking_write_ends_the_replayed_walk(setups):
    setup = setups["retail"]
    for seed in range(60):
        walk = setup.walk(seed)
        if len(walk.steps) < 2:
            continue
        base = convert_walk(walk, task_id="t-base", seed=seed)
        try:
            infeasible = INTENT_KINDS["infeasible"].build(walk, base, random.Random(seed))
        except Rejected:
            continue
        forbidden = ToolCall(**infeasible.variant.details["forbidden_call"])
        trajectory = walk.trajectory("t")
        at = trajectory.calls.index(walk.steps[-1].candidate.call)
        rebuilt = walk_from_trajectory(
            setup.env, setup.graph, setup.pool, _with_call(trajectory, at, forbidden)
        )
        kept = [s.candidate.call for s in rebuilt.steps]
        assert kept == [s.candidate.call for s in walk.steps[:-1]]
        assert forbidden not in kept
        return
    pytest.fail("no multi-write retail walk had an infeasible variant")


def test_a_call_that_failed_during_exploration_is_skipped_not_fatal(setups):
    setup = setups["retail"]
    walk = _two_write_walk(setup)
    trajectory = walk.trajectory("t")
    first = walk.steps[0].candidate.call
    failed = ToolCall(name=first.name, arguments={**first.arguments, "order_id": "#W0000000"})
    at = trajectory.calls.index(first) + 1
    rebuilt = walk_from_trajectory(
        setup.env, setup.graph, setup.pool, _with_call(trajectory, at, failed, ok=False)
    )
    assert [s.candidate.call for s in rebuilt.steps] == [s.candidate.call for s in walk.steps]


def test_a_trajectory_of_someone_not_in_the_db_gives_no_walk(setups):
    setup = setups["retail"]
    trajectory = setup.walk(0).trajectory("t").model_copy(update={"user_id": "nobody_0000"})
    assert walk_from_trajectory(setup.env, setup.graph, setup.pool, trajectory) is None


def test_a_trajectory_without_writes_gives_no_walk(setups):
    setup = setups["retail"]
    trajectory = setup.walk(0).trajectory("t")
    reads = [
        (c, r)
        for c, r in zip(trajectory.calls, trajectory.results, strict=True)
        if not setup.is_write(c)
    ]
    only_reads = trajectory.model_copy(
        update={"calls": [c for c, _ in reads], "results": [r for _, r in reads]}
    )
    assert walk_from_trajectory(setup.env, setup.graph, setup.pool, only_reads) is None
