"""Tasks whose variant details lack keys (hand-made, imported, older files) load, play and score
as the `.get()` code before typed details did; `check_variant` names what is missing."""

from __future__ import annotations

import asyncio
import random

import pytest

import t2t
from t2t.benchmark.batch import prepare
from t2t.benchmark.config import RunConfig
from t2t.benchmark.episode import run_episode
from t2t.benchmark.scoring import evaluate_episode
from t2t.benchmark.users import ScriptedUser
from t2t.core.environment import Environment
from t2t.core.schema import Episode, Message, Task
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.intents import INTENT_KINDS, Rejected, check_variant
from t2t.tasks import convert_walk

PROBES = ("t2t/oracle", "t2t/eager", "t2t/stubborn", "t2t/reckless")


@pytest.fixture(scope="module")
def world() -> tuple[Environment, dict[str, Task]]:
    domain = t2t.load_domain("retail")
    env = domain.environment(domain.generate_db(seed=0, **domain.scales["small"]))
    graph, pool = build_tool_graph(env), ValuePool(env.to_dict())
    found: dict[str, Task] = {}
    for seed in range(40):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        base = convert_walk(walk, task_id=f"retail-{seed:06d}-base", seed=seed)
        for name in ("base", "ambiguous", "changing", "infeasible"):
            if name in found:
                continue
            try:
                task = INTENT_KINDS[name].build(walk, base, random.Random(seed))
            except Rejected:
                continue
            if check_variant(task, env).ok:
                found[name] = task
        if len(found) == 4:
            break
    assert len(found) == 4
    return env, found


def _edited(task: Task, drop: tuple[str, ...] = (), **set_: object) -> Task:
    copy = task.model_copy(deep=True)
    for key in drop:
        del copy.variant.details[key]
    copy.variant.details.update(set_)
    return Task.model_validate(copy.model_dump())  # it loads


def _play(task: Task, env: Environment, agent: str) -> Episode:
    config = RunConfig(agent=agent, user="scripted")
    prepare([task], env, config)
    episode, _ = asyncio.run(run_episode(task, env, config, 0))
    assert episode.reward is not None and episode.error is None, (agent, episode.error)
    return episode


def _plays_everywhere(task: Task, env: Environment) -> dict[str, Episode]:
    return {agent: _play(task, env, agent) for agent in PROBES}


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        (("slot",), "malformed variant details: no 'slot' recorded"),
        (("strategy",), "malformed variant details: no 'strategy' recorded"),
        (("candidates",), "only 0 candidate fits: not ambiguous"),
    ],
)
def test_ambiguous_details_missing_a_key_play_and_are_rejected_by_name(world, drop, reason):
    env, tasks = world
    task = _edited(tasks["ambiguous"], drop)
    assert check_variant(task, env).reason == reason
    played = _plays_everywhere(task, env)
    # the withheld fact is still there: the oracle asks for it and is told
    assert played["t2t/oracle"].reward.clarified_ok is True
    if drop == ("slot",):  # nothing to guess with: the eager probe makes the gold call
        assert played["t2t/eager"].reward.state_ok is True


def test_ambiguous_without_withheld_is_not_scored_for_clarification(world):
    env, tasks = world
    task = _edited(tasks["ambiguous"], ("withheld",))
    episode = _play(task, env, "t2t/oracle")
    assert episode.reward.clarified_ok is None
    user = ScriptedUser(task, env.domain)
    asyncio.run(user.reply([]))
    which = Message(role="assistant", content="Which one do you mean exactly?")
    assert "I mean the one with" not in asyncio.run(user.reply([which])).text


def test_infeasible_with_required_null_scores_without_it(world):
    env, tasks = world
    task = _edited(tasks["infeasible"], required=None)
    assert check_variant(task, env).ok
    episode = _play(task, env, "t2t/oracle")
    assert episode.reward.required_ok is None and episode.reward.value == 1.0
    rescored = evaluate_episode(task, episode.messages, env)
    assert rescored == episode.reward


def test_infeasible_without_a_forbidden_call_is_neither_refused_nor_insisted_on(world):
    env, tasks = world
    task = _edited(tasks["infeasible"], ("forbidden_call",))
    assert check_variant(task, env).reason == "no forbidden call or rule recorded"
    played = _plays_everywhere(task, env)
    said = [m.content or "" for m in played["t2t/oracle"].messages if m.role == "assistant"]
    assert not any("I cannot do that" in text for text in said)  # as before: no refusal
    user = ScriptedUser(task, env.domain)
    asyncio.run(user.reply([]))
    no = Message(role="assistant", content="I'm sorry, but I cannot do that.")
    assert "Are you sure" not in asyncio.run(user.reply([no])).text


def test_changing_with_goal_a_null_is_rejected_and_plays_the_gold(world):
    env, tasks = world
    task = _edited(tasks["changing"], goal_a=None, stages=None)
    assert check_variant(task, env).reason == "no first goal recorded"
    played = _plays_everywhere(task, env)
    assert played["t2t/stubborn"].reward.state_ok is True  # no first goal to hold on to


def test_a_tau2_style_base_task_with_empty_details_verifies_plays_and_scores(world):
    env, tasks = world
    task = tasks["base"].model_copy(deep=True)
    task.variant.details = {}
    task = Task.model_validate(task.model_dump())
    assert check_variant(task, env).ok
    for agent, episode in _plays_everywhere(task, env).items():
        assert episode.reward.value == 1.0, agent
