"""Replay verifier: gold final states, episode comparison, and rejection of broken tasks."""

import pytest

from t2t import (
    Episode,
    Message,
    Task,
    ToolCall,
    check_episode_state,
    load_domain,
    replay_gold,
    verify_task,
)
from t2t.core.replay import compare_states
from t2t.tasks.tau2 import reference_data_dir

REFERENCE = reference_data_dir("retail")
pytestmark = pytest.mark.skipif(REFERENCE is None, reason="τ²-bench reference missing")


@pytest.fixture(scope="module")
def env():
    from t2t import read_db

    retail = load_domain("retail")
    return retail.environment(read_db(retail, REFERENCE / "db.json"))


def task_with(*calls):
    return Task.model_validate(
        {
            "id": "t",
            "user_scenario": {
                "instructions": {
                    "domain": "retail",
                    "reason_for_call": "-",
                    "task_instructions": "-",
                }
            },
            "evaluation_criteria": {
                "actions": [
                    {"action_id": str(i), "name": n, "arguments": a}
                    for i, (n, a) in enumerate(calls)
                ]
            },
        }
    )


def pending_order(env):
    return next(o for o in env.state["orders"].values() if o["status"] == "pending")


def test_gold_replay_changes_a_fork_only(env):
    order = pending_order(env)
    task = task_with(
        ("cancel_pending_order", {"order_id": order["order_id"], "reason": "ordered by mistake"})
    )
    before = env.state_hash()
    final, replay = replay_gold(task, env)
    assert replay.ok and final.state["orders"][order["order_id"]]["status"] == "cancelled"
    assert (
        env.state_hash() == before and env.state["orders"][order["order_id"]]["status"] == "pending"
    )
    assert replay.final_hash == final.state_hash() != before


def test_broken_gold_is_rejected_with_the_reason(env):
    order = pending_order(env)
    wrong_argument = task_with(
        ("cancel_pending_order", {"order_id": order["order_id"], "reason": "bored"})
    )
    verdict = verify_task(wrong_argument, env)
    assert not verdict.ok
    assert verdict.errors[0].model_dump() == {
        "index": 0,
        "name": "cancel_pending_order",
        "error": "Invalid reason",
    }


def test_episode_state_matches_gold_only_with_the_same_writes(env):
    order = pending_order(env)
    task = task_with(
        ("get_order_details", {"order_id": order["order_id"]}),
        ("cancel_pending_order", {"order_id": order["order_id"], "reason": "no longer needed"}),
    )

    def episode(*calls):
        return Episode(
            task_id="t",
            agent_model="probe",
            user_model="scripted",
            termination_reason="user_stop",
            messages=[
                Message(role="assistant", tool_calls=[ToolCall(name=n, arguments=a)])
                for n, a in calls
            ],
        )

    right = episode(
        ("cancel_pending_order", {"order_id": order["order_id"], "reason": "no longer needed"})
    )
    wrong_reason = episode(
        ("cancel_pending_order", {"order_id": order["order_id"], "reason": "ordered by mistake"})
    )
    nothing = episode()
    assert check_episode_state(right, task, env).ok  # reads need not be repeated
    mismatch = check_episode_state(wrong_reason, task, env)
    assert not mismatch.ok and [(c.table, c.key) for c in mismatch.changes] == [
        ("orders", order["order_id"])
    ]
    assert mismatch.changes[0].before["cancel_reason"] == "no longer needed"
    assert mismatch.changes[0].after["cancel_reason"] == "ordered by mistake"
    assert not check_episode_state(nothing, task, env).ok


def test_compare_states_of_identical_content(env):
    a, b = env.fork(), env.fork()
    order = pending_order(env)["order_id"]
    for fork in (a, b):
        fork.call(
            "modify_pending_order_address",
            order_id=order,
            address1="1 A St",
            address2="",
            city="X",
            state="CA",
            country="USA",
            zip="00001",
        )
    assert compare_states(a, b).ok


def test_gold_that_breaks_the_policy_is_rejected_even_when_the_tools_accept_it(env):
    modified = next(o for o in env.state["orders"].values() if o["status"] == "pending")
    address = dict(address1="1 A St", address2="", city="X", state="CA", country="USA", zip="00001")
    order_id = modified["order_id"]
    item = modified["items"][0]
    product = env.state["products"][item["product_id"]]
    other = next(
        i for i, v in product["variants"].items() if i != item["item_id"] and v["available"]
    )
    method = modified["payment_history"][0]["payment_method_id"]
    task = task_with(
        (
            "modify_pending_order_items",
            {
                "order_id": order_id,
                "item_ids": [item["item_id"]],
                "new_item_ids": [other],
                "payment_method_id": method,
            },
        ),
        ("modify_pending_order_address", {"order_id": order_id, **address}),
    )
    verdict = verify_task(task, env)
    assert verdict.errors == []  # τ²'s tool lets an item-modified order change its address…
    assert not verdict.ok  # …the policy does not
    assert [(v.index, v.rule) for v in verdict.violations] == [(1, "modify_items_once")]
    assert order_id in verdict.violations[0].reason


def test_verification_starts_from_the_tasks_initial_state(env):
    order = pending_order(env)["order_id"]
    task = task_with(("cancel_pending_order", {"order_id": order, "reason": "no longer needed"}))
    assert verify_task(task, env).ok
    task.initial_state = {
        "initialization_actions": [
            {
                "env_type": "assistant",
                "func_name": "cancel_pending_order",
                "arguments": {"order_id": order, "reason": "ordered by mistake"},
            }
        ]
    }
    verdict = verify_task(task, env)  # the order is already cancelled when the gold call runs
    assert not verdict.ok
    assert verdict.errors[0].error == "Non-pending order cannot be cancelled"
    assert [v.rule for v in verdict.violations] == ["cancel_only_pending"]
    final, _ = replay_gold(task, env)
    assert final.state["orders"][order]["cancel_reason"] == "ordered by mistake"
