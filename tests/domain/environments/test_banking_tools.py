"""Banking tools: every success path (content and resulting state) and every refusal message."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_banking_db import (
    ANA,
    BILLS,
    BILLS_CARD,
    CHK,
    CREDIT,
    CREDIT_CARD,
    DEBIT,
    DISPUTE,
    DISPUTED_BUY,
    EMPTY,
    FEE,
    GROCERY,
    LOST,
    MARCO,
    OLD_SAV,
    PAYROLL,
    PENDING_BUY,
    POWER,
    SAV,
    TODAY,
    ZCARD,
    ZCHK,
    ZFROZEN,
    ZOE,
    ZOLD_CARD,
    ZPENDING,
    make_tiny_bank_db,
)

import t2t


@pytest.fixture(scope="module")
def banking():
    return t2t.load_domain("banking")


@pytest.fixture
def env(banking):
    return banking.environment(make_tiny_bank_db())


def content(env, tool_name, /, **arguments):
    result = env.call(tool_name, **arguments)
    assert result.ok, result.error
    return result.content


def output(env, tool_name, /, **arguments):
    return json.loads(content(env, tool_name, **arguments))


def refusal(env, tool_name, /, **arguments):
    """The error of a refused call, after checking the call left the state untouched."""
    before = env.state_hash()
    result = env.call(tool_name, **arguments)
    assert not result.ok
    assert result.content == f"Error: {result.error}"
    assert env.state_hash() == before
    return result.error


def consistent(banking, env):
    assert banking.check_db(env.to_dict()) == []
    return True


# one successful call per tool: the contract that every tool is exercised
SUCCESS = {
    "calculate": {"expression": "1200 - 45.5"},
    "transfer_to_human_agents": {"summary": "wants an account freeze lifted"},
    "find_customer_id_by_email": {"email": "ana.silva@example.com"},
    "find_customer_id_by_name_dob": {
        "first_name": "Ana",
        "last_name": "Silva",
        "dob": "1985-04-12",
    },
    "get_customer_details": {"customer_id": ANA},
    "get_account_details": {"account_id": CHK},
    "get_card_details": {"card_id": DEBIT},
    "get_payee_details": {"payee_id": POWER},
    "get_transaction_details": {"transaction_id": GROCERY},
    "get_dispute_details": {"dispute_id": DISPUTE},
    "list_transactions": {"account_id": BILLS},
    "transfer_between_accounts": {"from_account_id": CHK, "to_account_id": SAV, "amount": 200},
    "pay_payee": {"account_id": CHK, "payee_id": POWER, "amount": 150.25},
    "add_payee": {
        "customer_id": ANA,
        "name": "Lakeshore Gym",
        "bank": "Redwood Community Bank",
        "account_number": "000123456789",
    },
    "freeze_card": {"card_id": DEBIT},
    "unfreeze_card": {"card_id": CREDIT_CARD},
    "report_card_lost": {"card_id": DEBIT},
    "update_card_limit": {"card_id": DEBIT, "new_limit": 3000},
    "dispute_transaction": {"transaction_id": GROCERY, "reason": "unauthorized"},
    "close_account": {"account_id": EMPTY},
}


def test_the_domain_has_twenty_tools_nine_of_them_writes(banking):
    assert set(banking.tools) == set(SUCCESS)
    writes = {name for name, t in banking.tools.items() if t.mutates}
    assert writes == {
        "transfer_between_accounts",
        "pay_payee",
        "add_payee",
        "freeze_card",
        "unfreeze_card",
        "report_card_lost",
        "update_card_limit",
        "dispute_transaction",
        "close_account",
    }
    assert {t.kind for t in banking.tools.values()} == {"read", "write", "generic"}


@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_every_tool_succeeds_and_keeps_the_db_consistent(banking, env, name):
    before = env.state_hash()
    assert env.call(name, **SUCCESS[name]).ok
    assert (env.state_hash() != before) == banking.tools[name].mutates
    assert consistent(banking, env)


@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_schemas_teach_arguments(banking, name):
    schema = banking.tools[name].openai_schema()["function"]
    assert schema["description"]
    for prop in schema["parameters"]["properties"].values():
        assert prop["description"]
    ids = {"customer_id": "cus_", "account_id": "acc_", "card_id": "card_", "payee_id": "pay_"}
    for argument, prefix in ids.items():
        if argument in schema["parameters"]["properties"]:
            assert f"'{prefix}" in schema["parameters"]["properties"][argument]["description"]


@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_write_calls_are_deterministic(banking, name):
    results = [banking.environment(make_tiny_bank_db()) for _ in range(2)]
    contents = [e.call(name, **SUCCESS[name]).content for e in results]
    assert contents[0] == contents[1]
    assert results[0].state_hash() == results[1].state_hash()


# ---------------------------------------------------------------------------------- generic


def test_transfer_to_human_agents(env):
    assert content(env, "transfer_to_human_agents", summary="x") == "Transfer successful"
    assert env.touched() == set()


# ------------------------------------------------------------------------------------ reads


@pytest.mark.parametrize(
    ("email", "customer"),
    [
        ("ana.silva@example.com", ANA),
        ("ANA.Silva@Example.COM", ANA),
        (" ana.silva@example.com ", ANA),
        ("zoë.müller@example.com", ZOE),
    ],
)
def test_find_customer_id_by_email(env, email, customer):
    assert content(env, "find_customer_id_by_email", email=email) == customer


@pytest.mark.parametrize("email", ["nobody@example.com", "ana.silva@example", ""])
def test_find_customer_id_by_email_not_found(env, email):
    assert refusal(env, "find_customer_id_by_email", email=email) == "Customer not found"


@pytest.mark.parametrize(
    ("first", "last", "dob", "customer"),
    [
        ("Ana", "Silva", "1985-04-12", ANA),
        ("ana", "SILVA", " 1985-04-12", ANA),
        ("Zoe", "Muller", "1979-11-30", ZOE),
    ],
)
def test_find_customer_id_by_name_dob(env, first, last, dob, customer):
    found = content(env, "find_customer_id_by_name_dob", first_name=first, last_name=last, dob=dob)
    assert found == customer


@pytest.mark.parametrize(
    ("first", "last", "dob"),
    [("Ana", "Silva", "1985-04-13"), ("Ana", "Müller", "1985-04-12"), ("Ana", "Silva", "")],
)
def test_find_customer_id_by_name_dob_not_found(env, first, last, dob):
    error = refusal(env, "find_customer_id_by_name_dob", first_name=first, last_name=last, dob=dob)
    assert error == "Customer not found"


@pytest.mark.parametrize(
    ("name", "argument", "table", "key"),
    [
        ("get_customer_details", "customer_id", "customers", ZOE),
        ("get_account_details", "account_id", "accounts", CHK),
        ("get_card_details", "card_id", "cards", LOST),
        ("get_payee_details", "payee_id", "payees", MARCO),
        ("get_transaction_details", "transaction_id", "transactions", DISPUTED_BUY),
        ("get_dispute_details", "dispute_id", "disputes", DISPUTE),
    ],
)
def test_get_details_return_the_record(env, name, argument, table, key):
    assert output(env, name, **{argument: key}) == make_tiny_bank_db()[table][key]


@pytest.mark.parametrize(
    ("name", "argument", "error"),
    [
        ("get_customer_details", "customer_id", "Customer not found"),
        ("get_account_details", "account_id", "Account not found"),
        ("get_card_details", "card_id", "Card not found"),
        ("get_payee_details", "payee_id", "Payee not found"),
        ("get_transaction_details", "transaction_id", "Transaction not found"),
        ("get_dispute_details", "dispute_id", "Dispute not found"),
        ("list_transactions", "account_id", "Account not found"),
    ],
)
def test_reads_of_unknown_ids(env, name, argument, error):
    assert refusal(env, name, **{argument: "x_1"}) == error
    assert refusal(env, name, **{argument: ""}) == error


def test_list_transactions_newest_first(env):
    records = output(env, "list_transactions", account_id=CHK)
    dates = [r["date"] for r in records]
    assert dates == sorted(dates, reverse=True) and len(records) == 9
    assert records[0]["date"] == TODAY and records[-1]["date"] == "2025-12-20"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-01", "2026-03-01", {GROCERY, PAYROLL}),
        ("2026-03-14", None, {PENDING_BUY, "txn_10000047"}),
        (None, "2026-02-28", {FEE, "txn_10000072"}),
        ("2026-04-01", None, set()),
    ],
)
def test_list_transactions_in_a_date_range(env, start, end, expected):
    account = BILLS if end == "2026-02-28" else CHK
    records = output(env, "list_transactions", account_id=account, start_date=start, end_date=end)
    assert {r["transaction_id"] for r in records} == expected


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-3-1", None, "Invalid date, use YYYY-MM-DD"),
        ("yesterday", None, "Invalid date, use YYYY-MM-DD"),
        (None, "2026-02-30", "Invalid date, use YYYY-MM-DD"),
        ("2026-03-10", "2026-03-01", "Start date is after end date"),
    ],
)
def test_list_transactions_errors(env, start, end, error):
    arguments = {"account_id": CHK, "start_date": start, "end_date": end}
    assert refusal(env, "list_transactions", **arguments) == error


def test_reads_leave_state_unchanged(env):
    before = env.state_hash()
    for name, arguments in SUCCESS.items():
        if not env.domain.tools[name].mutates:
            content(env, name, **arguments)
    assert env.state_hash() == before and env.touched() == set()


# ---------------------------------------------------------------------------- moving money


def test_transfer_between_accounts(banking, env):
    receipt = output(
        env, "transfer_between_accounts", from_account_id=CHK, to_account_id=SAV, amount=200
    )
    assert receipt["amount"] == 200 and receipt["date"] == TODAY
    assert (receipt["from_account_balance"], receipt["to_account_balance"]) == (1000.0, 5200.0)
    out, into = (env.state["transactions"][t] for t in receipt["transaction_ids"])
    assert (out["account_id"], out["amount"], out["counterpart_account_id"]) == (CHK, -200, SAV)
    assert (into["account_id"], into["amount"], into["counterpart_account_id"]) == (SAV, 200, CHK)
    assert out["kind"] == into["kind"] == "transfer" and out["status"] == "posted"
    assert out["description"] == "Transfer to Rainy Day Savings"
    assert env.state["accounts"][CHK]["transactions"][-1] == out["transaction_id"]
    assert env.state["accounts"][SAV]["balance"] == 5200.0
    assert consistent(banking, env)


def test_transfer_may_use_the_overdraft_and_pays_a_credit_line(env):
    receipt = output(
        env, "transfer_between_accounts", from_account_id=CHK, to_account_id=CREDIT, amount=1700
    )
    assert receipt["from_account_balance"] == -500.0 and receipt["to_account_balance"] == 1250.0


def test_same_transfer_twice_makes_distinct_records(banking, env):
    arguments = {"from_account_id": SAV, "to_account_id": BILLS, "amount": 10}
    first = output(env, "transfer_between_accounts", **arguments)["transaction_ids"]
    second = output(env, "transfer_between_accounts", **arguments)["transaction_ids"]
    assert len(set(first + second)) == 4
    assert env.state["accounts"][SAV]["balance"] == 4980.0
    assert consistent(banking, env)


def test_policy_only_limits_are_not_enforced_by_the_tool(env):
    """A frozen source is refused by the policy (rules), not by the bank's system."""
    receipt = output(
        env, "transfer_between_accounts", from_account_id=ZFROZEN, to_account_id=ZCHK, amount=50
    )
    assert receipt["from_account_balance"] == 750.0


@pytest.mark.parametrize(
    ("source", "target", "amount", "error"),
    [
        (CHK, SAV, 0, "Amount must be positive"),
        (CHK, SAV, -5, "Amount must be positive"),
        (CHK, SAV, float("nan"), "Amount must be positive"),
        (CHK, SAV, float("inf"), "Amount must be positive"),
        (CHK, SAV, 10.001, "Amount must be in whole cents"),
        (CHK, SAV, 1e307, "Amount is too large"),
        ("acc_9", SAV, 10, "Account not found"),
        (CHK, "acc_9", 10, "Account not found"),
        (CHK, CHK, 10, "Cannot transfer to the same account"),
        (CHK, OLD_SAV, 10, "Account is closed"),
        (OLD_SAV, CHK, 10, "Account is closed"),
        (CHK, SAV, 1700.01, "Insufficient funds"),
        (EMPTY, SAV, 0.01, "Insufficient funds"),
    ],
)
def test_transfer_errors(env, source, target, amount, error):
    arguments = {"from_account_id": source, "to_account_id": target, "amount": amount}
    assert refusal(env, "transfer_between_accounts", **arguments) == error


def test_pay_payee(banking, env):
    receipt = output(env, "pay_payee", account_id=CHK, payee_id=POWER, amount=150.25)
    assert receipt["status"] == "pending" and receipt["account_balance"] == 1049.75
    assert receipt["payee_name"] == "City Power & Light" and receipt["date"] == TODAY
    txn = env.state["transactions"][receipt["transaction_id"]]
    assert txn["kind"] == "payment" and txn["status"] == "pending" and txn["payee_id"] == POWER
    assert txn["amount"] == -150.25 and txn["description"] == "Payment to City Power & Light"
    assert not txn["disputed"] and "card_id" not in txn
    assert consistent(banking, env)


@pytest.mark.parametrize(
    ("account", "payee", "amount", "error"),
    [
        (CHK, POWER, 0, "Amount must be positive"),
        (CHK, POWER, 1.005, "Amount must be in whole cents"),
        ("acc_9", POWER, 10, "Account not found"),
        (CHK, "pay_9", 10, "Payee not found"),
        (OLD_SAV, POWER, 10, "Account is closed"),
        (BILLS, POWER, 300.01, "Insufficient funds"),
    ],
)
def test_pay_payee_errors(env, account, payee, amount, error):
    assert refusal(env, "pay_payee", account_id=account, payee_id=payee, amount=amount) == error


def test_add_payee(banking, env):
    payee = output(env, "add_payee", **SUCCESS["add_payee"])
    assert payee["payee_id"].startswith("pay_") and payee["verified"] is False
    assert payee["account_last_four"] == "6789" and payee["added"] == TODAY
    assert payee["name"] == "Lakeshore Gym" and payee["customer_id"] == ANA
    assert env.state["customers"][ANA]["payees"][-1] == payee["payee_id"]
    assert env.state["payees"][payee["payee_id"]] == payee
    assert consistent(banking, env)


def test_add_payee_trims_and_allows_same_name_at_another_account(env):
    payee = output(
        env,
        "add_payee",
        customer_id=ANA,
        name=" City Power & Light ",
        bank="First Harbor Bank",
        account_number="11112222",
    )
    assert payee["name"] == "City Power & Light" and payee["account_last_four"] == "2222"


@pytest.mark.parametrize(
    ("customer", "name", "bank", "number", "error"),
    [
        ("cus_9", "Gym", "Bank", "123456", "Customer not found"),
        (ANA, " ", "Bank", "123456", "Payee name and bank are required"),
        (ANA, "Gym", "", "123456", "Payee name and bank are required"),
        (ANA, "Gym", "Bank", "123", "Invalid account number"),
        (ANA, "Gym", "Bank", "12ab5678", "Invalid account number"),
        (ANA, "Gym", "Bank", "1" * 18, "Invalid account number"),
        (ANA, "Gym", "Bank", "١٢٣٤٥", "Invalid account number"),
        (ANA, "city power & light", "FIRST HARBOR BANK", "99995678", "Payee already exists"),
    ],
)
def test_add_payee_errors(env, customer, name, bank, number, error):
    arguments = {"customer_id": customer, "name": name, "bank": bank, "account_number": number}
    assert refusal(env, "add_payee", **arguments) == error


# ------------------------------------------------------------------------------------ cards


def test_freeze_and_unfreeze_card(banking, env):
    assert output(env, "freeze_card", card_id=DEBIT)["status"] == "frozen"
    assert env.state["cards"][DEBIT]["status"] == "frozen"
    assert refusal(env, "freeze_card", card_id=DEBIT) == "Only an active card can be frozen"
    assert output(env, "unfreeze_card", card_id=DEBIT) == {
        **make_tiny_bank_db()["cards"][DEBIT],
        "status": "active",
    }
    assert consistent(banking, env)


@pytest.mark.parametrize(
    ("name", "card", "error"),
    [
        ("freeze_card", CREDIT_CARD, "Only an active card can be frozen"),
        ("freeze_card", LOST, "Only an active card can be frozen"),
        ("freeze_card", ZOLD_CARD, "Only an active card can be frozen"),
        ("freeze_card", "card_9", "Card not found"),
        ("unfreeze_card", DEBIT, "Only a frozen card can be unfrozen"),
        ("unfreeze_card", LOST, "Only a frozen card can be unfrozen"),
        ("unfreeze_card", ZOLD_CARD, "Only a frozen card can be unfrozen"),
        ("unfreeze_card", "card_9", "Card not found"),
        ("report_card_lost", LOST, "Card is already lost or cancelled"),
        ("report_card_lost", ZOLD_CARD, "Card is already lost or cancelled"),
        ("report_card_lost", "card_9", "Card not found"),
    ],
)
def test_card_errors(env, name, card, error):
    assert refusal(env, name, card_id=card) == error


@pytest.mark.parametrize("card", [BILLS_CARD, CREDIT_CARD])
def test_report_card_lost_issues_a_replacement(banking, env, card):
    old = make_tiny_bank_db()["cards"][card]
    result = output(env, "report_card_lost", card_id=card)
    lost, new = result["lost_card"], result["replacement_card"]
    assert lost == {**old, "status": "lost", "replaced_by": new["card_id"]}
    assert new["card_id"] not in make_tiny_bank_db()["cards"] and new["replaces"] == card
    assert new["status"] == "active" and new["issued"] == TODAY and new["expiry"] == "2030-03"
    for field in ("customer_id", "account_id", "kind", "network", "spending_limit"):
        assert new[field] == old[field]
    ana_fours = {c["last_four"] for c in make_tiny_bank_db()["cards"].values()}
    assert new["last_four"] not in ana_fours and len(new["last_four"]) == 4
    assert env.state["cards"][new["card_id"]] == new
    assert env.state["customers"][ANA]["cards"][-1] == new["card_id"]
    assert consistent(banking, env)


def test_update_card_limit(banking, env):
    card = output(env, "update_card_limit", card_id=ZCARD, new_limit=12500.5)
    assert card == {**make_tiny_bank_db()["cards"][ZCARD], "spending_limit": 12500.5}
    assert env.state["cards"][ZCARD]["spending_limit"] == 12500.5
    assert output(env, "update_card_limit", card_id=CREDIT_CARD, new_limit=9000)  # policy's job
    assert consistent(banking, env)


@pytest.mark.parametrize(
    ("card", "limit", "error"),
    [
        (DEBIT, 0, "Limit must be positive"),
        (DEBIT, -100, "Limit must be positive"),
        (DEBIT, 100.001, "Limit must be in whole cents"),
        (DEBIT, 1e20, "Limit is too large"),
        (LOST, 1000, "Card is lost or cancelled"),
        (ZOLD_CARD, 1000, "Card is lost or cancelled"),
        ("card_9", 1000, "Card not found"),
    ],
)
def test_update_card_limit_errors(env, card, limit, error):
    assert refusal(env, "update_card_limit", card_id=card, new_limit=limit) == error


# --------------------------------------------------------------------------------- disputes


def test_dispute_transaction(banking, env):
    dispute = output(env, "dispute_transaction", transaction_id=GROCERY, reason="unauthorized")
    assert dispute["dispute_id"].startswith("dsp_")
    assert dispute == {
        "dispute_id": dispute["dispute_id"],
        "customer_id": ANA,
        "transaction_id": GROCERY,
        "reason": "unauthorized",
        "status": "open",
        "opened": TODAY,
        "amount": 82.4,
    }
    assert env.state["transactions"][GROCERY]["disputed"] is True
    assert env.state["customers"][ANA]["disputes"] == [DISPUTE, dispute["dispute_id"]]
    assert env.state["disputes"][dispute["dispute_id"]] == dispute
    assert refusal(env, "dispute_transaction", transaction_id=GROCERY, reason="unauthorized") == (
        "Transaction is already disputed"
    )
    assert consistent(banking, env)


@pytest.mark.parametrize(
    ("transaction", "reason", "error"),
    [
        ("txn_9", "unauthorized", "Transaction not found"),
        (GROCERY, "fraud", "Invalid reason"),
        (GROCERY, "Unauthorized", "Invalid reason"),
        (DISPUTED_BUY, "unauthorized", "Transaction is already disputed"),
    ],
)
def test_dispute_errors(env, transaction, reason, error):
    assert refusal(env, "dispute_transaction", transaction_id=transaction, reason=reason) == error


# ---------------------------------------------------------------------------------- closing


def test_close_account(banking, env):
    account = output(env, "close_account", account_id=EMPTY)
    assert account == {**make_tiny_bank_db()["accounts"][EMPTY], "status": "closed"}
    assert env.state["accounts"][EMPTY]["status"] == "closed"
    assert consistent(banking, env)


def test_closing_cancels_active_and_frozen_cards(banking, env):
    content(env, "transfer_between_accounts", from_account_id=BILLS, to_account_id=CHK, amount=300)
    content(env, "freeze_card", card_id=BILLS_CARD)
    assert output(env, "close_account", account_id=BILLS)["status"] == "closed"
    assert env.state["cards"][BILLS_CARD]["status"] == "cancelled"
    assert env.state["cards"][DEBIT]["status"] == "active"
    assert consistent(banking, env)


@pytest.mark.parametrize(
    ("account", "error"),
    [
        ("acc_9", "Account not found"),
        (OLD_SAV, "Account is already closed"),
        (CHK, "Account balance must be zero to close it"),
        (CREDIT, "Account balance must be zero to close it"),
        (ZPENDING, "Account has pending transactions"),
    ],
)
def test_close_account_errors(env, account, error):
    assert refusal(env, "close_account", account_id=account) == error


# --------------------------------------------------------------------------- malformed calls


@pytest.mark.parametrize(
    ("name", "arguments", "words"),
    [
        ("open_account", {"customer_id": ANA}, ["Tool 'open_account' not found."]),
        ("freeze_card", {}, ["card_id", "Field required"]),
        ("freeze_card", {"card_id": DEBIT, "reason": "x"}, ["reason", "Extra inputs"]),
        ("freeze_card", {"card_id": 12}, ["card_id", "string"]),
        ("pay_payee", {"account_id": CHK, "payee_id": POWER, "amount": "lots"}, ["amount"]),
        ("update_card_limit", {"card_id": DEBIT, "new_limit": [1]}, ["new_limit"]),
        ("list_transactions", {"account_id": CHK, "start_date": 20260301}, ["start_date"]),
    ],
)
def test_malformed_calls_are_tool_errors(env, name, arguments, words):
    error = refusal(env, name, **arguments)
    for word in words:
        assert word in error


# ----------------------------------------------------------------------------- invariants

_ARGUMENTS = {
    "from_account_id": st.sampled_from([CHK, BILLS, SAV, CREDIT, OLD_SAV, EMPTY, ZCHK, ZFROZEN]),
    "to_account_id": st.sampled_from([CHK, BILLS, SAV, CREDIT, OLD_SAV, EMPTY, ZPENDING]),
    "account_id": st.sampled_from([CHK, BILLS, SAV, CREDIT, OLD_SAV, EMPTY, ZPENDING, ZFROZEN]),
    "payee_id": st.sampled_from([POWER, MARCO]),
    "card_id": st.sampled_from([DEBIT, LOST, BILLS_CARD, CREDIT_CARD, ZCARD, ZOLD_CARD]),
    "transaction_id": st.sampled_from([GROCERY, PENDING_BUY, DISPUTED_BUY, PAYROLL, FEE]),
    "amount": st.sampled_from([0.01, 50, 300, 1200, 5000]),
    "new_limit": st.sampled_from([100, 5000, 20000]),
    "reason": st.sampled_from(["unauthorized", "not received"]),
    "customer_id": st.just(ANA),
    "name": st.sampled_from(["Gym", "Marco Rossi"]),
    "bank": st.just("Pioneer Savings Bank"),
    "account_number": st.sampled_from(["12344321", "55556666"]),
}


@st.composite
def write_calls(draw):
    name = draw(st.sampled_from([n for n, a in SUCCESS.items() if n != "calculate"]))
    arguments = {key: draw(_ARGUMENTS[key]) for key in SUCCESS[name] if key in _ARGUMENTS}
    return name, arguments


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(write_calls(), min_size=1, max_size=12))
def test_any_sequence_of_calls_keeps_the_db_consistent(banking, calls):
    env = banking.environment(make_tiny_bank_db())
    for name, arguments in calls:
        env.call(name, **arguments)
    assert banking.check_db(env.to_dict()) == []
