"""Intent variants: every kept task replays, each kind keeps its promise, broken tasks are rejected.

Tasks are built in-process the way the pipeline builds them (explore → convert → build each
kind), on the small seeded DB of every built-in domain. Checks re-derive each kind's promise with
plain replays rather than trusting the kind's own `verify`.
"""

import json
import random
from dataclasses import dataclass, field

import pytest

import t2t
from t2t.core.replay import replay_calls, verify_task
from t2t.core.schema import Task, ToolCall
from t2t.explore import build_tool_graph, explore_offline
from t2t.explore.values import ValuePool
from t2t.intents import INTENT_KINDS, Rejected, check_variant
from t2t.intents.sound import broken_rules
from t2t.tasks import convert_walk

DOMAINS = ("retail", "airline", "banking")
KINDS = ("base", "ambiguous", "changing", "infeasible")
SEEDS = range(20)


@dataclass
class Built:
    domain: str
    env: object
    db: dict
    walk: object
    base: Task
    tasks: dict[str, Task] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built() -> list[Built]:
    rows = []
    for name in DOMAINS:
        domain = t2t.load_domain(name)
        db = domain.generate_db(seed=0, **domain.scales["small"])
        env = domain.environment(db)
        graph, pool = build_tool_graph(env), ValuePool(db)
        for seed in SEEDS:
            walk = explore_offline(env, graph, pool, seed=seed)
            if walk is None:
                continue
            base = convert_walk(walk, task_id=f"{name}-{seed:06d}-base", seed=seed)
            row = Built(name, env, db, walk, base)
            for kind in KINDS:
                try:
                    row.tasks[kind] = INTENT_KINDS[kind].build(walk, base, random.Random(seed))
                except Rejected as exc:
                    row.rejected[kind] = str(exc)
            rows.append(row)
    return rows


def kept(built, kind):
    """(row, task) for every task of `kind` that passes its check, as the pipeline keeps them."""
    found = []
    for row in built:
        task = row.tasks.get(kind)
        if task is not None and check_variant(task, row.env).ok:
            found.append((row, task))
    return found


def plain(calls):
    return [(c.name, c.arguments) for c in calls]


def writes_of(env, calls):
    return [(c.name, c.arguments) for c in calls if env.domain.is_write(c.name)]


def last_write(env, calls) -> int:
    return max(i for i, c in enumerate(calls) if env.domain.is_write(c.name))


def clean(env, calls):
    final, replay = replay_calls(env, calls, check_rules=True)
    assert replay.errors == [] and replay.violations == [], (replay.errors, replay.violations)
    return final.state_hash()


def reachable(db, table, user_id, rounds=3):
    """Values (scalars and dict keys) of the user's record and of records reachable from it."""

    def values(value, found):
        if isinstance(value, dict):
            for key, item in value.items():
                found.add(key)
                values(item, found)
        elif isinstance(value, list):
            for item in value:
                values(item, found)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            found.add(value)
        return found

    own = values(db[table][user_id], {user_id})
    found = set(own)
    for records in db.values():  # records that point back at what the user owns (transactions)
        for key, record in records.items():
            if own & {v for v in record.values() if isinstance(v, str)}:
                found.add(key)
                values(record, found)
    for _ in range(rounds):
        for records in db.values():
            for key in found & records.keys():
                values(records[key], found)
    return found


# ------------------------------------------------------------------ 1. every kept task replays


def test_every_kind_is_built_in_every_domain(built):
    for name in DOMAINS:
        for kind in KINDS:
            count = sum(1 for row in built if row.domain == name and kind in row.tasks)
            assert count >= 3, (name, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_every_built_task_verifies_and_passes_its_check(built, kind):
    for row in built:
        task = row.tasks.get(kind)
        if task is None:
            continue
        check = check_variant(task, row.env)
        assert check.ok and check.kind == kind and check.reason is None, (task.id, check.reason)
        verdict = verify_task(task, row.env)
        assert verdict.ok, (task.id, verdict.errors, verdict.violations)
        assert task.variant.kind == kind and task.id == row.base.id.replace("-base", f"-{kind}")
        if kind != "base":
            assert task.variant.parent_id == row.base.id


def test_rejections_say_why(built):
    reasons = {r for row in built for r in row.rejected.values()}
    assert reasons and all(len(r) > 10 for r in reasons)


# ------------------------------------------------------------------ 2. ambiguous


def test_ambiguous_candidates_are_the_users_and_each_changes_the_outcome(built):
    tasks = kept(built, "ambiguous")
    assert len(tasks) >= 10
    for row, task in tasks:
        details = task.variant.details
        candidates, gold_value = details["candidates"], details["gold_value"]
        assert len(candidates) >= 2 and len(set(map(json.dumps, candidates))) == len(candidates)
        assert gold_value in candidates
        own = reachable(row.db, row.walk.graph.user_table, row.walk.user_id)
        assert set(candidates) <= own, (task.id, set(candidates) - own)
        calls = task.gold_calls
        index = last_write(row.env, calls)
        arg, element = details["slot"]["arg"], details["slot"]["element"]
        value = calls[index].arguments[arg]
        assert (value if element is None else value[element]) == gold_value
        gold_hash = clean(row.env, calls)
        for other in candidates:
            if other == gold_value:
                continue
            swapped = dict(calls[index].arguments)
            if element is None:
                swapped[arg] = other
            else:
                swapped[arg] = [*value[:element], other, *value[element + 1 :]]
            changed = [*calls[:index], ToolCall(name=calls[index].name, arguments=swapped)]
            assert clean(row.env, changed + calls[index + 1 :]) != gold_hash, (task.id, other)


def test_the_ambiguous_request_does_not_name_the_withheld_value(built):
    for _, task in kept(built, "ambiguous"):
        instructions = task.user_scenario.instructions
        vague = instructions.reason_for_call.split("; then ")[-1]
        assert str(task.variant.details["gold_value"]) not in vague
        assert "Only if the agent asks which one" in instructions.task_instructions
        assert task.variant.details["withheld"] in instructions.task_instructions


def test_ambiguous_tasks_are_not_rewarded_for_telling_anything(built):
    """The base task's question names the record the user holds back, so ambiguous drops it."""
    tasks = kept(built, "ambiguous")
    assert tasks
    for _, task in tasks:
        criteria = task.evaluation_criteria
        assert criteria.communicate_info == [] and criteria.reward_basis == ["DB"], task.id
        assert task.variant.details["ask"] is None
        assert "also want to know" not in task.user_scenario.instructions.reason_for_call


def _pairs(text: str) -> set[str]:
    return {part.strip().replace("_", " ") for part in text.split(", ") if ": " in part}


# ------------------------------------------------------------------ 3. changing


def test_changing_goals_both_replay_and_end_in_different_states(built):
    tasks = kept(built, "changing")
    assert len(tasks) >= 10
    for row, task in tasks:
        goal_a = [ToolCall(**c) for c in task.variant.details["goal_a"]]
        assert plain(goal_a) != plain(task.gold_calls)
        assert clean(row.env, goal_a) != clean(row.env, task.gold_calls), task.id
        stages = task.variant.details["stages"]
        assert [s["goal"] for s in stages] == ["A", "B"]
        assert task.evaluation_criteria.communicate_info == []
        assert task.evaluation_criteria.reward_basis == ["DB"]


# ------------------------------------------------------------------ 4. infeasible


def test_infeasible_requests_break_the_named_rule_after_the_gold(built):
    tasks = kept(built, "infeasible")
    assert len(tasks) >= 10
    for row, task in tasks:
        details = task.variant.details
        forbidden = ToolCall(**details["forbidden_call"])
        final, replay = replay_calls(row.env, task.gold_calls, check_rules=True)
        assert replay.errors == [] and replay.violations == []
        broken = broken_rules(final, forbidden, details["user_id"])
        assert details["rule"] in dict(broken), (task.id, broken)
        assert (forbidden.name, forbidden.arguments) not in plain(task.gold_calls)
        base_writes = writes_of(row.env, row.base.gold_calls)
        assert writes_of(row.env, task.gold_calls) == base_writes[:-1], task.id
        before_last = row.base.gold_calls[: last_write(row.env, row.base.gold_calls)]
        assert final.state_hash() == clean(row.env, before_last)
        (partial,) = details["forbidden"]
        assert partial["name"] == forbidden.name
        assert partial["arguments"].items() <= forbidden.arguments.items()
        assert task.evaluation_criteria.communicate_info == []


# ------------------------------------------------------------------ 5. broken tasks are rejected


def _edited(task: Task, **details) -> Task:
    copy = task.model_copy(deep=True)
    copy.variant.details.update(details)
    return copy


def _with_gold(task: Task, calls: list[ToolCall]) -> Task:
    copy = task.model_copy(deep=True)
    for action, call in zip(copy.evaluation_criteria.actions, calls, strict=True):
        action.arguments = call.arguments
    return copy


@pytest.mark.parametrize("kind", KINDS)
def test_a_gold_call_on_a_record_that_does_not_exist_is_rejected(built, kind):
    own = {"user_id", "customer_id"}
    checked = 0
    for row, task in kept(built, kind)[:8]:
        calls = task.gold_calls
        slot = task.variant.details.get("slot", {}).get("arg")  # a swapped slot: its own reason
        named = [
            (i, a)
            for i, c in enumerate(calls)
            for a in c.arguments
            if a.endswith("_id") and a not in own and a != slot
        ]
        if not named:
            continue
        index, arg = named[-1]  # the last write when it names a record, else the read before
        calls[index] = ToolCall(
            name=calls[index].name, arguments={**calls[index].arguments, arg: "nonexistent_0"}
        )
        broken = _with_gold(task, calls)
        check = check_variant(broken, row.env)
        assert not check.ok
        assert f"call {index} ({calls[index].name}) fails" in check.reason, check.reason
        verdict = verify_task(broken, row.env)
        assert not verdict.ok and verdict.errors[0].index == index
        checked += 1
    assert checked >= 3


def test_a_swapped_item_is_rejected_naming_the_call(built):
    checked = 0
    for row, task in kept(built, "base"):
        calls = task.gold_calls
        index = last_write(row.env, calls)
        item_ids = calls[index].arguments.get("item_ids")
        if row.domain != "retail" or not item_ids:
            continue
        order = row.db["orders"][calls[index].arguments["order_id"]]
        foreign = next(
            item["item_id"]
            for other in row.db["orders"].values()
            for item in other["items"]
            if item["item_id"] not in {i["item_id"] for i in order["items"]}
        )
        swapped = {**calls[index].arguments, "item_ids": [foreign, *item_ids[1:]]}
        calls[index] = ToolCall(name=calls[index].name, arguments=swapped)
        check = check_variant(_with_gold(task, calls), row.env)
        assert not check.ok and f"call {index} ({calls[index].name})" in check.reason
        assert not verify_task(_with_gold(task, calls), row.env).ok
        checked += 1
    assert checked >= 3


def test_a_feasible_infeasible_request_is_rejected_as_allowed(built):
    rows = {row.base.id: row for row in built}
    tasks = kept(built, "infeasible")
    for _, task in tasks:
        row = rows[task.variant.parent_id]
        feasible = row.base.gold_calls[last_write(row.env, row.base.gold_calls)]
        as_feasible = _edited(
            task, forbidden_call={"name": feasible.name, "arguments": feasible.arguments}
        )
        check = check_variant(as_feasible, row.env)
        assert not check.ok and "allowed" in check.reason, check.reason
    row, task = tasks[0]
    read = task.gold_calls[0]
    as_read = _edited(task, forbidden_call={"name": read.name, "arguments": read.arguments})
    check = check_variant(as_read, row.env)
    assert not check.ok and "allowed" in check.reason


def test_an_infeasible_task_naming_the_wrong_rule_is_rejected(built):
    row, task = kept(built, "infeasible")[0]
    check = check_variant(_edited(task, rule="no_such_rule"), row.env)
    assert not check.ok and "not no_such_rule" in check.reason
    check = check_variant(_edited(task, forbidden_call=None), row.env)
    assert not check.ok and "no forbidden call" in check.reason


def test_an_ambiguous_task_with_one_candidate_is_rejected(built):
    for row, task in kept(built, "ambiguous")[:5]:
        gold = task.variant.details["gold_value"]
        check = check_variant(_edited(task, candidates=[gold]), row.env)
        assert not check.ok and "only 1 candidate" in check.reason
        other = next(c for c in task.variant.details["candidates"] if c != gold)
        check = check_variant(_edited(task, gold_value=other), row.env)
        assert not check.ok and "does not use the withheld value" in check.reason


def test_an_ambiguous_candidate_that_fails_is_rejected(built):
    row, task = kept(built, "ambiguous")[0]
    gold = task.variant.details["gold_value"]
    check = check_variant(_edited(task, candidates=[gold, "nonexistent_0"]), row.env)
    assert not check.ok and check.reason.startswith("candidate nonexistent_0: call")


def test_a_changing_task_whose_goals_end_alike_is_rejected(built):
    for row, task in kept(built, "changing")[:5]:
        gold = [c.model_dump(exclude={"id"}) for c in task.gold_calls]
        check = check_variant(_edited(task, goal_a=gold), row.env)
        assert not check.ok and "same state" in check.reason
    check = check_variant(_edited(task, goal_a=[]), row.env)
    assert not check.ok and "no first goal" in check.reason
    failing = [*gold[:-1], {**gold[-1], "arguments": {}}]
    check = check_variant(_edited(task, goal_a=failing), row.env)
    assert not check.ok and check.reason.startswith(f"goal A: call {len(gold) - 1}")


def test_a_base_task_that_changes_nothing_is_rejected(built):
    row, task = kept(built, "base")[0]
    reads_only = task.model_copy(deep=True)
    reads_only.evaluation_criteria.actions = [
        a
        for a in reads_only.evaluation_criteria.actions
        if not row.env.domain.tools[a.name].mutates
    ]
    check = check_variant(reads_only, row.env)
    assert not check.ok and check.reason == "gold changes nothing"


def test_unknown_kinds_and_malformed_details_are_rejected(built):
    row, task = kept(built, "ambiguous")[0]
    unknown = task.model_copy(deep=True)
    unknown.variant.kind = "sarcastic"
    assert check_variant(unknown, row.env).reason == "unknown kind"
    malformed = task.model_copy(deep=True)
    del malformed.variant.details["slot"]
    check = check_variant(malformed, row.env)
    assert not check.ok and check.reason.startswith("malformed variant details")


# An ambiguous candidate that ends in the gold state needs a tool that ignores an argument;
# the built-in domains have none, so a tiny folder domain provides one.
NOTES_TOOLS = '''
from t2t import State, ToolCallError, tool


@tool(kind="read")
def get_user_details(db: State, user_id: str) -> dict:
    """Get a user.

    Args:
        user_id: The user id.
    """
    if user_id not in db["users"]:
        raise ToolCallError("User not found")
    return db["users"][user_id]


@tool(kind="write")
def deposit(db: State, user_id: str, branch_id: str, amount: float) -> dict:
    """Deposit money; the branch is checked but not recorded.

    Args:
        user_id: The user id.
        branch_id: The branch taking the deposit.
        amount: How much.
    """
    if branch_id not in db["branches"]:
        raise ToolCallError("Branch not found")
    record = db.edit("users", user_id)
    record["balance"] = record["balance"] + amount
    return record
'''


def test_an_ambiguous_candidate_ending_in_the_gold_state_is_rejected(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "tools.py").write_text(NOTES_TOOLS)
    (folder / "policy.md").write_text("# Notes\n")
    db = {
        "users": {"u1": {"user_id": "u1", "balance": 1.0, "branches": ["b1", "b2"]}},
        "branches": {"b1": {"city": "Austin"}, "b2": {"city": "Boston"}},
    }
    (folder / "db.json").write_text(json.dumps(db))
    domain = t2t.load_domain(str(folder))
    env = domain.environment(domain.default_db())
    deposit = {"user_id": "u1", "branch_id": "b1", "amount": 5.0}
    task = Task.model_validate(
        {
            "id": "notes-0-ambiguous",
            "user_scenario": {
                "instructions": {
                    "domain": "notes",
                    "reason_for_call": "-",
                    "task_instructions": "-",
                }
            },
            "evaluation_criteria": {
                "actions": [
                    {"action_id": "0", "name": "get_user_details", "arguments": {"user_id": "u1"}},
                    {"action_id": "1", "name": "deposit", "arguments": deposit},
                ]
            },
            "variant": {
                "kind": "ambiguous",
                "details": {
                    "strategy": "detail",
                    "slot": {"arg": "branch_id", "element": None},
                    "gold_value": "b1",
                    "candidates": ["b1", "b2"],
                },
            },
        }
    )
    check = check_variant(task, env)
    assert (
        not check.ok and check.reason == "candidate b2 ends in the gold state: nothing to clarify"
    )
    assert verify_task(task, env).ok  # the gold itself is fine: only the ambiguity is not


@pytest.mark.parametrize("kind", KINDS)
def test_typed_details_read_back_what_build_stored(built, kind):
    """Each kind's details model covers its keys and round-trips them (the file is unchanged)."""
    model = INTENT_KINDS[kind].details_model
    for _, task in kept(built, kind)[:5]:
        details = model.model_validate(task.variant.details)
        own = set(model.model_fields) & set(task.variant.details)
        assert details.model_dump(include=own) == {k: task.variant.details[k] for k in own}
        everything = {**details.model_dump(include=own), **(details.model_extra or {})}
        assert list(everything) and set(everything) == set(task.variant.details)
        if kind != "base":
            assert own == set(model.model_fields), task.id  # build stores every field
