"""The template converter: a walk becomes a base task whose gold is the walk's trajectory."""

import pytest

import t2t
from t2t.core.replay import replay_calls, verify_task
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.facts import parse_output
from t2t.explore.values import ValuePool
from t2t.tasks import convert_walk, phrasebook_of
from t2t.tasks.tau2 import read_tau2_tasks, task_to_tau2, write_tau2_tasks

DOMAINS = ("retail", "airline", "banking")
SEEDS = range(25)


def _numbers(value, found: set) -> set:
    if isinstance(value, dict):
        for item in value.values():
            _numbers(item, found)
    elif isinstance(value, list):
        for item in value:
            _numbers(item, found)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.add(float(value))
    return found


@pytest.fixture(scope="module")
def setups():
    found = {}
    for name in DOMAINS:
        domain = t2t.load_domain(name)
        db = domain.generate_db(seed=0, **domain.scales["small"])
        env = domain.environment(db)
        found[name] = (env, build_tool_graph(env), ValuePool(db))
    return found


@pytest.fixture(scope="module")
def converted(setups):
    """(domain, env, walk, base task) for the walks of SEEDS on each small DB."""
    rows = []
    for name, (env, graph, pool) in setups.items():
        for seed in SEEDS:
            walk = explore_offline(env, graph, pool, seed=seed)
            if walk is not None:
                task = convert_walk(walk, task_id=f"{name}-{seed}-base", seed=seed)
                rows.append((name, env, walk, task))
    return rows


def test_every_domain_converts(converted):
    assert {name for name, *_ in converted} == set(DOMAINS)
    assert len(converted) >= 60


def test_the_gold_is_the_trajectory_and_it_verifies(converted):
    for _, env, walk, task in converted:
        trajectory = walk.trajectory("t")
        gold = [(a.name, a.arguments) for a in task.evaluation_criteria.actions]
        assert gold == [(c.name, c.arguments) for c in trajectory.calls]
        assert [a.action_id for a in task.evaluation_criteria.actions] == [
            str(i) for i in range(len(gold))
        ]
        verdict = verify_task(task, env)
        assert verdict.ok and verdict.writes == len(walk.steps)


def test_known_info_holds_the_identity_and_the_user_is_named(converted):
    for name, env, walk, task in converted:
        instructions = task.user_scenario.instructions
        assert walk.identity
        for value in walk.identity.values():
            assert str(value) in instructions.known_info
        assert instructions.domain == name == task.domain
        record = env.state[walk.graph.user_table][walk.user_id]
        first = record["name"]["first_name"] if isinstance(record["name"], dict) else record["name"]
        assert first in task.user_scenario.persona
        details = task.variant.details
        assert details["user_id"] == walk.user_id and details["identity"] == walk.identity
        assert len(details["requests"]) == len(walk.steps)


def test_ids_the_agent_must_look_up_are_not_given_to_the_user(converted):
    checked = 0
    for name, _, walk, task in converted:
        if name != "retail":
            continue
        instructions = task.user_scenario.instructions
        said = instructions.reason_for_call + instructions.known_info
        for step in walk.steps:
            for arg, origin in step.candidate.origins.items():
                if origin == "lookup" and arg.endswith(("_id", "_ids")):
                    value = step.candidate.call.arguments[arg]
                    for item in value if isinstance(value, list) else [value]:
                        checked += 1
                        assert str(item) not in said, (task.id, arg, item)
                    unknown = phrasebook_of(walk.env.domain).unknown[arg]
                    assert unknown in (instructions.unknown_info or "")
    assert checked >= 10


def test_communicated_numbers_were_read_in_the_trajectory(converted):
    told = 0
    for _, env, walk, task in converted:
        criteria = task.evaluation_criteria
        assert ("COMMUNICATE" in criteria.reward_basis) == bool(criteria.communicate_info)
        assert (task.variant.details["ask"] is None) == (not criteria.communicate_info)
        if not criteria.communicate_info:
            continue
        told += 1
        calls = walk.trajectory("t").calls
        _, replay = replay_calls(env, calls)
        read = set()
        for call, result in zip(calls, replay.results, strict=True):
            if not env.domain.is_write(call.name):
                _numbers(parse_output(result.content), read)
        for value in criteria.communicate_info:
            assert float(value) in read, (task.id, value)
        assert task.variant.details["ask"] in task.user_scenario.instructions.reason_for_call
    assert told >= 10


def test_communicated_numbers_belong_to_a_record_the_request_names(setups):
    env, graph, pool = setups["retail"]
    for walk_seed in range(60):
        walk = explore_offline(env, graph, pool, seed=walk_seed)
        last = walk.steps[-1].candidate.call
        named = set()
        for arg, argument in last.arguments.items():
            if arg.endswith(("_id", "_ids")):
                for item in argument if isinstance(argument, list) else [argument]:
                    _numbers(walk.book.record_of(item, arg), named)
        for seed in range(8):  # the converter draws which number (if any) the user asks for
            task = convert_walk(walk, task_id="t-base", seed=seed)
            for value in task.evaluation_criteria.communicate_info:
                assert float(value) in named, (walk_seed, seed, task.variant.details["ask"])


def test_conversion_is_deterministic(converted):
    for _, _, walk, task in converted[:20]:
        again = convert_walk(walk, task_id=task.id, seed=task.provenance.seed)
        assert again.model_dump_json() == task.model_dump_json()


def test_tau2_export_round_trip_keeps_the_gold(converted, tmp_path):
    tasks = [task for *_, task in converted]
    path = tmp_path / "tasks.json"
    write_tau2_tasks(tasks, path)
    back = read_tau2_tasks(path)
    assert [t.id for t in back] == [t.id for t in tasks]
    for original, loaded in zip(tasks, back, strict=True):
        assert loaded.gold_calls == original.gold_calls
        assert loaded.evaluation_criteria == original.evaluation_criteria
        assert loaded.user_scenario == original.user_scenario
        assert loaded.domain == original.domain
        exported = task_to_tau2(original)
        assert not {"variant", "provenance", "domain"} & exported.keys()
