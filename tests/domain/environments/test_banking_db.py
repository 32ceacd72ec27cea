"""A tiny hand-built banking DB (imported by the other banking tests) and its own checks."""

import pytest

import t2t

TODAY = "2026-03-15"

ANA, ZOE = "cus_1000001", "cus_2000001"
# Ana (standard): checking 1,200 (+500 overdraft), bills 300, savings 5,000 with five March
# withdrawals, a credit line owing 450, a closed savings, an empty savings
CHK, BILLS, SAV, CREDIT, OLD_SAV, EMPTY = (f"acc_10000{i}" for i in range(11, 17))
# Zoë (premium): checking 25,000 (+1,000), a frozen account, an empty one with a pending charge
ZCHK, ZFROZEN, ZPENDING = "acc_2000011", "acc_2000012", "acc_2000013"
DEBIT, LOST, BILLS_CARD, CREDIT_CARD = (f"card_10000{i}" for i in range(21, 25))
ZCARD, ZTRAVEL_CARD, ZOLD_CARD = "card_2000021", "card_2000022", "card_2000023"
POWER, MARCO, ZRENT = "pay_1000031", "pay_1000032", "pay_2000031"
GROCERY = "txn_10000041"  # posted card purchase, 2026-03-01: disputable
OLD_BUY = "txn_10000042"  # posted purchase on the lost card, 2025-12-20: past the window
PENDING_BUY = "txn_10000043"  # pending purchase, 2026-03-14
DISPUTED_BUY = "txn_10000044"  # already disputed (DISPUTE)
PAYROLL = "txn_10000045"  # deposit
FEE = "txn_10000046"
TODAY_OUT, TODAY_IN = "txn_10000047", "txn_10000048"  # 1,000 from CHK to CREDIT today
CREDIT_BUY = "txn_10000049"
DAY_60_BUY, DAY_61_BUY = "txn_10000050", "txn_10000051"  # 2026-01-14 and 2026-01-13
REFUND = "txn_10000052"
PAY_POWER = "txn_10000053"
ZPENDING_BUY, ZBUY = "txn_20000041", "txn_20000042"
DISPUTE = "dsp_1000051"


def _txn(tid, account, date, amount, kind, text, status="posted", disputed=False, **link):
    return {
        "transaction_id": tid,
        "account_id": account,
        "date": date,
        "amount": amount,
        "description": text,
        "kind": kind,
        "status": status,
        "disputed": disputed,
        **link,
    }


def _transfer(out_id, in_id, source, target, date, amount):
    return [
        _txn(
            out_id, source, date, -amount, "transfer", "Transfer out", counterpart_account_id=target
        ),
        _txn(in_id, target, date, amount, "transfer", "Transfer in", counterpart_account_id=source),
    ]


def _account(aid, owner, kind, nickname, status, balance, overdraft, daily):
    return {
        "account_id": aid,
        "customer_id": owner,
        "kind": kind,
        "nickname": nickname,
        "status": status,
        "balance": balance,
        "currency": "USD",
        "overdraft_limit": overdraft,
        "daily_transfer_limit": daily,
        "opened": "2015-06-01",
        "transactions": [],
    }


def _card(cid, owner, account, kind, last_four, status, limit, issued="2024-05-01", **link):
    return {
        "card_id": cid,
        "customer_id": owner,
        "account_id": account,
        "kind": kind,
        "network": "visa",
        "last_four": last_four,
        "status": status,
        "spending_limit": limit,
        "issued": issued,
        "expiry": f"{int(issued[:4]) + 4}{issued[4:7]}",
        **link,
    }


def _payee(pid, owner, name, bank, last_four, verified, added):
    return {
        "payee_id": pid,
        "customer_id": owner,
        "name": name,
        "bank": bank,
        "account_last_four": last_four,
        "verified": verified,
        "added": added,
    }


def _customer(cid, first, last, email, dob, tier):
    return {
        "customer_id": cid,
        "name": {"first_name": first, "last_name": last},
        "email": email,
        "dob": dob,
        "phone": "(512) 555-0100",
        "address": {
            "address1": "1 Main St",
            "address2": "",
            "city": "Austin",
            "state": "TX",
            "country": "USA",
            "zip": "78701",
        },
        "tier": tier,
        "accounts": [],
        "cards": [],
        "payees": [],
        "disputes": [],
    }


def make_tiny_bank_db():
    """A fresh, self-consistent banking DB: 2 customers, 9 accounts, 7 cards, 3 payees."""
    customers = [
        _customer(ANA, "Ana", "Silva", "ana.silva@example.com", "1985-04-12", "standard"),
        _customer(ZOE, "Zoë", "Müller", "zoe.muller@example.com", "1979-11-30", "premium"),
    ]
    accounts = [
        _account(CHK, ANA, "checking", "Everyday Checking", "open", 1200.0, 500.0, 2500.0),
        _account(BILLS, ANA, "checking", "Household Bills", "open", 300.0, 0.0, 2500.0),
        _account(SAV, ANA, "savings", "Rainy Day Savings", "open", 5000.0, 0.0, 5000.0),
        _account(
            CREDIT, ANA, "credit_line", "Cash Back Credit Line", "open", -450.0, 3000.0, 1000.0
        ),
        _account(OLD_SAV, ANA, "savings", "Vacation Savings", "closed", 0.0, 0.0, 5000.0),
        _account(EMPTY, ANA, "savings", "Emergency Fund", "open", 0.0, 0.0, 5000.0),
        _account(ZCHK, ZOE, "checking", "Everyday Checking", "open", 25000.0, 1000.0, 10000.0),
        _account(ZFROZEN, ZOE, "checking", "Side Business", "frozen", 800.0, 0.0, 10000.0),
        _account(ZPENDING, ZOE, "checking", "Travel Checking", "open", 0.0, 0.0, 10000.0),
    ]
    cards = [
        _card(DEBIT, ANA, CHK, "debit", "1111", "active", 2000.0, "2025-12-22", replaces=LOST),
        _card(LOST, ANA, CHK, "debit", "2222", "lost", 2000.0, "2022-05-01", replaced_by=DEBIT),
        _card(BILLS_CARD, ANA, BILLS, "debit", "3333", "active", 1000.0),
        _card(CREDIT_CARD, ANA, CREDIT, "credit", "4444", "frozen", 3000.0),
        _card(ZCARD, ZOE, ZCHK, "debit", "5555", "active", 10000.0),
        _card(ZTRAVEL_CARD, ZOE, ZPENDING, "debit", "6666", "active", 2000.0),
        _card(ZOLD_CARD, ZOE, ZFROZEN, "debit", "7777", "cancelled", 2000.0, "2021-02-01"),
    ]
    payees = [
        _payee(POWER, ANA, "City Power & Light", "First Harbor Bank", "5678", True, "2025-06-01"),
        _payee(MARCO, ANA, "Marco Rossi", "Pioneer Savings Bank", "4321", False, "2026-03-14"),
        _payee(
            ZRENT,
            ZOE,
            "Riverside Apartments LLC",
            "Lakeshore National Bank",
            "9012",
            True,
            "2024-01-10",
        ),
    ]
    txns = [
        _txn(GROCERY, CHK, "2026-03-01", -82.4, "purchase", "Green Basket Grocery", card_id=DEBIT),
        _txn(OLD_BUY, CHK, "2025-12-20", -129.99, "purchase", "Lumen Electronics", card_id=LOST),
        _txn(
            PENDING_BUY,
            CHK,
            "2026-03-14",
            -45.0,
            "purchase",
            "Blue Fork Bistro",
            "pending",
            card_id=DEBIT,
        ),
        _txn(
            DISPUTED_BUY,
            CHK,
            "2026-02-20",
            -300.0,
            "purchase",
            "Vantage Hotels",
            disputed=True,
            card_id=DEBIT,
        ),
        _txn(PAYROLL, CHK, "2026-03-01", 2400.0, "deposit", "Payroll deposit"),
        _txn(FEE, BILLS, "2026-02-28", -12.0, "fee", "Monthly maintenance fee"),
        *_transfer(TODAY_OUT, TODAY_IN, CHK, CREDIT, TODAY, 1000.0),
        _txn(
            CREDIT_BUY,
            CREDIT,
            "2026-02-10",
            -450.0,
            "purchase",
            "Aurora Airlines",
            card_id=CREDIT_CARD,
        ),
        _txn(DAY_60_BUY, CHK, "2026-01-14", -60.0, "purchase", "Everly Books", card_id=DEBIT),
        _txn(DAY_61_BUY, CHK, "2026-01-13", -61.0, "purchase", "Everly Books", card_id=DEBIT),
        _txn(
            REFUND, CHK, "2026-03-05", 20.0, "refund", "Refund: Green Basket Grocery", card_id=DEBIT
        ),
        _txn(
            PAY_POWER,
            BILLS,
            "2026-03-10",
            -120.0,
            "payment",
            "Payment to City Power & Light",
            payee_id=POWER,
        ),
        *_transfer("txn_10000071", "txn_10000072", SAV, BILLS, "2026-02-15", 100.0),
        *(
            txn
            for day in range(2, 7)  # five withdrawals from SAV this month: one more is allowed
            for txn in _transfer(
                f"txn_1000006{day}", f"txn_1000007{day + 1}", SAV, BILLS, f"2026-03-0{day}", 100.0
            )
        ),
        _txn("txn_10000081", OLD_SAV, "2025-11-30", 1.2, "deposit", "Interest payment"),
        _txn(
            ZPENDING_BUY,
            ZPENDING,
            "2026-03-14",
            -35.0,
            "purchase",
            "Metro Transit",
            "pending",
            card_id=ZTRAVEL_CARD,
        ),
        _txn(ZBUY, ZCHK, "2026-03-03", -64.1, "purchase", "Harbor Pharmacy", card_id=ZCARD),
    ]
    disputes = [
        {
            "dispute_id": DISPUTE,
            "customer_id": ANA,
            "transaction_id": DISPUTED_BUY,
            "reason": "incorrect amount",
            "status": "open",
            "opened": "2026-02-25",
            "amount": 300.0,
        }
    ]
    db = {
        "customers": {c["customer_id"]: c for c in customers},
        "accounts": {a["account_id"]: a for a in accounts},
        "cards": {c["card_id"]: c for c in cards},
        "payees": {p["payee_id"]: p for p in payees},
        "transactions": {t["transaction_id"]: t for t in txns},
        "disputes": {d["dispute_id"]: d for d in disputes},
    }
    for table, field in (("accounts", "accounts"), ("cards", "cards"), ("payees", "payees")):
        for rid, record in db[table].items():
            db["customers"][record["customer_id"]][field].append(rid)
    db["customers"][ANA]["disputes"].append(DISPUTE)
    for txn in sorted(txns, key=lambda t: (t["date"], t["transaction_id"])):
        db["accounts"][txn["account_id"]]["transactions"].append(txn["transaction_id"])
    return db


@pytest.fixture(scope="module")
def banking():
    return t2t.load_domain("banking")


def test_tiny_db_is_consistent_and_valid(banking):
    db = make_tiny_bank_db()
    assert banking.check_db(db) == []
    banking.validate_db(db)
    assert [len(db[t]) for t in ("customers", "accounts", "cards", "payees")] == [2, 9, 7, 3]


def test_tiny_db_is_fresh_each_time():
    first = make_tiny_bank_db()
    first["accounts"][CHK]["balance"] = 0.0
    assert make_tiny_bank_db()["accounts"][CHK]["balance"] == 1200.0


def test_tiny_db_has_what_the_tests_rely_on():
    db = make_tiny_bank_db()
    march_out = [
        t
        for t in db["accounts"][SAV]["transactions"]
        if db["transactions"][t]["date"].startswith("2026-03")
        and db["transactions"][t]["amount"] < 0
    ]
    assert len(march_out) == 5
    assert db["transactions"][TODAY_OUT]["date"] == TODAY
    ana_cards = [db["cards"][c] for c in db["customers"][ANA]["cards"]]
    assert sum(c["kind"] == "debit" and c["status"] == "active" for c in ana_cards) == 2


def test_default_db_is_generated_not_stored(banking):
    from pathlib import Path

    assert not (Path(banking.folder) / "db.json").exists()
    assert banking.generate_db is not None and {"paper", "small"} <= set(banking.scales)
    assert "Today is 2026-03-15" in banking.policy
