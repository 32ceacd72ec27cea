"""Banking tools: customers, accounts, cards, saved payees, transactions and card disputes.

Tools refuse what the bank's systems cannot do (move money out of a closed account, overdraw
beyond the overdraft limit, unfreeze a card that is not frozen); what only the written policy
forbids (a frozen account, a daily limit, an unverified payee, a dispute past 60 days) is left to
`rules.py`, so an agent that ignores the policy really changes the state. New records get ids
derived from the call's content, so replaying the same calls always yields the same DB.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import math
import unicodedata
from typing import Any

from t2t import State, ToolCallError, tool
from t2t.domain.arithmetic import calculate_expression

from .data_model import DISPUTE_REASONS, TODAY

__all__ = [
    "add_payee",
    "calculate",
    "close_account",
    "dispute_transaction",
    "find_customer_id_by_email",
    "find_customer_id_by_name_dob",
    "freeze_card",
    "get_account_details",
    "get_card_details",
    "get_customer_details",
    "get_dispute_details",
    "get_payee_details",
    "get_transaction_details",
    "list_transactions",
    "pay_payee",
    "report_card_lost",
    "transfer_between_accounts",
    "transfer_to_human_agents",
    "unfreeze_card",
    "update_card_limit",
]

_CARD_YEARS = 4  # a replacement card expires four years after it is issued


# ------------------------------------------------------------------------------------ helpers


def _get(db: State, table: str, key: str, what: str) -> dict[str, Any]:
    if key not in db[table]:
        raise ToolCallError(f"{what} not found")
    return db[table][key]


@functools.lru_cache(maxsize=1 << 14)
def _fold(text: str) -> str:
    """Case- and accent-insensitive form for matching names and emails."""
    if text.isascii():
        return text.casefold().strip()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _money(value: float, what: str) -> float:
    """A positive amount in whole cents, or a refusal naming `what`."""
    if not math.isfinite(value) or value <= 0:
        raise ToolCallError(f"{what} must be positive")
    if value >= 1e12:
        raise ToolCallError(f"{what} is too large")
    if abs(value * 100 - round(value * 100)) > 1e-6:
        raise ToolCallError(f"{what} must be in whole cents")
    return round(value, 2)


def _date(value: str) -> str:
    try:
        if len(value) == 10:
            return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise ToolCallError("Invalid date, use YYYY-MM-DD")


def _new_id(db: State, table: str, prefix: str, digits: int, *parts: str) -> str:
    """A fresh id derived from `parts`: the same calls on the same state give the same ids."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    low, span = 10 ** (digits - 1), 9 * 10 ** (digits - 1)
    number = int.from_bytes(digest, "big")
    while f"{prefix}{low + number % span}" in db[table]:
        number += 1
    return f"{prefix}{low + number % span}"


def _post(db: State, account_id: str, amount: float, kind: str, text: str, **link: str) -> str:
    """Record a transaction dated today on an account, move its balance, return the new id."""
    account = db.edit("accounts", account_id)
    count = str(len(account["transactions"]))
    txn_id = _new_id(db, "transactions", "txn_", 8, account_id, count, str(amount))
    db.insert(
        "transactions",
        txn_id,
        {
            "transaction_id": txn_id,
            "account_id": account_id,
            "date": TODAY,
            "amount": amount,
            "description": text,
            "kind": kind,
            "status": "pending" if kind == "payment" else "posted",
            "disputed": False,
            **link,
        },
    )
    account["transactions"].append(txn_id)
    account["balance"] = round(account["balance"] + amount, 2)
    return txn_id


def _debit_check(account: dict[str, Any], amount: float) -> None:
    if account["status"] == "closed":
        raise ToolCallError("Account is closed")
    if amount > account["balance"] + account["overdraft_limit"] + 1e-9:
        raise ToolCallError("Insufficient funds")


# ------------------------------------------------------------------------------------- generic


@tool(kind="generic")
def calculate(db: State, expression: str) -> str:
    """Calculate the result of an arithmetic expression, rounded to cents.

    Args:
        expression: The expression to calculate, such as '1200.50 - 3 * 45'. Only numbers, the operators + - * /, parentheses and spaces are allowed.
    """  # noqa: E501
    return calculate_expression(expression)


@tool(kind="generic")
def transfer_to_human_agents(db: State, summary: str) -> str:
    """Hand the customer over to a human banker, with a summary of their issue.

    Only transfer if the customer explicitly asks for a human, or if the policy and the available tools do not let you solve their issue (for example lifting an account freeze).

    Args:
        summary: A short summary of the customer's issue.
    """  # noqa: E501
    return "Transfer successful"


# --------------------------------------------------------------------------------------- reads


@tool(kind="read")
def find_customer_id_by_email(db: State, email: str) -> str:
    """Find a customer's id from their email address.

    Args:
        email: The customer's email, such as 'ana.silva@example.com'.
    """
    wanted = _fold(email)
    for customer_id, customer in db["customers"].items():
        if _fold(customer["email"]) == wanted:
            return customer_id
    raise ToolCallError("Customer not found")


@tool(kind="read")
def find_customer_id_by_name_dob(db: State, first_name: str, last_name: str, dob: str) -> str:
    """Find a customer's id from their full name and date of birth. Use it when the customer cannot give the email on file.

    Args:
        first_name: The customer's first name, such as 'Ana'.
        last_name: The customer's last name, such as 'Silva'.
        dob: The customer's date of birth in YYYY-MM-DD format, such as '1985-04-12'.
    """  # noqa: E501
    first, last = _fold(first_name), _fold(last_name)
    for customer_id, customer in db["customers"].items():
        name = customer["name"]
        if (
            customer["dob"] == dob.strip()
            and _fold(name["first_name"]) == first
            and _fold(name["last_name"]) == last
        ):
            return customer_id
    raise ToolCallError("Customer not found")


@tool(kind="read")
def get_customer_details(db: State, customer_id: str) -> dict[str, Any]:
    """Get a customer's profile: contact details, tier, and the ids of their accounts, cards, saved payees and disputes.

    Args:
        customer_id: The customer id, such as 'cus_1000001'.
    """  # noqa: E501
    return _get(db, "customers", customer_id, "Customer")


@tool(kind="read")
def get_account_details(db: State, account_id: str) -> dict[str, Any]:
    """Get an account: kind, nickname, status, balance (pending transactions included), overdraft or credit limit, daily transfer limit and its transaction ids.

    Args:
        account_id: The account id, such as 'acc_1000011'.
    """  # noqa: E501
    return _get(db, "accounts", account_id, "Account")


@tool(kind="read")
def get_card_details(db: State, card_id: str) -> dict[str, Any]:
    """Get a card: kind (debit or credit), linked account, last four digits, status, daily spending limit and expiry.

    Args:
        card_id: The card id, such as 'card_1000021'. It is not the number printed on the card.
    """  # noqa: E501
    return _get(db, "cards", card_id, "Card")


@tool(kind="read")
def get_payee_details(db: State, payee_id: str) -> dict[str, Any]:
    """Get a saved payee: name, bank, last four digits of their account, and whether it is verified.

    Args:
        payee_id: The payee id, such as 'pay_1000031'.
    """  # noqa: E501
    return _get(db, "payees", payee_id, "Payee")


@tool(kind="read")
def get_transaction_details(db: State, transaction_id: str) -> dict[str, Any]:
    """Get one transaction: account, card if any, date, amount (negative when money left the account), description, kind, status and whether it is disputed.

    Args:
        transaction_id: The transaction id, such as 'txn_10000041'.
    """  # noqa: E501
    return _get(db, "transactions", transaction_id, "Transaction")


@tool(kind="read")
def get_dispute_details(db: State, dispute_id: str) -> dict[str, Any]:
    """Get a card dispute: the disputed transaction, reason, amount, status and the date it was opened.

    Args:
        dispute_id: The dispute id, such as 'dsp_1000051'.
    """  # noqa: E501
    return _get(db, "disputes", dispute_id, "Dispute")


@tool(kind="read")
def list_transactions(
    db: State, account_id: str, start_date: str | None = None, end_date: str | None = None
) -> list[dict[str, Any]]:
    """List an account's transactions, newest first, optionally within a date range (both ends included).

    Args:
        account_id: The account id, such as 'acc_1000011'.
        start_date: The earliest date to include, in YYYY-MM-DD format, such as '2026-02-01'. Omit for no lower bound.
        end_date: The latest date to include, in YYYY-MM-DD format, such as '2026-02-28'. Omit for no upper bound.
    """  # noqa: E501
    account = _get(db, "accounts", account_id, "Account")
    start = _date(start_date) if start_date else "0000-00-00"
    end = _date(end_date) if end_date else "9999-99-99"
    if start > end:
        raise ToolCallError("Start date is after end date")
    records = (db["transactions"][t] for t in account["transactions"])
    chosen = [r for r in records if start <= r["date"] <= end]
    return sorted(chosen, key=lambda r: (r["date"], r["transaction_id"]), reverse=True)


# -------------------------------------------------------------------------------------- writes


@tool(kind="write")
def transfer_between_accounts(
    db: State, from_account_id: str, to_account_id: str, amount: float
) -> dict[str, Any]:
    """Move money between two of the customer's own accounts at once (paying a credit line is a transfer into it). Explain the transfer and get an explicit yes before calling.

    Args:
        from_account_id: The account the money leaves, such as 'acc_1000011'.
        to_account_id: The account the money goes to, such as 'acc_1000013'.
        amount: The amount in US dollars, such as 250.75.
    """  # noqa: E501
    amount = _money(amount, "Amount")
    source = _get(db, "accounts", from_account_id, "Account")
    target = _get(db, "accounts", to_account_id, "Account")
    if from_account_id == to_account_id:
        raise ToolCallError("Cannot transfer to the same account")
    if target["status"] == "closed":
        raise ToolCallError("Account is closed")
    _debit_check(source, amount)
    text_out, text_in = f"Transfer to {target['nickname']}", f"Transfer from {source['nickname']}"
    out = _post(
        db, from_account_id, -amount, "transfer", text_out, counterpart_account_id=to_account_id
    )
    into = _post(
        db, to_account_id, amount, "transfer", text_in, counterpart_account_id=from_account_id
    )
    return {
        "amount": amount,
        "date": TODAY,
        "from_account_id": from_account_id,
        "from_account_balance": db["accounts"][from_account_id]["balance"],
        "to_account_id": to_account_id,
        "to_account_balance": db["accounts"][to_account_id]["balance"],
        "transaction_ids": [out, into],
    }


@tool(kind="write")
def pay_payee(db: State, account_id: str, payee_id: str, amount: float) -> dict[str, Any]:
    """Pay one of the customer's saved payees from one of their accounts. The payment is pending for one to two business days, and the balance drops at once. Explain the payment and get an explicit yes before calling.

    Args:
        account_id: The account to pay from, such as 'acc_1000011'.
        payee_id: The saved payee to pay, such as 'pay_1000031'.
        amount: The amount in US dollars, such as 120.00.
    """  # noqa: E501
    amount = _money(amount, "Amount")
    account = _get(db, "accounts", account_id, "Account")
    payee = _get(db, "payees", payee_id, "Payee")
    _debit_check(account, amount)
    text = f"Payment to {payee['name']}"
    txn_id = _post(db, account_id, -amount, "payment", text, payee_id=payee_id)
    return {
        "transaction_id": txn_id,
        "status": "pending",
        "amount": amount,
        "date": TODAY,
        "account_id": account_id,
        "account_balance": db["accounts"][account_id]["balance"],
        "payee_id": payee_id,
        "payee_name": payee["name"],
    }


@tool(kind="write")
def add_payee(
    db: State, customer_id: str, name: str, bank: str, account_number: str
) -> dict[str, Any]:
    """Save a new external payee for a customer. New payees start unverified; the bank verifies them within two business days. Confirm the details with the customer and get an explicit yes before calling.

    Args:
        customer_id: The customer id, such as 'cus_1000001'.
        name: The payee's name as it appears on their account, such as 'City Power & Light'.
        bank: The payee's bank, such as 'First Harbor Bank'.
        account_number: The payee's account number, 4 to 17 digits, such as '000123456789'.
    """  # noqa: E501
    customer = _get(db, "customers", customer_id, "Customer")
    name, bank, account_number = name.strip(), bank.strip(), account_number.strip()
    if not name or not bank:
        raise ToolCallError("Payee name and bank are required")
    if not (
        account_number.isascii() and account_number.isdigit() and 4 <= len(account_number) <= 17
    ):
        raise ToolCallError("Invalid account number")
    last_four = account_number[-4:]
    wanted = (_fold(name), _fold(bank), last_four)
    saved = (db["payees"][p] for p in customer["payees"])
    if any((_fold(p["name"]), _fold(p["bank"]), p["account_last_four"]) == wanted for p in saved):
        raise ToolCallError("Payee already exists")
    payee_id = _new_id(
        db, "payees", "pay_", 7, customer_id, _fold(name), _fold(bank), account_number
    )
    record = {
        "payee_id": payee_id,
        "customer_id": customer_id,
        "name": name,
        "bank": bank,
        "account_last_four": last_four,
        "verified": False,
        "added": TODAY,
    }
    db.insert("payees", payee_id, record)
    db.edit("customers", customer_id)["payees"].append(payee_id)
    return record


@tool(kind="write")
def freeze_card(db: State, card_id: str) -> dict[str, Any]:
    """Temporarily freeze an active card so no new purchases go through; it can be unfrozen later. Get an explicit yes before calling.

    Args:
        card_id: The card id, such as 'card_1000021'.
    """  # noqa: E501
    if _get(db, "cards", card_id, "Card")["status"] != "active":
        raise ToolCallError("Only an active card can be frozen")
    card = db.edit("cards", card_id)
    card["status"] = "frozen"
    return card


@tool(kind="write")
def unfreeze_card(db: State, card_id: str) -> dict[str, Any]:
    """Unfreeze a frozen card so it works again. Get an explicit yes before calling.

    Args:
        card_id: The card id, such as 'card_1000021'.
    """
    if _get(db, "cards", card_id, "Card")["status"] != "frozen":
        raise ToolCallError("Only a frozen card can be unfrozen")
    card = db.edit("cards", card_id)
    card["status"] = "active"
    return card


@tool(kind="write")
def report_card_lost(db: State, card_id: str) -> dict[str, Any]:
    """Report a card lost or stolen: it is blocked for good and a replacement card (new id and number, same account and limit) is issued. This cannot be undone. Get an explicit yes before calling.

    Args:
        card_id: The card id, such as 'card_1000021'.
    """  # noqa: E501
    old = _get(db, "cards", card_id, "Card")
    if old["status"] in ("lost", "cancelled"):
        raise ToolCallError("Card is already lost or cancelled")
    new_id = _new_id(db, "cards", "card_", 7, card_id, "replacement")
    customer = db["customers"][old["customer_id"]]
    taken = {db["cards"][c]["last_four"] for c in customer["cards"]}
    number = int.from_bytes(hashlib.blake2b(new_id.encode(), digest_size=4).digest(), "big")
    while f"{number % 10_000:04d}" in taken:  # the last four digits tell a customer's cards apart
        number += 1
    last_four = f"{number % 10_000:04d}"
    replacement = {
        "card_id": new_id,
        "customer_id": old["customer_id"],
        "account_id": old["account_id"],
        "kind": old["kind"],
        "network": old["network"],
        "last_four": last_four,
        "status": "active",
        "spending_limit": old["spending_limit"],
        "issued": TODAY,
        "expiry": f"{int(TODAY[:4]) + _CARD_YEARS}{TODAY[4:7]}",
        "replaces": card_id,
    }
    db.insert("cards", new_id, replacement)
    lost = db.edit("cards", card_id)
    lost["status"] = "lost"
    lost["replaced_by"] = new_id
    db.edit("customers", old["customer_id"])["cards"].append(new_id)
    return {"lost_card": lost, "replacement_card": replacement}


@tool(kind="write")
def update_card_limit(db: State, card_id: str, new_limit: float) -> dict[str, Any]:
    """Set a card's daily spending limit. Get an explicit yes before calling.

    Args:
        card_id: The card id, such as 'card_1000021'.
        new_limit: The new daily spending limit in US dollars, such as 3000.
    """
    new_limit = _money(new_limit, "Limit")
    if _get(db, "cards", card_id, "Card")["status"] in ("lost", "cancelled"):
        raise ToolCallError("Card is lost or cancelled")
    card = db.edit("cards", card_id)
    card["spending_limit"] = new_limit
    return card


@tool(kind="write")
def dispute_transaction(db: State, transaction_id: str, reason: str) -> dict[str, Any]:
    """Open a dispute on a card charge the customer does not recognise or disagrees with. Get an explicit yes before calling.

    Args:
        transaction_id: The transaction id, such as 'txn_10000041'.
        reason: One of 'unauthorized', 'duplicate charge', 'incorrect amount' or 'not received'.
    """  # noqa: E501
    txn = _get(db, "transactions", transaction_id, "Transaction")
    if reason not in DISPUTE_REASONS:
        raise ToolCallError("Invalid reason")
    if txn["disputed"]:
        raise ToolCallError("Transaction is already disputed")
    customer_id = db["accounts"][txn["account_id"]]["customer_id"]
    dispute_id = _new_id(db, "disputes", "dsp_", 7, transaction_id)
    dispute = {
        "dispute_id": dispute_id,
        "customer_id": customer_id,
        "transaction_id": transaction_id,
        "reason": reason,
        "status": "open",
        "opened": TODAY,
        "amount": round(abs(txn["amount"]), 2),
    }
    db.insert("disputes", dispute_id, dispute)
    db.edit("transactions", transaction_id)["disputed"] = True
    db.edit("customers", customer_id)["disputes"].append(dispute_id)
    return dispute


@tool(kind="write")
def close_account(db: State, account_id: str) -> dict[str, Any]:
    """Close an account for good; its active or frozen cards are cancelled. The balance must be exactly zero and nothing may be pending. Get an explicit yes before calling.

    Args:
        account_id: The account id, such as 'acc_1000016'.
    """  # noqa: E501
    account = _get(db, "accounts", account_id, "Account")
    if account["status"] == "closed":
        raise ToolCallError("Account is already closed")
    if account["balance"] != 0:
        raise ToolCallError("Account balance must be zero to close it")
    if any(db["transactions"][t]["status"] == "pending" for t in account["transactions"]):
        raise ToolCallError("Account has pending transactions")
    for card_id in db["customers"][account["customer_id"]]["cards"]:
        card = db["cards"][card_id]
        if card["account_id"] == account_id and card["status"] in ("active", "frozen"):
            db.edit("cards", card_id)["status"] = "cancelled"
    account = db.edit("accounts", account_id)
    account["status"] = "closed"
    return account
