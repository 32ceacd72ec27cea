"""Task quality and robustness of generation: stale numbers, undescribed options, goals that
undo themselves, requests only the policy forbids, output folders, stale chunks, model timeouts."""

import asyncio
import json
import random
import shutil

import pytest

import t2t
import t2t.generate as generate_module
import t2t.intents.infeasible as infeasible_module
from t2t.core.errors import ConfigError
from t2t.core.replay import replay_calls
from t2t.core.schema import Message
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.facts import describe_record
from t2t.explore.values import ValuePool
from t2t.generate import GenerateConfig, generate_tasks
from t2t.intents import INTENT_KINDS, Rejected
from t2t.intents.checks import actions_of
from t2t.tasks import convert_walk


def small(name):
    domain = t2t.load_domain(name)
    db = domain.generate_db(seed=0, **domain.scales["small"])
    env = domain.environment(db)
    return env, build_tool_graph(env), ValuePool(db)


def test_the_number_to_tell_is_the_same_before_and_after_the_writes():
    """Asked numbers come from fields the writes leave alone (the old card limit was asked)."""
    env, graph, pool = small("banking")
    checked = 0
    for seed in range(200):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        base = convert_walk(walk, task_id="b-base", seed=seed)
        ask = base.variant.details["ask"]
        if not ask:
            continue
        field = ask.removeprefix("the ").split(" of ")[0].replace(" ", "_")
        final, _ = replay_calls(env, base.gold_calls)
        named = [  # the records the last request names (the question names them as people do)
            v
            for value in walk.steps[-1].candidate.call.arguments.values()
            for v in (value if isinstance(value, list) else [value])
            if isinstance(v, str)
        ]
        (number,) = base.evaluation_criteria.communicate_info
        for table in final.state.tables():
            for key in named:
                if key in final.state[table] and field in final.state[table][key]:
                    if str(final.state[table][key][field]) != number:
                        continue
                    assert str(env.state[table][key][field]) == number, (seed, ask)
                    checked += 1
    assert checked >= 3  # about 1 in 40 walks asks about a named record


def test_a_variant_with_five_options_is_described():
    variant = {
        "item_id": "7775406222",
        "options": {
            "screen size": "16-inch",
            "processor": "Ryzen 7",
            "ram": "16GB",
            "storage": "1TB SSD",
            "color": "space grey",
        },
        "available": True,
        "price": 2372.31,
    }
    assert describe_record(variant, skip="7775406222")


def test_infeasible_prefers_a_call_only_the_policy_forbids(monkeypatch):
    env, graph, pool = small("airline")
    order = ["forbidden-value", "forbidden-action"]
    monkeypatch.setattr(
        infeasible_module,
        "pick_strategy",
        lambda weights, available, rng: [s for s in order if s in available],
    )
    walk = explore_offline(env, graph, pool, seed=2)
    base = convert_walk(walk, task_id="a-base", seed=2)
    task = INTENT_KINDS["infeasible"].build(walk, base, random.Random(2))
    before, _ = replay_calls(env, task.gold_calls)
    (forbidden,) = actions_of([task.variant.details["forbidden_call"]])
    assert before.fork().run(forbidden).ok  # 'forbidden-action' offers such a call here


def test_changing_goal_a_changes_something():
    env, graph, pool = small("banking")
    checked = 0
    for seed in range(150, 190):  # 163 once built a goal A that undid the walk's first write
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        base = convert_walk(walk, task_id="b-base", seed=seed)
        try:
            task = INTENT_KINDS["changing"].build(walk, base, random.Random(seed))
        except Rejected:
            continue
        goal_a, _ = replay_calls(env, actions_of(task.variant.details["goal_a"]))
        assert goal_a.state_hash() != env.state_hash(), seed
        checked += 1
    assert checked >= 10


def test_out_below_a_file_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    config = GenerateConfig(domain="retail", scale="small", n=4, chunk_size=4)
    with pytest.raises(ConfigError):
        generate_tasks(config, tmp_path / "file" / "sub", workers=1, progress=False)


def test_chunks_of_another_config_are_not_reused(tmp_path):
    a = GenerateConfig(domain="retail", scale="small", n=8, chunk_size=4, seed=0)
    b = a.model_copy(update={"seed": 1})
    generate_tasks(a, tmp_path / "a", workers=1, progress=False)
    generate_tasks(b, tmp_path / "b", workers=1, progress=False, force=True)
    for chunk in (tmp_path / "a" / "parts").glob("chunk-*.jsonl"):  # run A, still going, writes
        target = tmp_path / "b" / "parts" / chunk.name
        if not target.exists():
            shutil.copy(chunk, target)
    generate_tasks(b.model_copy(update={"n": 40}), tmp_path / "b", workers=1, progress=False)
    ids = [json.loads(line)["id"] for line in (tmp_path / "b" / "tasks.jsonl").open()]
    assert all(i.startswith("retail-1-") for i in ids)


def test_a_set_an_older_t2t_made_is_refused_saying_so(tmp_path, monkeypatch):
    config = GenerateConfig(domain="retail", scale="small", n=4, seed=0)
    generate_tasks(config, tmp_path / "set", workers=1, progress=False)
    monkeypatch.setattr(generate_module, "PIPELINE_VERSION", generate_module.PIPELINE_VERSION + 1)
    with pytest.raises(ConfigError, match="made by an older t2t"):
        generate_tasks(config.model_copy(update={"n": 8}), tmp_path / "set", workers=1)
    other = config.model_copy(update={"seed": 1})
    with pytest.raises(ConfigError, match="made with other settings"):
        generate_tasks(other, tmp_path / "set", workers=1)


def test_model_calls_have_a_timeout(monkeypatch):
    from t2t import llm
    from t2t.llm.backend import load_litellm

    seen = {}

    async def fake(**request):
        seen.update(request)
        raise RuntimeError("stop")

    litellm = load_litellm()
    monkeypatch.setattr(litellm, "acompletion", fake)
    with pytest.raises(t2t.core.errors.ModelCallError):
        asyncio.run(llm.complete("openai/x", [Message(role="user", content="hi")]))
    assert seen.get("timeout")


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_payment_methods_are_named_as_people_name_them(domain):
    """As people name them ("your Visa ending in 2613"), never by key; by the digits that end
    the key only when two of the user's methods would read the same (two gift cards)."""
    env, graph, pool = small(domain)
    named, keyed = 0, 0
    for seed in range(60):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        text = convert_walk(walk, task_id="p-base", seed=seed).variant.details["requests"][-1]
        methods = env.state["users"][walk.user_id]["payment_methods"]
        for arg, value in walk.steps[-1].candidate.call.arguments.items():
            if not arg.startswith("payment") or not isinstance(value, str) or value not in methods:
                continue
            described = {
                k: v for k, v in methods[value].items() if isinstance(v, str) and k != "id"
            }
            twins = [
                key
                for key, other in methods.items()
                if key != value
                and {k: v for k, v in other.items() if isinstance(v, str) and k != "id"}
                == described
            ]
            assert value not in text, (seed, text)
            if twins:  # two gift cards: told apart by the digits that end their numbers
                assert f"ending in {value[-4:]}" in text, (seed, text)
                keyed += 1
            else:
                brand = str(methods[value].get("brand") or methods[value]["source"])
                assert f"your {brand.replace('_', ' ')}".lower() in text.lower(), (seed, text)
                named += 1
    assert named >= 3


@pytest.mark.parametrize("name", ["retail", "airline", "banking"])
def test_gold_actions_never_repeat_a_read(name):
    """The same order read again after a write adds nothing to a gold (it was 13–91% of tasks)."""
    env, graph, pool = small(name)
    checked = 0
    for seed in range(60):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is None:
            continue
        base = convert_walk(walk, task_id=f"{name}-{seed}", seed=seed)
        for kind in INTENT_KINDS.values():
            try:
                task = kind.build(walk, base, random.Random(seed))
            except t2t.intents.Rejected:
                continue
            keys = [(c.name, json.dumps(c.arguments, sort_keys=True)) for c in task.gold_calls]
            reads = [k for k in keys if not env.domain.is_write(k[0])]
            assert len(reads) == len(set(reads)), f"{task.id}: a read repeats in {keys}"
            checked += 1
    assert checked > 60
