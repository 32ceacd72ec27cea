"""A fifth variant kind defined here alone goes through every stage with no edit elsewhere.

"polite": the user also asks the agent to close with a phrase. It builds from a base task,
verifies by replay, has a probe flaw ("rude" never says the phrase) the oracle avoids, a reward
component of its own (`polite_ok`) and a failure type (`impolite`). Registered by a fixture and
unregistered after, so other tests see the four built-in kinds only.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from pydantic import ValidationError

import t2t
from t2t.benchmark.batch import prepare
from t2t.benchmark.config import RunConfig
from t2t.benchmark.episode import run_episode
from t2t.benchmark.passk import order_variants, variant_order
from t2t.benchmark.probes import probe_names
from t2t.core.environment import Environment
from t2t.core.errors import ConfigError
from t2t.core.replay import ReplayResult
from t2t.core.schema import Episode, Task, variant_kinds
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.explore.walk import Walk
from t2t.failures.taxonomy import FAILURE_TYPES, classify_failures
from t2t.generate import GenerateConfig
from t2t.intents import (
    INTENT_KINDS,
    Details,
    FailureType,
    KindHooks,
    Rejected,
    ScoreContext,
    check_variant,
    clean_replay,
    derive_task,
    mentions,
    register_kind,
    unregister_kind,
)
from t2t.tasks import convert_walk


class PoliteDetails(Details):
    phrase: str


class Polite(KindHooks[PoliteDetails]):
    name = "polite"
    probe = "rude"
    strategies = {"phrase": 1.0}
    details_model = PoliteDetails
    identity_keys = ("phrase",)
    failure_types = {"impolite": FailureType("the agent never said the phrase it was asked", 50)}

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        phrase = rng.choice(["have a lovely day", "thanks for your patience"])
        return derive_task(
            base,
            self.name,
            requests=base.variant.details["requests"][-1:],
            instructions=f"Ask the agent to end by saying '{phrase}'.",
            details=PoliteDetails(phrase=phrase).model_dump(),
        )

    def verify(self, task: Task, env: Environment) -> None:
        if not self.details(task).phrase.strip():
            raise Rejected("no phrase to say")
        clean_replay(env, task, task.gold_calls, "gold")

    def probe_closing(self, probe: str, task: Task) -> str | None:
        phrase = "" if probe == self.probe else f" {self.details(task).phrase.capitalize()}."
        told = task.evaluation_criteria.communicate_info or []
        return f"Your request is complete: {'; '.join(told)}.{phrase}"

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]:
        phrase = self.details(task).phrase
        said = [m.content for m in context.messages if m.role == "assistant" and m.content]
        return {"polite_ok": any(mentions(text, phrase) for text in said)}

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]:
        components = episode.reward.details.get("components", {}) if episode.reward else {}
        return ["impolite"] if components.get("polite_ok") is False else []


@pytest.fixture
def polite():
    kind = register_kind(Polite())
    try:
        yield kind
    finally:
        unregister_kind(kind.name)


@pytest.fixture(scope="module")
def world():
    domain = t2t.load_domain("retail")
    db = domain.generate_db(seed=0, **domain.scales["small"])
    env = domain.environment(db)
    return env, build_tool_graph(env), ValuePool(db)


def _polite_tasks(kind: Polite, world, n: int = 3) -> list[Task]:
    env, graph, pool = world
    tasks = []
    for seed in range(20):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        base = convert_walk(walk, task_id=f"retail-{seed:06d}-base", seed=seed)
        task = INTENT_KINDS[kind.name].build(walk, base, random.Random(seed))
        # generate → verify, through the registry as the pipeline does
        if check_variant(task, env).ok:
            tasks.append(task)
        if len(tasks) == n:
            break
    return tasks


def _play(task: Task, env: Environment, agent: str) -> Episode:
    config = RunConfig(agent=agent, user="scripted")
    prepare([task], env, config)
    episode, _ = asyncio.run(run_episode(task, env, config, 0))
    return episode


def test_a_kind_registered_from_a_test_goes_through_every_stage(polite, world):
    env = world[0]
    tasks = _polite_tasks(polite, world)
    assert tasks, "no polite task was built"
    for task in tasks:
        stored = Task.model_validate_json(task.model_dump_json())  # the kind's tasks load
        assert stored.variant.kind == "polite" and stored.variant.details["phrase"]
        assert stored == task

        oracle = _play(task, env, "t2t/oracle")
        assert oracle.reward.value == 1.0, task.id
        assert oracle.reward.details["components"] == {"polite_ok": True}
        assert classify_failures(oracle, task, env) == []

        rude = _play(task, env, "t2t/rude")
        assert rude.reward.state_ok is True and rude.reward.value == 0.0, task.id
        assert rude.reward.details["components"] == {"polite_ok": False}
        assert classify_failures(rude, task, env) == ["impolite"]
        assert classify_failures(rude, None, None) == ["impolite"]  # from the reward alone


def test_a_broken_task_of_the_kind_is_rejected_by_its_verify(polite, world):
    task = _polite_tasks(polite, world, n=1)[0]
    blank = task.model_copy(deep=True)
    blank.variant.details["phrase"] = "  "
    assert check_variant(blank, world[0]).reason == "no phrase to say"


def test_every_ordering_of_kinds_follows_the_registry(polite):
    assert variant_kinds()[-1] == "polite" and list(INTENT_KINDS)[-1] == "polite"
    assert variant_order() == ("base", "ambiguous", "changing", "infeasible", "polite", "all")
    assert order_variants(["polite", "zzz", "base"]) == ["base", "polite", "zzz"]
    assert probe_names() == ("oracle", "eager", "stubborn", "reckless", "rude", "random")
    assert GenerateConfig().variants[-1] == "polite"
    assert GenerateConfig(variants=("polite",)).variants == ("polite",)
    types = list(FAILURE_TYPES)
    # ranked between the built-in kinds' types and the final-state ones
    assert types.index("ignored_change") < types.index("impolite") < types.index("premature_end")


def test_unregistering_leaves_the_built_in_kinds_alone(polite):
    unregister_kind("polite")
    assert list(INTENT_KINDS) == ["base", "ambiguous", "changing", "infeasible"]
    assert "impolite" not in FAILURE_TYPES and "rude" not in probe_names()
    with pytest.raises(ValidationError, match="unknown variant kind 'polite'"):
        Task.model_validate(
            {"id": "x", "user_scenario": {"instructions": "hi"}, "variant": {"kind": "polite"}}
        )
    with pytest.raises(ValueError, match="unknown variant kinds"):
        GenerateConfig(variants=("polite",))
    register_kind(polite)  # the fixture unregisters it again


def test_the_built_in_failure_types_keep_their_order():
    assert list(FAILURE_TYPES) == [
        "infra_error",
        "step_limit",
        "tool_error_loop",
        "policy_violation",
        "failed_to_refuse",
        "no_clarification",
        "ignored_change",
        "hallucinated_value",
        "premature_end",
        "missing_write",
        "wrong_arguments",
        "extra_write",
        "missing_information",
        "other",
    ]


# ------------------------------------------------------------------------- worker processes


def test_a_kind_registered_at_runtime_reaches_the_worker_processes(polite, world, tmp_path):
    from t2t.benchmark.results import read_episodes
    from t2t.benchmark.runner import run_rollouts

    env = world[0]
    tasks = _polite_tasks(polite, world, n=2)
    for agent, value in (("t2t/oracle", 1.0), ("t2t/rude", 0.0)):
        out = tmp_path / f"{agent.split('/')[-1]}.jsonl"
        config = RunConfig(agent=agent, user="scripted", concurrency=2)
        stats = run_rollouts(tasks, env, config, out, progress=False, workers=2)
        assert stats.ran == len(tasks) and stats.infra_errors == 0
        episodes = read_episodes(out)
        assert {e.variant for e in episodes} == {"polite"}
        assert all(e.reward and e.reward.value == value for e in episodes), agent


def test_a_kind_workers_cannot_import_is_refused_up_front(polite, world, tmp_path):
    from t2t.benchmark.runner import run_rollouts
    from t2t.generate import generate_tasks

    scripted = type("Scripted", (Polite,), {"name": "scripted", "__module__": "__main__"})
    register_kind(scripted())
    try:
        tasks = _polite_tasks(polite, world, n=1)
        config = RunConfig(agent="t2t/oracle", user="scripted")
        with pytest.raises(ConfigError, match="must live in an importable module"):
            run_rollouts(tasks, world[0], config, tmp_path / "x.jsonl", progress=False, workers=2)
        assert not (tmp_path / "x.jsonl").exists()
        with pytest.raises(ConfigError, match="'scripted' is defined in '__main__'"):
            generate_tasks(GenerateConfig(n=1), tmp_path / "set", workers=2, progress=False)
        # one process needs no shipping
        assert run_rollouts(tasks, world[0], config, tmp_path / "y.jsonl", progress=False).ran
    finally:
        unregister_kind("scripted")


# ---------------------------------------------------------------------------- registration


def test_register_kind_refuses_a_reserved_name():
    reserved = type("All", (Polite,), {"name": "all"})
    with pytest.raises(ConfigError, match="cannot be named 'all'"):
        register_kind(reserved())
    assert "all" not in INTENT_KINDS


def test_register_kind_refuses_to_replace_a_kind_unless_asked(polite):
    with pytest.raises(ConfigError, match="'polite' is registered already"):
        register_kind(Polite())
    assert INTENT_KINDS["polite"] is polite
    again = Polite()
    assert register_kind(again, replace=True) is again and INTENT_KINDS["polite"] is again
    with pytest.raises(ConfigError, match="'base' is registered already"):
        register_kind(type("Base2", (Polite,), {"name": "base"})())


def test_register_kind_refuses_what_is_not_a_kind():
    class Half:
        name = "half"

        def build(self, walk, base, rng):
            return base

    with pytest.raises(ConfigError, match="is not a variant kind: it lacks .*verify"):
        register_kind(Half())  # type: ignore[arg-type]
    assert "half" not in INTENT_KINDS
