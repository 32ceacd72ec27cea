"""Consistency checks for banking DBs: what the generator builds and the write tools keep true.

Tasks are verified by replaying tools on a DB, so a DB that contradicts itself (a card linked to
another customer's account, a transfer without its other half, a dispute on an undisputed
charge) yields tasks that verify against nonsense. `check_db` lists such problems. It checks only
what the tools preserve; what merely the policy forbids (a daily limit exceeded, a payment to
another customer's payee) can follow from an agent ignoring the policy and is not reported.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from t2t.domain.record_checks import check_fields, check_tables, is_cents

from .data_model import (
    ACCOUNT_KINDS,
    ACCOUNT_STATUSES,
    CARD_STATUSES,
    DISPUTE_REASONS,
    DISPUTE_STATUSES,
    TABLES,
    TIERS,
    TODAY,
    TRANSACTION_KINDS,
)

__all__ = ["check_db"]

Json = dict[str, Any]
_FIELDS = {
    "customers": (
        "customer_id name email dob phone address tier accounts cards payees disputes".split(),
        (),
    ),
    "accounts": (
        "account_id customer_id kind nickname status balance currency overdraft_limit "
        "daily_transfer_limit opened transactions".split(),
        (),
    ),
    "cards": (
        "card_id customer_id account_id kind network last_four status spending_limit issued "
        "expiry".split(),
        ("replaced_by", "replaces"),
    ),
    "payees": ("payee_id customer_id name bank account_last_four verified added".split(), ()),
    "transactions": (
        "transaction_id account_id date amount description kind status disputed".split(),
        ("card_id", "payee_id", "counterpart_account_id"),
    ),
    "disputes": (
        "dispute_id customer_id transaction_id reason status opened amount".split(),
        (),
    ),
}
_PREFIX = {
    "customers": "cus_",
    "accounts": "acc_",
    "cards": "card_",
    "payees": "pay_",
    "transactions": "txn_",
    "disputes": "dsp_",
}
_ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")
_OWNED = ("accounts", "cards", "payees", "disputes")  # lists a customer keeps of its records
_CARD_FOR = {"checking": "debit", "credit_line": "credit"}
_NEGATIVE, _POSITIVE = ("purchase", "fee", "payment"), ("refund", "deposit")


def _is_date(value: Any) -> bool:
    try:
        return (
            isinstance(value, str) and len(value) == 10 and bool(datetime.date.fromisoformat(value))
        )
    except ValueError:
        return False


def _past_date(problems: list[str], where: str, field: str, value: Any) -> None:
    if not _is_date(value):
        problems.append(f"{where}: {field} {value!r} is not a YYYY-MM-DD date")
    elif value > TODAY:
        problems.append(f"{where}: {field} {value} is after today ({TODAY})")


def _four_digits(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 4 and value.isdigit()


def _get(records: dict[str, Json], key: Any) -> Json | None:
    """The record under `key`, or None when it is missing or `key` is not even a string."""
    return records.get(key) if isinstance(key, str) else None


def _ids(value: Any) -> list[str]:
    """The string ids of a list field (anything else counts as no ids; reported elsewhere)."""
    return [i for i in value if isinstance(i, str)] if isinstance(value, list) else []


def _ids_of(customer: Json, table: str, t: dict[str, dict[str, Json]]) -> list[str]:
    return [i for i in _ids(customer[table]) if i in t[table]]


def _records(db: Json, table: str, problems: list[str]) -> dict[str, Json]:
    """The table's well-shaped records, after checking each one's fields and id."""
    required, optional = _FIELDS[table]
    id_field = required[0]
    good = {}
    for key, record in db[table].items():
        where = f"{table}[{key!r}]"
        if not check_fields(problems, where, record, required, optional):
            continue
        if record[id_field] != key:
            problems.append(f"{where}: {id_field} {record[id_field]!r} differs from key")
        prefix = _PREFIX[table]
        if not (isinstance(key, str) and key.startswith(prefix) and key[len(prefix) :].isdigit()):
            problems.append(f"{where}: id should be {_PREFIX[table]!r} followed by digits")
        good[key] = record
    return good


def _check_customers(t: dict[str, dict[str, Json]], problems: list[str]) -> None:
    emails: dict[str, str] = {}
    identities: dict[tuple, str] = {}
    for cid, customer in t["customers"].items():
        where = f"customers[{cid!r}]"
        name = customer["name"]
        check_fields(problems, f"{where}.name", name, ("first_name", "last_name"))
        check_fields(problems, f"{where}.address", customer["address"], _ADDRESS_FIELDS)
        email = customer["email"]
        if not isinstance(email, str) or "@" not in email:
            problems.append(f"{where}: email {email!r} is not an address")
        elif email.casefold() in emails:
            problems.append(f"{where}: email {email!r} also used by {emails[email.casefold()]!r}")
        else:
            emails[email.casefold()] = cid
        _past_date(problems, where, "dob", customer["dob"])
        if isinstance(name, dict):
            identity = (
                str(name.get("first_name")).casefold(),
                str(name.get("last_name")).casefold(),
                str(customer["dob"]),
            )
            if identity in identities:
                problems.append(f"{where}: same name and dob as {identities[identity]!r}")
            identities.setdefault(identity, cid)
        if customer["tier"] not in TIERS:
            problems.append(f"{where}: tier {customer['tier']!r} unknown")
        for table in _OWNED:
            ids = customer[table]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                problems.append(f"{where}: {table} must be a list of ids")
                continue
            for rid, count in Counter(ids).items():
                if count > 1:
                    problems.append(f"{where}: {table} lists {rid!r} {count} times")
                if rid not in t[table]:
                    problems.append(f"{where}: {table} lists {rid!r}, not in {table}")
                elif (owner := t[table][rid]["customer_id"]) != cid:
                    problems.append(f"{where}: {table} lists {rid!r}, which belongs to {owner!r}")
        nicknames = [str(t["accounts"][a]["nickname"]) for a in _ids_of(customer, "accounts", t)]
        for nickname, count in Counter(nicknames).items():
            if count > 1:
                problems.append(f"{where}: {count} accounts are nicknamed {nickname!r}")
        fours = [str(t["cards"][c]["last_four"]) for c in _ids_of(customer, "cards", t)]
        for four, count in Counter(fours).items():
            if count > 1:
                problems.append(f"{where}: {count} cards end in {four!r}")


def _owner(problems: list[str], where: str, record: Json, table: str, t: dict) -> Json | None:
    """The record's customer, after checking it exists and lists the record."""
    customer = _get(t["customers"], record["customer_id"])
    if customer is None:
        problems.append(f"{where}: customer_id {record['customer_id']!r} not in customers")
        return None
    key = record[_FIELDS[table][0][0]]
    if isinstance(customer[table], list) and key not in customer[table]:
        problems.append(f"{where}: not listed in customers[{record['customer_id']!r}].{table}")
    return customer


def _check_accounts(t: dict[str, dict[str, Json]], problems: list[str]) -> None:
    for aid, account in t["accounts"].items():
        where = f"accounts[{aid!r}]"
        _owner(problems, where, account, "accounts", t)
        kind, status, balance = account["kind"], account["status"], account["balance"]
        if kind not in ACCOUNT_KINDS or status not in ACCOUNT_STATUSES:
            problems.append(f"{where}: kind {kind!r} or status {status!r} unknown")
        if account["currency"] != "USD":
            problems.append(f"{where}: currency {account['currency']!r} is not 'USD'")
        if not isinstance(account["nickname"], str) or not account["nickname"].strip():
            problems.append(f"{where}: empty nickname")
        limits = (account["overdraft_limit"], account["daily_transfer_limit"])
        if not all(is_cents(v) and v >= 0 for v in limits):
            problems.append(f"{where}: overdraft and daily transfer limits must be cents >= 0")
            continue
        if not is_cents(balance):
            problems.append(f"{where}: balance {balance!r} is not a cent amount")
            continue
        if kind == "savings" and account["overdraft_limit"]:
            problems.append(f"{where}: a savings account has no overdraft")
        if balance < -account["overdraft_limit"] - 1e-9:
            problems.append(f"{where}: balance {balance} is below the overdraft limit")
        if status == "closed" and balance != 0:
            problems.append(f"{where}: closed with a balance of {balance}")
        _past_date(problems, where, "opened", account["opened"])
        txn_ids = account["transactions"]
        if not isinstance(txn_ids, list):
            problems.append(f"{where}: transactions must be a list of ids")
            continue
        dates = []
        for tid, count in Counter(txn_ids).items():
            txn = _get(t["transactions"], tid)
            if count > 1:
                problems.append(f"{where}: transactions lists {tid!r} {count} times")
            if txn is None:
                problems.append(f"{where}: transaction {tid!r} not in transactions")
                continue
            if txn["account_id"] != aid:
                problems.append(f"{where}: transaction {tid!r} is on {txn['account_id']!r}")
            if status == "closed" and txn["status"] == "pending":
                problems.append(f"{where}: closed with pending transaction {tid!r}")
            dates.append(str(txn["date"]))
        if dates != sorted(dates):
            problems.append(f"{where}: transactions are not in date order")


def _check_cards(t: dict[str, dict[str, Json]], problems: list[str]) -> None:
    cards = t["cards"]
    for cid, card in cards.items():
        where = f"cards[{cid!r}]"
        _owner(problems, where, card, "cards", t)
        account = _get(t["accounts"], card["account_id"])
        if account is None:
            problems.append(f"{where}: account_id {card['account_id']!r} not in accounts")
        else:
            if account["customer_id"] != card["customer_id"]:
                problems.append(f"{where}: account {card['account_id']!r} is another customer's")
            if _CARD_FOR.get(str(account["kind"])) != card["kind"]:
                problems.append(f"{where}: a {card['kind']} card on a {account['kind']} account")
            if account["status"] == "closed" and card["status"] in ("active", "frozen"):
                problems.append(f"{where}: {card['status']} on closed account")
        if card["status"] not in CARD_STATUSES or card["network"] not in ("visa", "mastercard"):
            problems.append(f"{where}: status {card['status']!r} or network unknown")
        if not _four_digits(card["last_four"]):
            problems.append(f"{where}: last_four {card['last_four']!r} is not four digits")
        limit = card["spending_limit"]
        if not is_cents(limit) or limit <= 0:
            problems.append(f"{where}: spending_limit {limit!r} is not a positive cent amount")
        _past_date(problems, where, "issued", card["issued"])
        expiry = card["expiry"]
        if not (isinstance(expiry, str) and len(expiry) == 7 and _is_date(expiry + "-01")):
            problems.append(f"{where}: expiry {expiry!r} is not YYYY-MM")
        elif isinstance(card["issued"], str) and expiry <= card["issued"][:7]:
            problems.append(f"{where}: expires {expiry}, before it was issued")
        new = card.get("replaced_by")
        new = new if new is None or isinstance(new, str) else repr(new)
        if (card["status"] == "lost") != (new is not None):
            problems.append(f"{where}: replaced_by must be set exactly when the card is lost")
        if new is not None and (new not in cards or cards[new].get("replaces") != cid):
            problems.append(f"{where}: replacement {new!r} does not say it replaces this card")
        elif new is not None and cards[new]["account_id"] != card["account_id"]:
            problems.append(f"{where}: replacement {new!r} is on another account")
        old = card.get("replaces")
        old = old if old is None or isinstance(old, str) else repr(old)
        if old is not None and (old not in cards or cards[old].get("replaced_by") != cid):
            problems.append(f"{where}: replaces {old!r}, which is not replaced by this card")


def _check_payees(t: dict[str, dict[str, Json]], problems: list[str]) -> None:
    for pid, payee in t["payees"].items():
        where = f"payees[{pid!r}]"
        _owner(problems, where, payee, "payees", t)
        if not all(isinstance(payee[f], str) and payee[f].strip() for f in ("name", "bank")):
            problems.append(f"{where}: name and bank must be non-empty")
        if not _four_digits(payee["account_last_four"]):
            problems.append(f"{where}: account_last_four is not four digits")
        if not isinstance(payee["verified"], bool):
            problems.append(f"{where}: verified must be true or false")
        _past_date(problems, where, "added", payee["added"])


def _check_transaction(tid: str, txn: Json, t: dict, problems: list[str]) -> None:
    where = f"transactions[{tid!r}]"
    account = _get(t["accounts"], txn["account_id"])
    if account is None:
        problems.append(f"{where}: account_id {txn['account_id']!r} not in accounts")
    elif tid not in _ids(account["transactions"]):
        problems.append(f"{where}: not listed in accounts[{txn['account_id']!r}].transactions")
    _past_date(problems, where, "date", txn["date"])
    kind, amount = txn["kind"], txn["amount"]
    if kind not in TRANSACTION_KINDS or txn["status"] not in ("posted", "pending"):
        problems.append(f"{where}: kind {kind!r} or status {txn['status']!r} unknown")
    if txn["status"] == "pending" and kind not in ("purchase", "payment"):
        problems.append(f"{where}: a {kind} cannot be pending")
    if not isinstance(txn["disputed"], bool):
        problems.append(f"{where}: disputed must be true or false")
    if not is_cents(amount) or amount == 0:
        problems.append(f"{where}: amount {amount!r} is not a non-zero cent amount")
        return
    if (kind in _NEGATIVE and amount > 0) or (kind in _POSITIVE and amount < 0):
        problems.append(f"{where}: a {kind} of {amount} has the wrong sign")
    links = {
        "card_id": ("cards", kind in ("purchase", "refund")),
        "payee_id": ("payees", kind == "payment"),
        "counterpart_account_id": ("accounts", kind == "transfer"),
    }
    for field, (table, wanted) in links.items():
        value = txn.get(field)
        if wanted != (value is not None):
            problems.append(f"{where}: {field} must be set exactly for {kind}s")
        elif value is not None and _get(t[table], value) is None:
            problems.append(f"{where}: {field} {value!r} not in {table}")
    card = _get(t["cards"], txn.get("card_id"))
    if card is not None and card["account_id"] != txn["account_id"]:
        problems.append(f"{where}: card {card['card_id']!r} is linked to another account")
    elif card is not None and str(card["issued"]) > str(txn["date"]):
        problems.append(f"{where}: dated before card {card['card_id']!r} was issued")
    other = _get(t["accounts"], txn.get("counterpart_account_id"))
    if other is not None:
        mirror = [_get(t["transactions"], m) for m in _ids(other["transactions"])]
        if not any(
            m is not None
            and m["kind"] == "transfer"
            and m.get("counterpart_account_id") == txn["account_id"]
            and m["date"] == txn["date"]
            and m["amount"] == -amount
            for m in mirror
        ):
            problems.append(f"{where}: no matching transfer on {other['account_id']!r}")


def _check_disputes(t: dict[str, dict[str, Json]], problems: list[str]) -> None:
    disputed_by: dict[str, str] = {}
    for did, dispute in t["disputes"].items():
        where = f"disputes[{did!r}]"
        _owner(problems, where, dispute, "disputes", t)
        if dispute["reason"] not in DISPUTE_REASONS or dispute["status"] not in DISPUTE_STATUSES:
            problems.append(f"{where}: reason {dispute['reason']!r} or status unknown")
        _past_date(problems, where, "opened", dispute["opened"])
        tid = dispute["transaction_id"]
        txn = _get(t["transactions"], tid)
        if txn is None:
            problems.append(f"{where}: transaction_id {tid!r} not in transactions")
            continue
        if tid in disputed_by:
            problems.append(f"{where}: transaction {tid!r} also disputed by {disputed_by[tid]!r}")
        disputed_by.setdefault(tid, did)
        if txn["disputed"] is not True:
            problems.append(f"{where}: transaction {tid!r} is not marked disputed")
        account = _get(t["accounts"], txn["account_id"])
        if account is not None and account["customer_id"] != dispute["customer_id"]:
            problems.append(f"{where}: transaction {tid!r} is another customer's")
        if is_cents(txn["amount"]) and dispute["amount"] != round(abs(txn["amount"]), 2):
            problems.append(f"{where}: amount {dispute['amount']!r} differs from the charge")
        if str(dispute["opened"]) < str(txn["date"]):
            problems.append(f"{where}: opened before the transaction's date")
    for tid, txn in t["transactions"].items():
        if txn["disputed"] is True and tid not in disputed_by:
            problems.append(f"transactions[{tid!r}]: marked disputed but no dispute names it")


def check_db(db: dict) -> list[str]:
    """List every inconsistency found in a banking DB; an empty list means it is consistent."""
    problems: list[str] = []
    if not check_tables(problems, db, TABLES):
        return problems
    t = {table: _records(db, table, problems) for table in TABLES}
    _check_customers(t, problems)
    _check_accounts(t, problems)
    _check_cards(t, problems)
    _check_payees(t, problems)
    for tid, txn in t["transactions"].items():
        _check_transaction(tid, txn, t, problems)
    _check_disputes(t, problems)
    return problems
