"""The task-set audit: each metric true and false on hand-written tasks, replay metrics on real
generated tasks, and the `t2t audit` command."""

from __future__ import annotations

import json

import pytest

import t2t
from t2t.cli import main
from t2t.core.files import read_tasks
from t2t.core.schema import Task
from t2t.failures import AuditReport, audit_frame, audit_task, audit_tasks, task_text
from t2t.tasks.task_set import open_task_set

QUIET = (
    "Give the agent only the information above. When your request is handled, end with ###STOP###."
)


def _task(reason, *, kind="base", details=None, actions=(), known=None, unknown=None):
    return Task.model_validate(
        {
            "id": f"t-{kind}",
            "domain": "retail",
            "user_scenario": {
                "instructions": {
                    "domain": "retail",
                    "reason_for_call": reason,
                    "known_info": known,
                    "unknown_info": unknown,
                    "task_instructions": QUIET,
                }
            },
            "evaluation_criteria": {
                "actions": [
                    {"action_id": str(i), "name": n, "arguments": a}
                    for i, (n, a) in enumerate(actions)
                ]
            },
            "variant": {"kind": kind, "details": details or {}},
        }
    )


@pytest.fixture(scope="module")
def env(retail):
    return retail.environment(retail.default_db())


NATURAL = "My new lamp arrived broken, so I'd like to send it back for a refund."
TOOLISH = (
    "You want to exchange delivered order items: order #W2704878 (items: Lumen Bicycle, status: "
    "delivered), the item (size: small, color: grey), user robert_pierce_5792, "
    "paid with gift_card_1309715 at 2024-05-08T02:29:32."
)


@pytest.mark.parametrize(
    "metric", ["tool_name", "key_value_dump", "snake_case", "internal_id", "timestamp"]
)
def test_tool_like_metrics_are_true_on_tool_text_and_false_on_natural_text(env, metric):
    assert getattr(audit_task(_task(TOOLISH), env), metric) is True
    assert getattr(audit_task(_task(NATURAL), env), metric) is False


def test_tool_name_as_snake_case_or_words_case_insensitive(env):
    assert audit_task(_task("please run Cancel Pending Order for me"), env).tool_name
    assert audit_task(_task("use cancel_pending_order"), env).tool_name
    assert not audit_task(_task("please cancel my order"), env).tool_name


def test_one_key_value_pair_is_not_a_dump(env):
    assert not audit_task(_task("The color: grey one, please."), env).key_value_dump
    assert audit_task(_task("size: small, color: grey"), env).key_value_dump


def test_emails_are_neither_snake_case_nor_internal_ids(env):
    audit = audit_task(_task("Write to jane_doe_42@example.com, please."), env)
    assert not audit.snake_case and not audit.internal_id


def test_order_and_reservation_numbers_are_not_internal_ids(env):
    audit = audit_task(_task("Order #W5188661 and reservation Y569R2, please."), env)
    assert not audit.internal_id
    assert audit_task(_task("Pay from acc_123 to pay_1000031."), env).internal_id


def test_motive_is_saying_why_not_a_tool_name(env):
    assert audit_task(_task(NATURAL), env).motive
    assert audit_task(_task("I ordered it by mistake."), env).motive
    assert not audit_task(_task(TOOLISH), env).motive


def test_words_count_the_reason_for_call_only(env):
    assert audit_task(_task("one two three", known="four five six seven"), env).words == 3


def test_repeated_gold_is_two_identical_calls(env):
    same = [("get_order_details", {"order_id": "#W1"})] * 2
    other = [("get_order_details", {"order_id": "#W1"}), ("get_order_details", {"order_id": "#W2"})]
    assert audit_task(_task(NATURAL, actions=same), env).repeated_gold
    assert not audit_task(_task(NATURAL, actions=other), env).repeated_gold


def test_kind_texts_are_audited_too():
    task = _task(NATURAL, kind="ambiguous", details={"withheld": "the one with id gift_card_7"})
    assert "gift_card_7" in task_text(task)


def test_withheld_with_an_id_or_a_time(env):
    for withheld, expected in [
        ("material: polyester", False),
        ("insurance: yes (id RDH24P)", True),
        ("created_at: 2024-05-06T20:37:51", True),
        ("the card card_4821", True),
    ]:
        task = _task(NATURAL, kind="ambiguous", details={"withheld": withheld})
        assert audit_task(task, env).withheld_has_id_or_time is expected, withheld
    assert audit_task(_task(NATURAL), env).withheld_has_id_or_time is None


def test_changing_noop_gold_and_strategy(env):
    reads = [("get_order_details", {"order_id": "#W0000001"})]
    task = _task(NATURAL, kind="changing", details={"strategy": "add-request"}, actions=reads)
    audit = audit_task(task, env)
    assert audit.noop_gold is True and audit.strategy == "add-request"
    user = next(iter(env.to_dict()["users"]))
    address = {
        "address1": "1 Main St",
        "address2": "",
        "city": "Austin",
        "state": "TX",
        "country": "USA",
        "zip": "78701",
    }
    writes = [("modify_user_address", {"user_id": user, **address})]
    task = _task(NATURAL, kind="changing", details={"strategy": "other-record"}, actions=writes)
    assert audit_task(task, env).noop_gold is False


def test_degenerate_self_exchange(env):
    from t2t.intents.sound import self_move

    assert self_move({"item_ids": ["1"], "new_item_ids": ["1"]})
    assert self_move({"from_account_id": "acc_1", "to_account_id": "acc_1"})
    assert not self_move({"item_ids": ["1"], "new_item_ids": ["2"]})
    assert not self_move({"from_account_id": "acc_1", "to_account_id": "acc_2"})


@pytest.fixture(scope="module")
def banking_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("banking-audit")
    t2t.generate_tasks(t2t.GenerateConfig(domain="banking", n=40), folder, progress=False)
    return folder / "tasks.jsonl"


def test_policy_only_on_real_infeasible_tasks(banking_set):
    tasks, env = open_task_set(banking_set, variants=["infeasible"])
    audits = audit_tasks(tasks, env, progress=False)
    by_id = {a.task_id: a for a in audits}
    accepted = [t for t in tasks if by_id[t.id].policy_only]
    refused = [t for t in tasks if by_id[t.id].policy_only is False]
    assert accepted and refused
    for task, expected in [(accepted[0], True), (refused[0], False)]:
        from t2t.core.replay import replay_gold
        from t2t.core.schema import ToolCall

        final, _ = replay_gold(task, env)
        call = task.variant.details["forbidden_call"]
        assert final.fork().run(ToolCall(**call)).ok is expected


def test_frame_shares_and_all_rows(banking_set):
    tasks, env = open_task_set(banking_set)
    frame = audit_frame(audit_tasks(tasks, env, progress=False))
    assert set(frame["kind"]) >= {"base", "infeasible", "all"}
    total = frame[frame["kind"] == "all"]["tasks"].iloc[0]
    assert total == len(tasks)
    assert frame["motive"].between(0, 1).all()


def test_cli_audit_writes_json_refuses_overwrite_and_fails_in_one_line(
    banking_set, tmp_path, capsys
):
    out = tmp_path / "audit.json"
    assert main(["audit", str(banking_set), "--json", str(out), "-q"]) == 0
    report = AuditReport.model_validate(json.loads(out.read_text()))
    assert len(report.tasks) == len(read_tasks(banking_set))
    assert "infeasible" in capsys.readouterr().out
    assert main(["audit", str(banking_set), "--json", str(out), "-q"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["audit", str(banking_set), "--json", str(out), "--force", "-q"]) == 0
    capsys.readouterr()
    assert main(["audit", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.jsonl" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["audit", str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
