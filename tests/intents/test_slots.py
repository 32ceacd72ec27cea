"""Slots: the record-naming parts of a write that variants swap, and the swap itself."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t2t
from t2t.core.schema import ToolCall
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.intents.slots import (
    Rejected,
    Slot,
    at_step,
    last_write_index,
    pick_strategy,
    replace_in_call,
    slots_of,
    substitutes,
)
from t2t.tasks import convert_walk


@pytest.fixture(scope="module")
def retail():
    domain = t2t.load_domain("retail")
    db = domain.generate_db(seed=0, **domain.scales["small"])
    env = domain.environment(db)
    return env, build_tool_graph(env), ValuePool(db)


def _walk_ending_in(retail, name):
    env, graph, pool = retail
    for seed in range(200):
        walk = explore_offline(env, graph, pool, seed=seed)
        if walk is not None and walk.steps[-1].candidate.call.name == name:
            return walk
    pytest.fail(f"no walk ends in {name}")


def test_slots_of_an_exchange(retail):
    walk = _walk_ending_in(retail, "exchange_delivered_order_items")
    call = walk.steps[-1].candidate.call
    slots = slots_of(walk, walk.steps[-1].candidate)
    n = len(call.arguments["item_ids"])
    assert slots == [
        Slot("order_id", None, "record"),
        *[Slot("item_ids", i, "item") for i in range(n)],
        *[Slot("new_item_ids", i, "option") for i in range(n)],
        Slot("payment_method_id", None, "detail"),
    ]
    assert slots[1].get(call.arguments) == call.arguments["item_ids"][0]
    assert slots[0].to_dict() == {"arg": "order_id", "element": None}


def test_the_users_own_id_is_no_slot(retail):
    walk = _walk_ending_in(retail, "modify_user_address")
    assert slots_of(walk, walk.steps[-1].candidate) == []


def test_replace_in_call_changes_one_slot_and_leaves_the_call_alone():
    call = ToolCall(name="x", arguments={"order_id": "#1", "item_ids": ["a", "b"], "n": 1})
    element = replace_in_call(call, Slot("item_ids", 1, "item"), "c")
    whole = replace_in_call(call, Slot("order_id", None, "record"), "#2")
    assert element.arguments == {"order_id": "#1", "item_ids": ["a", "c"], "n": 1}
    assert whole.arguments == {"order_id": "#2", "item_ids": ["a", "b"], "n": 1}
    assert call.arguments == {"order_id": "#1", "item_ids": ["a", "b"], "n": 1}


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    available=st.sets(st.sampled_from(["a", "b", "c", "d", "zzz"])),
)
def test_pick_strategy_orders_the_available_strategies_once_each(seed, available):
    weights = {"a": 0.5, "b": 0.3, "c": 0.2, "d": 0.0001}
    order = pick_strategy(weights, available, random.Random(seed))
    assert sorted(order) == sorted(available & weights.keys())
    assert order == pick_strategy(weights, available, random.Random(seed))


def test_pick_strategy_follows_the_weights():
    weights = {"heavy": 0.9, "light": 0.1}
    firsts = [pick_strategy(weights, {"heavy", "light"}, random.Random(s))[0] for s in range(200)]
    assert 150 < firsts.count("heavy") < 200


def test_substitutes_fill_one_slot_with_other_values_of_the_users_data(retail):
    walk = _walk_ending_in(retail, "cancel_pending_order")
    candidate = walk.steps[-1].candidate
    slot = Slot("order_id", None, "record")
    found = substitutes(walk, candidate, slot, random.Random(0))
    user_orders = set(retail[0].state["users"][walk.user_id]["orders"])
    assert found
    for value, other in found:
        assert value != candidate.call.arguments["order_id"] and value in user_orders
        assert other.call.arguments == {**candidate.call.arguments, "order_id": value}
        assert candidate.sources <= other.sources


def test_swapping_an_item_repairs_its_partner(retail):
    walk = _walk_ending_in(retail, "exchange_delivered_order_items")
    candidate = walk.steps[-1].candidate
    old = candidate.call.arguments
    for value, other in substitutes(walk, candidate, Slot("item_ids", 0, "item"), random.Random(0)):
        new = other.call.arguments
        assert new["item_ids"][0] == value != old["item_ids"][0]
        assert new["new_item_ids"][0] != value  # an exchange for another variant, not itself
        assert new["order_id"] == old["order_id"]


def test_last_write_index_and_a_gold_without_writes(retail):
    env = retail[0]
    walk = _walk_ending_in(retail, "cancel_pending_order")
    task = convert_walk(walk, task_id="t-base", seed=0)
    index = last_write_index(task, env)
    gold, write = task.gold_calls[index], walk.steps[-1].candidate.call
    assert (gold.name, gold.arguments) == (write.name, write.arguments)
    assert all(not env.domain.tools[c.name].mutates for c in task.gold_calls[index + 1 :])
    task.evaluation_criteria.actions = task.evaluation_criteria.actions[:1]
    with pytest.raises(Rejected, match="no gold write"):
        last_write_index(task, env)


def test_at_step_reads_the_state_before_the_write_and_restores_the_walk(retail):
    walk = _walk_ending_in(retail, "cancel_pending_order")
    step, now = walk.steps[-1], walk.env
    with pytest.raises(RuntimeError), at_step(walk, step) as before:
        assert walk.env is before is step.before
        raise RuntimeError("a failed build")
    assert walk.env is now
