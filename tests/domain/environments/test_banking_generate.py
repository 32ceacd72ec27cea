"""The seeded banking generator (sizes, seeding, policy, variety) and the consistency checker."""

from __future__ import annotations

import copy
import json
import random
import sys
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import t2t
from t2t import ToolCall

TODAY = "2026-03-15"
SMALL = {"n_customers": 30, "n_transactions": 500}


@pytest.fixture(scope="module")
def banking():
    return t2t.load_domain("banking")


@pytest.fixture(scope="module")
def paper_db(banking) -> dict:
    return banking.generate_db()


@pytest.fixture
def small_db(banking) -> dict:
    db = banking.generate_db(seed=3, **SMALL)
    assert banking.check_db(db) == []
    return db


def outgoing(db: dict, account: dict, prefix: str) -> list[dict]:
    txns = (db["transactions"][t] for t in account["transactions"])
    return [
        t
        for t in txns
        if t["kind"] in ("transfer", "payment") and t["amount"] < 0 and t["date"].startswith(prefix)
    ]


# --- generation -------------------------------------------------------------------------------


def test_paper_scale_sizes_and_consistency(banking, paper_db: dict) -> None:
    assert len(paper_db["customers"]) == 400 and len(paper_db["transactions"]) == 8000
    assert banking.check_db(paper_db) == []
    banking.validate_db(paper_db)
    assert "null" not in json.dumps(paper_db)  # unset optional fields are left out


def test_presets_seeds_and_default_db(banking, paper_db: dict) -> None:
    module = sys.modules[banking.generate_db.__module__]
    assert banking.scales["paper"] == {"n_customers": 400, "n_transactions": 8000}
    assert banking.scales["small"] == SMALL
    assert (module.TRAIN_SEED, module.EVAL_SEED) == (0, 1)
    assert json.dumps(banking.default_db()) == json.dumps(paper_db)


def test_same_seed_gives_byte_identical_json(banking, paper_db: dict) -> None:
    random.seed(1)
    assert json.dumps(banking.generate_db(seed=0), indent=2) == json.dumps(paper_db, indent=2)
    random.seed(2)
    small = [json.dumps(banking.generate_db(seed=9, **SMALL)) for _ in range(2)]
    assert small[0] == small[1]


def test_global_random_state_untouched(banking) -> None:
    state = random.getstate()
    banking.generate_db(seed=4, **SMALL)
    assert random.getstate() == state


def test_different_seeds_give_different_dbs(banking) -> None:
    a, b = (banking.generate_db(seed=s, **SMALL) for s in (0, 1))
    assert set(a["customers"]) != set(b["customers"])
    assert set(a["transactions"]) != set(b["transactions"])


@pytest.mark.parametrize(
    "sizes",
    [
        {"n_customers": 1, "n_transactions": 0},
        {"n_customers": 1, "n_transactions": 1},
        {"n_customers": 1, "n_transactions": 60},
        {"n_customers": 3, "n_transactions": 7},
    ],
)
def test_small_sizes(banking, sizes: dict[str, int]) -> None:
    db = banking.generate_db(seed=5, **sizes)
    assert len(db["customers"]) == sizes["n_customers"]
    assert len(db["transactions"]) == sizes["n_transactions"]
    assert banking.check_db(db) == []


@pytest.mark.parametrize("sizes", [{"n_customers": 0}, {"n_transactions": -1}])
def test_rejects_impossible_sizes(banking, sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        banking.generate_db(**sizes)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_customers=st.integers(1, 12),
    n_transactions=st.integers(0, 80),
)
def test_generated_dbs_always_pass_checks(seed: int, n_customers: int, n_transactions: int):
    banking = t2t.load_domain("banking")
    db = banking.generate_db(seed, n_customers, n_transactions)
    assert banking.check_db(db) == []
    assert len(db["customers"]) == n_customers and len(db["transactions"]) == n_transactions


def test_generated_db_follows_the_policy(paper_db: dict) -> None:
    """What only the policy forbids (so `check_db` does not) still never happens in a fresh DB."""
    db = paper_db
    for account in db["accounts"].values():
        used = -sum(t["amount"] for t in outgoing(db, account, TODAY))
        assert used <= account["daily_transfer_limit"]
        if account["kind"] == "savings":
            assert len(outgoing(db, account, TODAY[:7])) <= 6
    for card in db["cards"].values():
        tier = db["customers"][card["customer_id"]]["tier"]
        assert card["spending_limit"] <= {"standard": 5000, "premium": 15000}[tier]
    for txn in db["transactions"].values():
        owner = db["accounts"][txn["account_id"]]["customer_id"]
        if txn["kind"] == "payment":
            payee = db["payees"][txn["payee_id"]]
            assert payee["customer_id"] == owner and payee["added"] <= txn["date"]
            assert payee["verified"] or -txn["amount"] <= 1000
        if txn["kind"] == "transfer":
            assert db["accounts"][txn["counterpart_account_id"]]["customer_id"] == owner
    for dispute in db["disputes"].values():
        txn = db["transactions"][dispute["transaction_id"]]
        assert txn["kind"] == "purchase" and txn["status"] == "posted" and txn["card_id"]
        assert dispute["opened"] >= txn["date"]
    for payee in db["payees"].values():
        assert payee["verified"] or payee["added"] >= "2026-03-13"  # verified within 2 days


def test_paper_db_holds_the_situations_variants_need(paper_db: dict) -> None:
    db = paper_db
    customers, accounts, cards = db["customers"], db["accounts"], db["cards"]
    active_cards = Counter(c["customer_id"] for c in cards.values() if c["status"] == "active")
    checking = Counter(a["customer_id"] for a in accounts.values() if a["kind"] == "checking")
    assert sum(n >= 2 for n in active_cards.values()) >= 100  # "my card" is ambiguous
    assert sum(n >= 2 for n in checking.values()) >= 50
    assert sum(len(c["payees"]) >= 2 for c in customers.values()) >= 150
    statuses = Counter((a["kind"], a["status"]) for a in accounts.values())
    assert statuses["checking", "frozen"] and statuses["savings", "closed"]
    card_statuses = Counter(c["status"] for c in cards.values())
    assert min(card_statuses[s] for s in ("frozen", "lost", "cancelled")) >= 10
    assert sum(not p["verified"] for p in db["payees"].values()) >= 50
    savings = [a for a in accounts.values() if a["kind"] == "savings"]
    assert sum(len(outgoing(db, a, TODAY[:7])) == 6 for a in savings) >= 10
    near_limit = [
        a
        for a in accounts.values()
        if -sum(t["amount"] for t in outgoing(db, a, TODAY)) > 0.5 * a["daily_transfer_limit"]
    ]
    assert len(near_limit) >= 20
    purchases = [t for t in db["transactions"].values() if t["kind"] == "purchase"]
    assert sum(t["date"] < "2026-01-14" for t in purchases) >= 500  # outside the dispute window
    assert sum(t["status"] == "pending" for t in purchases) >= 10
    empty = [a for a in accounts.values() if a["status"] == "open" and a["balance"] == 0]
    pending = [
        a
        for a in empty
        if any(db["transactions"][t]["status"] == "pending" for t in a["transactions"])
    ]
    assert len(pending) >= 3 and len(empty) - len(pending) >= 20
    assert len(db["disputes"]) >= 50
    assert {d["status"] for d in db["disputes"].values()} == {"open", "resolved", "rejected"}


def test_one_example_per_variant_kind(banking, paper_db: dict) -> None:
    env = banking.environment(paper_db)
    db = paper_db
    # ambiguous: "freeze my card" fits two active cards, and the two answers differ
    owner = next(
        c
        for c in db["customers"].values()
        if sum(db["cards"][i]["status"] == "active" for i in c["cards"]) >= 2
    )
    first, second = [i for i in owner["cards"] if db["cards"][i]["status"] == "active"][:2]
    states = []
    for card in (first, second):
        call = ToolCall(name="freeze_card", arguments={"card_id": card})
        assert env.check_rules(call) == []
        fork = env.fork()
        assert fork.run(call).ok
        states.append(fork.state_hash())
    assert states[0] != states[1] != env.state_hash()
    # changing: dispute one charge, then another instead: different final states
    charges = [
        t
        for a in owner["accounts"]
        for t in db["accounts"][a]["transactions"]
        if db["transactions"][t]["kind"] == "purchase"
        and db["transactions"][t]["status"] == "posted"
        and not db["transactions"][t]["disputed"]
        and db["transactions"][t]["date"] >= "2026-01-14"
    ]
    finals = []
    for charge in charges[:2]:
        call = ToolCall(
            name="dispute_transaction",
            arguments={"transaction_id": charge, "reason": "unauthorized"},
        )
        assert env.check_rules(call) == []
        fork = env.fork()
        assert fork.run(call).ok
        finals.append(fork.state_hash())
    assert len(finals) == 2 and finals[0] != finals[1]
    # infeasible: an old charge, a savings account out of withdrawals, a limit above the tier
    old = next(
        t
        for t in db["transactions"].values()
        if t["kind"] == "purchase" and t["date"] < "2026-01-14" and not t["disputed"]
    )
    call = ToolCall(
        name="dispute_transaction",
        arguments={"transaction_id": old["transaction_id"], "reason": "unauthorized"},
    )
    assert [r for r, _ in env.check_rules(call)] == ["dispute_within_window"]
    full = next(
        a
        for a in db["accounts"].values()
        if a["kind"] == "savings" and len(outgoing(db, a, TODAY[:7])) == 6
    )
    target = next(
        a
        for a in db["customers"][full["customer_id"]]["accounts"]
        if a != full["account_id"] and db["accounts"][a]["status"] != "closed"
    )
    call = ToolCall(
        name="transfer_between_accounts",
        arguments={"from_account_id": full["account_id"], "to_account_id": target, "amount": 1},
    )
    assert "savings_monthly_withdrawals" in dict(env.check_rules(call))
    card = next(
        c
        for c in db["cards"].values()
        if c["status"] == "active" and db["customers"][c["customer_id"]]["tier"] == "standard"
    )
    call = ToolCall(
        name="update_card_limit", arguments={"card_id": card["card_id"], "new_limit": 6000}
    )
    assert [r for r, _ in env.check_rules(call)] == ["limit_within_tier"]


# --- checker ----------------------------------------------------------------------------------


def test_non_db_inputs_are_reported(banking) -> None:
    assert banking.check_db([]) == ["db: not an object"]
    missing = banking.check_db({"customers": {}, "accounts": {}})
    assert missing == ["db: missing field(s) cards, payees, transactions, disputes"]
    assert banking.check_db(
        {
            t: [] if t == "cards" else {}
            for t in ("customers", "accounts", "cards", "payees", "transactions", "disputes")
        }
    ) == ["db: cards is not an object"]


def _first(db: dict, table: str, **where) -> dict:
    for record in db[table].values():
        if all(record.get(k) == v for k, v in where.items()):
            return record
    raise AssertionError(f"no {table} record with {where} in the fixture DB")


def _dangling_customer(db):
    _first(db, "accounts")["customer_id"] = "cus_0000000"


def _unlisted_account(db):
    account = _first(db, "accounts")
    db["customers"][account["customer_id"]]["accounts"].remove(account["account_id"])


def _mismatched_key(db):
    _first(db, "cards")["card_id"] = "card_0000000"


def _bad_prefix(db):
    payee = _first(db, "payees")
    db["payees"]["payee_1"] = {**db["payees"].pop(payee["payee_id"]), "payee_id": "payee_1"}


def _debit_card_on_savings(db):
    for card in db["cards"].values():
        owner = db["customers"][card["customer_id"]]
        savings = [a for a in owner["accounts"] if db["accounts"][a]["kind"] == "savings"]
        if (
            savings
            and card["kind"] == "debit"
            and not card.get("replaced_by")
            and not card.get("replaces")
        ):
            card["account_id"] = savings[0]
            return
    raise AssertionError("no debit card of a customer with savings")


def _closed_with_balance(db):
    _first(db, "accounts", status="closed")["balance"] = 10.0


def _below_overdraft(db):
    account = _first(db, "accounts", kind="checking", status="open")
    account["balance"] = -account["overdraft_limit"] - 1


def _half_a_transfer(db):
    txn = _first(db, "transactions", kind="transfer")
    other = db["accounts"][txn["counterpart_account_id"]]
    for tid in other["transactions"]:
        mirror = db["transactions"][tid]
        if (
            mirror.get("counterpart_account_id") == txn["account_id"]
            and mirror["amount"] == -txn["amount"]
        ):
            other["transactions"].remove(tid)
            del db["transactions"][tid]
            return


def _dispute_on_undisputed(db):
    txn = db["transactions"][_first(db, "disputes")["transaction_id"]]
    txn["disputed"] = False


def _disputed_without_dispute(db):
    _first(db, "transactions", kind="purchase", disputed=False)["disputed"] = True


def _wrong_sign(db):
    txn = _first(db, "transactions", kind="purchase")
    txn["amount"] = -txn["amount"]


def _future_date(db):
    _first(db, "payees")["added"] = "2026-04-01"


def _lost_without_replacement(db):
    del _first(db, "cards", status="lost")["replaced_by"]


def _duplicate_email(db):
    first, second = list(db["customers"].values())[:2]
    second["email"] = first["email"].upper()


def _same_name_and_dob(db):
    first, second = list(db["customers"].values())[:2]
    second["name"] = dict(first["name"])
    second["dob"] = first["dob"]


def _unknown_field(db):
    _first(db, "accounts")["color"] = "blue"


def _active_card_on_closed_account(db):
    _first(db, "cards", status="cancelled")["status"] = "active"


def _out_of_date_order(db):
    for account in db["accounts"].values():
        dates = [db["transactions"][t]["date"] for t in account["transactions"]]
        if len(set(dates)) > 1:
            account["transactions"].reverse()
            return


def _pending_on_closed(db):
    closed = [a for a in db["accounts"].values() if a["status"] == "closed" and a["transactions"]]
    db["transactions"][closed[0]["transactions"][0]]["status"] = "pending"


def _not_cents(db):
    _first(db, "transactions")["amount"] = 10.001


def _same_last_four(db):
    owner = next(c for c in db["customers"].values() if len(c["cards"]) >= 2)
    first, second = owner["cards"][:2]
    db["cards"][second]["last_four"] = db["cards"][first]["last_four"]


def _pending_deposit(db):
    _first(db, "transactions", kind="deposit")["status"] = "pending"


def _dispute_amount(db):
    _first(db, "disputes")["amount"] += 1


CORRUPTIONS: dict[str, tuple[Callable[[dict], None], str]] = {
    "dangling customer": (_dangling_customer, "customer_id 'cus_0000000' not in customers"),
    "account missing from customer list": (_unlisted_account, "not listed in customers["),
    "mismatched key": (_mismatched_key, "card_id 'card_0000000' differs from key"),
    "bad id prefix": (_bad_prefix, "id should be 'pay_' followed by digits"),
    "debit card on savings": (_debit_card_on_savings, "a debit card on a savings account"),
    "closed with a balance": (_closed_with_balance, "closed with a balance of 10.0"),
    "below the overdraft": (_below_overdraft, "is below the overdraft limit"),
    "half a transfer": (_half_a_transfer, "no matching transfer"),
    "dispute on undisputed": (_dispute_on_undisputed, "is not marked disputed"),
    "disputed without dispute": (_disputed_without_dispute, "marked disputed but no dispute"),
    "wrong sign": (_wrong_sign, "has the wrong sign"),
    "future date": (_future_date, "added 2026-04-01 is after today"),
    "lost without replacement": (_lost_without_replacement, "replaced_by must be set"),
    "duplicate email": (_duplicate_email, "also used by"),
    "same name and dob": (_same_name_and_dob, "same name and dob as"),
    "unknown field": (_unknown_field, "unknown field(s) color"),
    "active card on closed account": (_active_card_on_closed_account, "active on closed account"),
    "out of date order": (_out_of_date_order, "not in date order"),
    "pending on closed": (_pending_on_closed, "closed with pending transaction"),
    "not cents": (_not_cents, "is not a non-zero cent amount"),
    "same last four": (_same_last_four, "cards end in"),
    "pending deposit": (_pending_deposit, "a deposit cannot be pending"),
    "dispute amount": (_dispute_amount, "differs from the charge"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corruption_is_reported(banking, small_db: dict, kind: str) -> None:
    corrupt, expected = CORRUPTIONS[kind]
    corrupt(small_db)
    problems = banking.check_db(small_db)
    assert any(expected in p for p in problems), problems


def test_messages_name_the_record(banking, small_db: dict) -> None:
    account = _first(small_db, "accounts")
    account["customer_id"] = "cus_1"
    problem = f"accounts['{account['account_id']}']: customer_id 'cus_1' not in customers"
    assert problem in banking.check_db(small_db)


@pytest.mark.parametrize("value", [None, ["x"], {"a": 1}, 3.5, True, ""])
@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("customers", "accounts"),
        ("customers", "dob"),
        ("customers", "name"),
        ("accounts", "customer_id"),
        ("accounts", "kind"),
        ("accounts", "transactions"),
        ("accounts", "balance"),
        ("cards", "account_id"),
        ("cards", "replaced_by"),
        ("cards", "expiry"),
        ("transactions", "card_id"),
        ("transactions", "date"),
        ("transactions", "counterpart_account_id"),
        ("disputes", "transaction_id"),
    ],
)
def test_checker_reports_odd_values_without_raising(banking, table, field, value) -> None:
    db = banking.generate_db(seed=3, n_customers=4, n_transactions=60)
    record = next(iter(db[table].values()))
    record[field] = value
    problems = banking.check_db(copy.deepcopy(db))
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
