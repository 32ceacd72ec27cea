"""Sound infeasible and changing variants, one test per target, on seeded sets of every domain.

Infeasible: every task says who refuses it (`refusal_source`), requests only the written policy
forbids are the majority where the tools let them through, and no request is degenerate (the
audit's check finds each kind of degenerate request). Changing: the user changes their mind with
a reason, added requests stay a labelled minority, and no gold ends where it started.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field

import pytest

import t2t
from t2t.benchmark.batch import prepare
from t2t.benchmark.config import RunConfig
from t2t.benchmark.episode import run_episode
from t2t.benchmark.probes import _SWITCH_WORDS
from t2t.core.environment import Environment
from t2t.core.replay import replay_calls
from t2t.core.schema import Task, ToolCall
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.failures.audit import audit_task
from t2t.intents import INTENT_KINDS, Rejected, check_variant
from t2t.intents.sound import OWN_RECORDS, degenerate_reason, refusal_source, user_key
from t2t.intents.text import has_internal_id

DOMAINS = ("retail", "airline", "banking")
SEEDS = range(60)
POLICY_ONLY_AT_LEAST = {"retail": 0.30, "airline": 0.60, "banking": 0.60}
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_OWN_REASON = re.compile(r"\b(because|since|as)\b")  # the phrasebooks' motive openers


@dataclass
class World:
    env: Environment
    infeasible: list[Task] = field(default_factory=list)
    changing: list[Task] = field(default_factory=list)


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    found = {}
    for name in DOMAINS:
        domain = t2t.load_domain(name)
        env = domain.environment(domain.generate_db(seed=0, **domain.scales["small"]))
        graph, pool = build_tool_graph(env), ValuePool(env.to_dict())
        world = World(env)
        for seed in SEEDS:
            walk = explore_offline(env, graph, pool, seed=seed)
            if walk is None:
                continue
            base = t2t.tasks.convert_walk(walk, task_id=f"{name}-{seed:06d}-base", seed=seed)
            for kind in ("infeasible", "changing"):
                try:
                    task = INTENT_KINDS[kind].build(walk, base, random.Random(seed))
                except Rejected:
                    continue
                if check_variant(task, env).ok:
                    getattr(world, kind).append(task)
        found[name] = world
    return found


def _forbidden(task: Task) -> ToolCall:
    call = task.variant.details["forbidden_call"]
    return ToolCall(name=call["name"], arguments=call["arguments"])


def _after_gold(env: Environment, task: Task) -> Environment:
    final, replay = replay_calls(env, task.gold_calls)
    assert replay.errors == []
    return final


def _owner(env: Environment, value, key: str):
    """Whose record `value` names: its own user field, or that of the account it belongs to."""
    for table in env.state.tables():
        if isinstance(value, str) and value in env.state[table]:
            record = env.state[table][value]
            if key in record:
                return record[key]
            if "account_id" in record:
                return env.state["accounts"][record["account_id"]][key]
    return None


def _with_forbidden(task: Task, call: ToolCall) -> Task:
    copy = task.model_copy(deep=True)
    copy.variant.details["forbidden_call"] = call.model_dump(exclude={"id"})
    copy.variant.details["forbidden"] = [{"name": call.name, "arguments": {}}]
    return copy


# ------------------------------------------------------------------ infeasible


@pytest.mark.parametrize("name", DOMAINS)
def test_every_infeasible_task_says_who_refuses_it(worlds, name):
    world = worlds[name]
    assert len(world.infeasible) >= 20
    for task in world.infeasible:
        recorded = task.variant.details["refusal_source"]
        assert recorded in ("policy", "tool"), task.id
        final = _after_gold(world.env, task)
        assert refusal_source(final, _forbidden(task)) == recorded, task.id
        accepted = final.fork().run(_forbidden(task)).ok
        assert accepted == (recorded == "policy"), task.id
        assert audit_task(task, world.env).labelled is True


@pytest.mark.parametrize("name", DOMAINS)
def test_most_infeasible_requests_are_forbidden_by_the_policy_alone(worlds, name):
    tasks = worlds[name].infeasible
    policy = [t for t in tasks if t.variant.details["refusal_source"] == "policy"]
    assert len(policy) / len(tasks) >= POLICY_ONLY_AT_LEAST[name], (len(policy), len(tasks))


@pytest.mark.parametrize("name", DOMAINS)
def test_no_infeasible_request_is_degenerate(worlds, name):
    world = worlds[name]
    for task in world.infeasible:
        final = _after_gold(world.env, task)
        assert degenerate_reason(final, _forbidden(task)) is None, task.id
        assert audit_task(task, world.env).degenerate is False, task.id


@pytest.mark.parametrize("name", ("retail", "banking"))
def test_requests_about_another_customers_records_are_built(worlds, name):
    """The tools let them through; the written one-customer rule forbids them."""
    world = worlds[name]
    foreign = [t for t in world.infeasible if t.variant.details["rule"] == OWN_RECORDS]
    assert len(foreign) >= 5
    key = user_key(world.env)
    for task in foreign:
        details = task.variant.details
        assert details["refusal_source"] == "policy"
        assert details["hidden"] == [key]
        final = _after_gold(world.env, task)
        named = [v for k, v in _forbidden(task).arguments.items() if k.endswith("_id")]
        owners = {_owner(final, value, key) for value in named} - {None}
        assert owners and details["user_id"] not in owners, task.id
        # the agent must look the record up to see whose it is, when the user quotes its number;
        # a card or account named by its last digits is one the agent finds none of the user's fits
        required = {c["name"] for c in details["required"]}
        quoted = [v for v in named if not has_internal_id(v)]
        assert bool(required) == bool(quoted), task.id
        if not quoted:
            said = {str(v) for c in task.gold_calls for v in c.arguments.values()}
            assert not said & set(named), task.id  # no read of someone else's card


_BY_STATUS = {
    "cancel_only_pending",
    "modify_only_pending",
    "modify_items_once",
    "return_exchange_only_delivered",
    "limit_change_only_active_card",
    "lost_card_stays_blocked",
}


def test_a_status_that_blocks_the_request_is_marked_hidden(worlds):
    """The wording layer hides `hidden` attributes: the user must not state why it is refused."""
    tasks = [
        t for w in worlds.values() for t in w.infeasible if t.variant.details["rule"] in _BY_STATUS
    ]
    assert len(tasks) >= 10
    for task in tasks:
        assert "status" in task.variant.details["hidden"], task.id


def _first(rows, predicate):
    return next(row for row in rows if predicate(row))


def test_each_kind_of_degenerate_request_is_found_and_rejected(worlds):
    """Self-exchange, same-account move, a value outside the allowed set, impossible counts,
    paying for free bags, items not in the named record, and a call that changes nothing."""
    retail, airline, banking = (worlds[n].env for n in DOMAINS)
    orders = retail.state["orders"]
    pending = _first(orders.values(), lambda o: o["status"] == "pending")
    delivered = _first(orders.values(), lambda o: o["status"] == "delivered")
    other_item = _first(
        (i["item_id"] for o in orders.values() for i in o["items"]),
        lambda i: all(i != x["item_id"] for x in delivered["items"]),
    )
    item = delivered["items"][0]["item_id"]
    paid = delivered["payment_history"][0]["payment_method_id"]
    user = retail.state["users"][pending["user_id"]]
    reservation = _first(
        airline.state["reservations"].values(),
        lambda r: r.get("status") != "cancelled" and r["cabin"] == "business",
    )
    payment = next(iter(airline.state["users"][reservation["user_id"]]["payment_methods"]))
    account = _first(banking.state["accounts"].values(), lambda a: a["status"] == "open")
    cases = [
        (
            retail,
            "exchange_delivered_order_items",
            {
                "order_id": delivered["order_id"],
                "item_ids": [item],
                "new_item_ids": [item],
                "payment_method_id": paid,
            },
            "onto itself",
        ),
        (
            banking,
            "transfer_between_accounts",
            {
                "from_account_id": account["account_id"],
                "to_account_id": account["account_id"],
                "amount": 10.0,
            },
            "onto itself",
        ),
        (
            retail,
            "cancel_pending_order",
            {"order_id": pending["order_id"], "reason": "paypal_5886612"},
            "not one of",
        ),
        (
            airline,
            "update_reservation_baggages",
            {
                "reservation_id": reservation["reservation_id"],
                "total_baggages": reservation["total_baggages"] + 1,
                "nonfree_baggages": reservation["total_baggages"] + 3,
                "payment_id": payment,
            },
            "more than total",
        ),
        (
            airline,
            "update_reservation_baggages",
            {
                "reservation_id": reservation["reservation_id"],
                "total_baggages": reservation["total_baggages"] + 1,
                "nonfree_baggages": reservation["total_baggages"] + 1,
                "payment_id": payment,
            },
            "no_charge_for_free_bags",
        ),
        (
            retail,
            "return_delivered_order_items",
            {
                "order_id": delivered["order_id"],
                "item_ids": [other_item],
                "payment_method_id": paid,
            },
            "not in the record",
        ),
        (
            retail,
            "modify_user_address",
            {"user_id": user["user_id"], **user["address"]},
            "change nothing",
        ),
    ]
    for env, name, arguments, words in cases:
        reason = degenerate_reason(env, ToolCall(name=name, arguments=arguments))
        assert reason is not None and words in reason, (name, reason)
    # the verifier rejects a task built on one, and the audit counts it
    task = worlds["retail"].infeasible[0]
    env, name, arguments, _ = cases[0]
    edited = _with_forbidden(task, ToolCall(name=name, arguments=arguments))
    verdict = check_variant(edited, env)
    assert not verdict.ok
    assert audit_task(edited, env).degenerate is True


# ------------------------------------------------------------------ changing


@pytest.mark.parametrize("name", DOMAINS)
def test_most_changing_tasks_are_a_change_of_mind_and_added_requests_stay_few(worlds, name):
    tasks = worlds[name].changing
    assert len(tasks) >= 25
    strategies = [t.variant.details["strategy"] for t in tasks]
    added = strategies.count("add-request") / len(tasks)
    assert added <= 0.20, strategies
    assert 1 - added >= 0.70
    assert {audit_task(t).change_of_mind for t in tasks} <= {True, False}


@pytest.mark.parametrize("name", DOMAINS)
def test_the_switch_gives_a_reason_in_the_users_words(worlds, name):
    tools = set(worlds[name].env.domain.tools)
    for task in worlds[name].changing:
        details = task.variant.details
        switch, motive = details["switch"], details["motive"]
        own_reason = _OWN_REASON.search(switch.split(":", 1)[-1].removeprefix(f" {motive},"))
        assert (motive and motive in switch) or own_reason, task.id
        if details["strategy"] == "switch-action":  # one reason, not "that suits me better …
            assert not (motive and own_reason), switch  # … because it arrived damaged"
        assert len(re.findall(r"\binstead\b", switch)) <= 1, switch
        assert any(word in switch.lower() for word in _SWITCH_WORDS), switch
        assert not _SNAKE.search(motive or "") and not any(t in (motive or "") for t in tools)
        user = INTENT_KINDS["changing"].user_script(task, worlds[name].env.domain)
        assert user.on_confirm(99) == switch


@pytest.mark.parametrize("name", DOMAINS)
def test_no_changing_gold_ends_in_the_initial_state(worlds, name):
    world = worlds[name]
    for task in world.changing:
        final = _after_gold(world.env, task)
        assert final.state_hash() != world.env.state_hash(), task.id
        assert audit_task(task, world.env).noop_gold is False
    # a gold whose writes undo each other (here: no writes at all) is rejected
    task = world.changing[0]
    copy = task.model_copy(deep=True)
    reads = [a for a in copy.evaluation_criteria.actions if not world.env.domain.is_write(a.name)]
    copy.evaluation_criteria.actions = reads
    verdict = check_variant(copy, world.env)
    assert not verdict.ok and "initial state" in verdict.reason


@pytest.mark.parametrize("name", DOMAINS)
def test_an_ignored_added_request_fails_on_the_database(worlds, name):
    """The scripted user says "that's all" once the agent is done, even when the agent never
    made the added request: the final database still fails the stubborn probe."""
    world = worlds[name]
    added = [t for t in world.changing if t.variant.details["strategy"] == "add-request"][:2]
    assert added
    for task in added:
        config = RunConfig(agent="t2t/stubborn")
        prepare([task], world.env, config)
        episode, _ = asyncio.run(run_episode(task, world.env, config, 0))
        assert episode.reward.state_ok is False, task.id
        assert episode.reward.value == 0.0
        oracle = RunConfig(agent="t2t/oracle")
        prepare([task], world.env, oracle)
        episode, _ = asyncio.run(run_episode(task, world.env, oracle, 0))
        assert episode.reward.value == 1.0, task.id
