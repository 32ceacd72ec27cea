"""Banking policy rules: each allows a compliant call, refuses a violating one and never raises."""

import pytest
from test_banking_db import (
    ANA,
    BILLS,
    BILLS_CARD,
    CHK,
    CREDIT,
    CREDIT_BUY,
    CREDIT_CARD,
    DAY_60_BUY,
    DAY_61_BUY,
    DEBIT,
    DISPUTED_BUY,
    EMPTY,
    FEE,
    GROCERY,
    LOST,
    MARCO,
    OLD_BUY,
    OLD_SAV,
    PAYROLL,
    PENDING_BUY,
    POWER,
    REFUND,
    SAV,
    TODAY_OUT,
    ZCARD,
    ZCHK,
    ZFROZEN,
    ZOE,
    ZOLD_CARD,
    ZPENDING,
    ZPENDING_BUY,
    ZRENT,
    make_tiny_bank_db,
)

import t2t
from t2t import ToolCall

WRITE_TOOLS = {
    "transfer_between_accounts": ["from_account_id", "to_account_id", "amount"],
    "pay_payee": ["account_id", "payee_id", "amount"],
    "add_payee": ["customer_id", "name", "bank", "account_number"],
    "freeze_card": ["card_id"],
    "unfreeze_card": ["card_id"],
    "report_card_lost": ["card_id"],
    "update_card_limit": ["card_id", "new_limit"],
    "dispute_transaction": ["transaction_id", "reason"],
    "close_account": ["account_id"],
}


def transfer(source, target, amount):
    arguments = {"from_account_id": source, "to_account_id": target, "amount": amount}
    return ToolCall(name="transfer_between_accounts", arguments=arguments)


def pay(account, payee, amount):
    arguments = {"account_id": account, "payee_id": payee, "amount": amount}
    return ToolCall(name="pay_payee", arguments=arguments)


def limit(card, value):
    return ToolCall(name="update_card_limit", arguments={"card_id": card, "new_limit": value})


def on_card(name, card):
    return ToolCall(name=name, arguments={"card_id": card})


def dispute(transaction, reason="unauthorized"):
    arguments = {"transaction_id": transaction, "reason": reason}
    return ToolCall(name="dispute_transaction", arguments=arguments)


def close(account):
    return ToolCall(name="close_account", arguments={"account_id": account})


# rule -> calls it allows in the tiny DB
ALLOWED = {
    "debit_account_open": [transfer(CHK, SAV, 10), transfer(ZCHK, ZFROZEN, 10), pay(CHK, POWER, 5)],
    "sufficient_funds": [
        transfer(CHK, SAV, 1700),  # 1,200 balance + 500 overdraft
        pay(BILLS, POWER, 300),
        transfer(CREDIT, CHK, 2550),  # owes 450 of a 3,000 credit limit
    ],
    "within_daily_transfer_limit": [
        transfer(CHK, SAV, 1500),  # 1,000 of 2,500 already used today
        pay(CHK, POWER, 1500),
        transfer(SAV, CHK, 5000),
        transfer(CREDIT, CHK, 1000),  # money in today does not count
    ],
    "savings_monthly_withdrawals": [transfer(SAV, CHK, 10), pay(CHK, POWER, 10)],
    "same_customer": [transfer(CHK, SAV, 10), pay(CHK, POWER, 10), pay(ZCHK, ZRENT, 10)],
    "payee_verified_for_large_payment": [pay(CHK, MARCO, 1000), pay(CHK, POWER, 1400)],
    "limit_within_tier": [limit(DEBIT, 5000), limit(ZCARD, 15000), limit(CREDIT_CARD, 100)],
    "limit_change_only_active_card": [limit(DEBIT, 100), limit(ZCARD, 100)],
    "lost_card_stays_blocked": [
        on_card("freeze_card", DEBIT),
        on_card("unfreeze_card", CREDIT_CARD),
        on_card("report_card_lost", CREDIT_CARD),
    ],
    "dispute_posted_card_purchase": [dispute(GROCERY), dispute(DAY_61_BUY), dispute(CREDIT_BUY)],
    "dispute_within_window": [dispute(GROCERY), dispute(DAY_60_BUY), dispute(PAYROLL)],
    "dispute_once": [dispute(GROCERY), dispute(OLD_BUY)],
    "close_at_zero_balance": [close(EMPTY), close(ZPENDING)],
    "close_without_pending": [close(EMPTY), close(BILLS)],
    "frozen_account_not_closed": [close(EMPTY), close(CHK)],
}

# rule -> (call it refuses, words its reason must mention)
REFUSED = {
    "debit_account_open": [
        (transfer(ZFROZEN, ZCHK, 10), [ZFROZEN, "frozen"]),
        (transfer(OLD_SAV, CHK, 10), [OLD_SAV, "closed"]),
        (transfer(CHK, OLD_SAV, 10), [OLD_SAV, "closed", "into"]),
        (pay(ZFROZEN, ZRENT, 10), [ZFROZEN, "frozen"]),
    ],
    "sufficient_funds": [
        (transfer(CHK, SAV, 1700.01), [CHK, "$1,700.00", "$1,700.01"]),
        (pay(BILLS, POWER, 300.5), [BILLS, "$300.00"]),
        (transfer(CREDIT, CHK, 2600), [CREDIT, "$2,550.00"]),
    ],
    "within_daily_transfer_limit": [
        (transfer(CHK, SAV, 1500.01), [CHK, "$1,500.00", "$2,500.00", "$1,500.01"]),
        (pay(CHK, POWER, 2000), [CHK, "$1,500.00"]),
        (transfer(CREDIT, CHK, 1000.5), [CREDIT, "$1,000.00"]),
    ],
    "savings_monthly_withdrawals": [(transfer(SAV, CHK, 10), [SAV, "6 withdrawals"])],
    "same_customer": [
        (transfer(CHK, ZCHK, 10), [ZCHK, ZOE, ANA]),
        (pay(CHK, ZRENT, 10), [ZRENT, ZOE, CHK]),
        (pay(ZCHK, POWER, 10), [POWER, ANA, ZCHK]),
    ],
    "payee_verified_for_large_payment": [(pay(CHK, MARCO, 1000.01), [MARCO, "$1,000.00"])],
    "limit_within_tier": [
        (limit(DEBIT, 5000.01), ["$5,000.01", "$5,000.00", "standard"]),
        (limit(ZCARD, 20000), ["$15,000.00", "premium"]),
    ],
    "limit_change_only_active_card": [
        (limit(CREDIT_CARD, 100), [CREDIT_CARD, "frozen"]),
        (limit(LOST, 100), [LOST, "lost"]),
        (limit(ZOLD_CARD, 100), [ZOLD_CARD, "cancelled"]),
    ],
    "lost_card_stays_blocked": [
        (on_card("unfreeze_card", LOST), [LOST, "lost", DEBIT]),
        (on_card("freeze_card", LOST), [LOST]),
        (on_card("report_card_lost", ZOLD_CARD), [ZOLD_CARD, "cancelled"]),
    ],
    "dispute_posted_card_purchase": [
        (dispute(PENDING_BUY), [PENDING_BUY, "pending"]),
        (dispute(PAYROLL), [PAYROLL, "deposit"]),
        (dispute(REFUND), [REFUND, "refund"]),
        (dispute(FEE), ["fee"]),
        (dispute(TODAY_OUT), ["transfer"]),
    ],
    "dispute_within_window": [
        (dispute(DAY_61_BUY), [DAY_61_BUY, "2026-01-13", "60 days"]),
        (dispute(OLD_BUY), ["2025-12-20"]),
    ],
    "dispute_once": [(dispute(DISPUTED_BUY), [DISPUTED_BUY, "already disputed"])],
    "close_at_zero_balance": [
        (close(CHK), [CHK, "$1,200.00"]),
        (close(CREDIT), [CREDIT, "-$450.00"]),
    ],
    "close_without_pending": [
        (close(ZPENDING), [ZPENDING, ZPENDING_BUY]),
        (close(CHK), [PENDING_BUY]),
    ],
    "frozen_account_not_closed": [(close(ZFROZEN), [ZFROZEN, "human banker"])],
}

# calls to run before the refused cases of a rule (the state it needs)
PREPARE = {"savings_monthly_withdrawals": [transfer(SAV, BILLS, 10)]}


@pytest.fixture(scope="module")
def banking():
    return t2t.load_domain("banking")


@pytest.fixture
def env(banking):
    return banking.environment(make_tiny_bank_db())


def broken(env, call):
    reasons = env.check_rules(call)
    assert all(isinstance(r, str) and isinstance(why, str) and why for r, why in reasons)
    return dict(reasons)


def test_every_rule_is_covered(banking):
    names = {r.name for r in banking.rules}
    assert names == set(ALLOWED) == set(REFUSED)
    assert len(names) == 15
    assert all(r.tools <= set(WRITE_TOOLS) for r in banking.rules)


def test_every_rule_is_named_in_the_policy(banking):
    for r in banking.rules:
        assert f"`{r.name}`" in banking.policy


@pytest.mark.parametrize(
    ("rule", "call"), [(r, c) for r, calls in ALLOWED.items() for c in calls], ids=str
)
def test_rule_allows(env, rule, call):
    assert rule not in broken(env, call)


@pytest.mark.parametrize(
    ("rule", "call", "words"),
    [(r, c, w) for r, cases in REFUSED.items() for c, w in cases],
    ids=str,
)
def test_rule_refuses(env, rule, call, words):
    for step in PREPARE.get(rule, []):
        assert env.run(step).ok
    reasons = broken(env, call)
    assert rule in reasons
    for word in words:
        assert word in reasons[rule]


COMPLIANT = [
    transfer(CHK, SAV, 200),
    transfer(SAV, CHK, 200),
    pay(CHK, POWER, 150),
    pay(CHK, MARCO, 500),
    ToolCall(
        name="add_payee",
        arguments={"customer_id": ANA, "name": "Gym", "bank": "Bank", "account_number": "123456"},
    ),
    on_card("freeze_card", DEBIT),
    on_card("unfreeze_card", CREDIT_CARD),
    on_card("report_card_lost", BILLS_CARD),
    limit(DEBIT, 3000),
    dispute(GROCERY),
    close(EMPTY),
]


@pytest.mark.parametrize("call", COMPLIANT, ids=lambda c: c.name)
def test_compliant_calls_break_no_rule_and_succeed(env, call):
    assert env.check_rules(call) == []
    assert env.run(call).ok


def test_every_write_tool_has_a_compliant_example():
    assert {c.name for c in COMPLIANT} == set(WRITE_TOOLS)


# calls the bank's systems accept but the policy forbids: what an agent ignoring it can do
POLICY_ONLY = [
    (transfer(ZFROZEN, ZCHK, 10), "debit_account_open"),
    (transfer(CHK, SAV, 1600), "within_daily_transfer_limit"),
    (transfer(CHK, ZCHK, 10), "same_customer"),
    (pay(CHK, MARCO, 1200), "payee_verified_for_large_payment"),
    (limit(DEBIT, 8000), "limit_within_tier"),
    (limit(CREDIT_CARD, 100), "limit_change_only_active_card"),
    (dispute(PENDING_BUY), "dispute_posted_card_purchase"),
    (dispute(OLD_BUY), "dispute_within_window"),
]


@pytest.mark.parametrize(("call", "rule"), POLICY_ONLY, ids=lambda x: getattr(x, "name", x))
def test_policy_is_stricter_than_the_tools(env, call, rule):
    assert set(broken(env, call)) == {rule}
    fork = env.fork()
    assert fork.run(call).ok
    assert fork.diff(env)  # ignoring the policy really changes the state


def test_savings_withdrawals_are_counted_from_the_state(env):
    assert broken(env, transfer(SAV, CHK, 10)) == {}
    assert env.run(transfer(SAV, CHK, 10)).ok
    assert set(broken(env, transfer(SAV, CHK, 10))) == {"savings_monthly_withdrawals"}
    assert broken(env, transfer(CHK, SAV, 10)) == {}  # deposits into savings are unlimited


def test_daily_limit_counts_todays_transfers_and_payments(env):
    assert broken(env, transfer(CHK, SAV, 1200)) == {}
    assert env.run(pay(CHK, POWER, 400)).ok  # 1,400 of 2,500 used today
    reasons = broken(env, transfer(CHK, SAV, 1200))
    assert set(reasons) == {"within_daily_transfer_limit"}
    assert "$1,100.00" in reasons["within_daily_transfer_limit"]


def test_rules_see_disputes_and_lost_cards_made_in_the_episode(env):
    assert env.run(dispute(GROCERY)).ok
    assert set(broken(env, dispute(GROCERY))) == {"dispute_once"}
    assert env.run(on_card("report_card_lost", DEBIT)).ok
    assert "lost_card_stays_blocked" in broken(env, on_card("unfreeze_card", DEBIT))
    assert "limit_change_only_active_card" in broken(env, limit(DEBIT, 100))


def test_rules_do_not_change_state(env):
    before = env.state_hash()
    for cases in REFUSED.values():
        for call, _ in cases:
            env.check_rules(call)
    assert env.state_hash() == before and env.touched() == set()


def test_rules_ignore_reads(env):
    call = ToolCall(name="get_account_details", arguments={"account_id": ZFROZEN})
    assert env.check_rules(call) == []


# ------------------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    "arguments",
    [
        {"from_account_id": [CHK], "to_account_id": {"id": SAV}, "amount": "10"},
        {"from_account_id": CHK, "to_account_id": SAV, "amount": float("nan")},
        {"from_account_id": CHK, "to_account_id": SAV, "amount": float("inf")},
        {"from_account_id": CHK, "to_account_id": SAV, "amount": True},
        {},
    ],
    ids=["containers", "nan", "inf", "bool", "empty"],
)
def test_rules_never_raise_on_odd_amounts_and_ids(env, arguments):
    call = ToolCall(name="transfer_between_accounts", arguments=arguments)
    assert isinstance(env.check_rules(call), list)
