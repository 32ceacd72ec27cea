"""Machine-checkable banking policy rules: each says why a call is not allowed, or returns None.

Rules read the state and the call's raw arguments and never raise: a call naming records that do
not exist, or with arguments of the wrong type, is left to the tool, which refuses it. Several
rules are stricter than the tools (a frozen account, the daily transfer limit, an unverified
payee, the dispute window, the tier's card limit): those are what infeasible variants are built
from, since an agent that ignores them changes the state.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from t2t import State, ToolCall, rule

from .data_model import (
    CARD_LIMIT_MAX,
    DISPUTE_WINDOW_DAYS,
    OUTGOING_KINDS,
    SAVINGS_MONTHLY_WITHDRAWALS,
    TODAY,
    UNVERIFIED_PAYEE_MAX,
)

__all__ = [
    "close_at_zero_balance",
    "close_without_pending",
    "debit_account_open",
    "dispute_once",
    "dispute_posted_card_purchase",
    "dispute_within_window",
    "frozen_account_not_closed",
    "limit_change_only_active_card",
    "limit_within_tier",
    "lost_card_stays_blocked",
    "payee_verified_for_large_payment",
    "same_customer",
    "savings_monthly_withdrawals",
    "sufficient_funds",
    "within_daily_transfer_limit",
]

_MOVES = ("transfer_between_accounts", "pay_payee")
_WINDOW_START = (
    datetime.date.fromisoformat(TODAY) - datetime.timedelta(days=DISPUTE_WINDOW_DAYS)
).isoformat()


def _record(db: State, table: str, call: ToolCall, argument: str) -> dict[str, Any] | None:
    key = call.arguments.get(argument)
    return db[table].get(key) if isinstance(key, str) else None


def _source(db: State, call: ToolCall) -> dict[str, Any] | None:
    """The account money leaves in a transfer or a payment."""
    argument = "from_account_id" if call.name == "transfer_between_accounts" else "account_id"
    return _record(db, "accounts", call, argument)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _outgoing(db: State, account: dict[str, Any], date_prefix: str) -> list[dict[str, Any]]:
    """Transfers and payments that left the account on dates starting with `date_prefix`."""
    found = []
    for txn_id in account["transactions"]:
        txn = db["transactions"].get(txn_id)
        if (
            txn is not None
            and txn["kind"] in OUTGOING_KINDS
            and txn["amount"] < 0
            and txn["date"].startswith(date_prefix)
        ):
            found.append(txn)
    return found


def _usd(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


# ------------------------------------------------------------------------------ moving money


@rule(*_MOVES)
def debit_account_open(db: State, call: ToolCall) -> str | None:
    """Money leaves only an open account, and never goes into a closed one."""
    source = _source(db, call)
    if source and source["status"] != "open":
        return f"account {source['account_id']} is {source['status']}; no money can leave it"
    target = _record(db, "accounts", call, "to_account_id")
    if call.name == "transfer_between_accounts" and target and target["status"] == "closed":
        return f"account {target['account_id']} is closed; no money can go into it"
    return None


@rule(*_MOVES)
def sufficient_funds(db: State, call: ToolCall) -> str | None:
    """The amount fits within the balance plus the overdraft (or credit) limit."""
    source, amount = _source(db, call), _number(call.arguments.get("amount"))
    if not source or amount is None:
        return None
    available = round(source["balance"] + source["overdraft_limit"], 2)
    if amount > available + 1e-9:
        return (
            f"account {source['account_id']} has {_usd(available)} available "
            f"(balance plus overdraft), less than {_usd(amount)}"
        )
    return None


@rule(*_MOVES)
def within_daily_transfer_limit(db: State, call: ToolCall) -> str | None:
    """Transfers and payments out of an account today stay within its daily transfer limit."""
    source, amount = _source(db, call), _number(call.arguments.get("amount"))
    if not source or amount is None:
        return None
    used = -sum(txn["amount"] for txn in _outgoing(db, source, TODAY))
    left = round(source["daily_transfer_limit"] - used, 2)
    if amount > left + 1e-9:
        return (
            f"account {source['account_id']} has {_usd(left)} of its "
            f"{_usd(source['daily_transfer_limit'])} daily transfer limit left today, "
            f"less than {_usd(amount)}"
        )
    return None


@rule(*_MOVES)
def savings_monthly_withdrawals(db: State, call: ToolCall) -> str | None:
    """A savings account allows at most six transfers or payments out per calendar month."""
    source = _source(db, call)
    if not source or source["kind"] != "savings":
        return None
    count = len(_outgoing(db, source, TODAY[:7]))
    if count >= SAVINGS_MONTHLY_WITHDRAWALS:
        return (
            f"savings account {source['account_id']} already had {count} withdrawals this "
            f"month, the most allowed is {SAVINGS_MONTHLY_WITHDRAWALS}"
        )
    return None


@rule(*_MOVES)
def same_customer(db: State, call: ToolCall) -> str | None:
    """Both accounts of a transfer, or the account and payee of a payment, are one customer's."""
    source = _source(db, call)
    if call.name == "transfer_between_accounts":
        other, what = _record(db, "accounts", call, "to_account_id"), "account"
    else:
        other, what = _record(db, "payees", call, "payee_id"), "payee"
    if source and other and other["customer_id"] != source["customer_id"]:
        other_id = other["account_id"] if what == "account" else other["payee_id"]
        return (
            f"{what} {other_id} belongs to {other['customer_id']}, but account "
            f"{source['account_id']} belongs to {source['customer_id']}"
        )
    return None


@rule("pay_payee")
def payee_verified_for_large_payment(db: State, call: ToolCall) -> str | None:
    """Payments above $1,000 go only to verified payees."""
    payee, amount = _record(db, "payees", call, "payee_id"), _number(call.arguments.get("amount"))
    if payee and amount is not None and amount > UNVERIFIED_PAYEE_MAX and not payee["verified"]:
        return (
            f"payee {payee['payee_id']} is not verified; payments above "
            f"{_usd(UNVERIFIED_PAYEE_MAX)} need a verified payee"
        )
    return None


# ------------------------------------------------------------------------------------- cards


@rule("update_card_limit")
def limit_within_tier(db: State, call: ToolCall) -> str | None:
    """A card's daily spending limit stays within the maximum of its owner's tier."""
    card, limit = _record(db, "cards", call, "card_id"), _number(call.arguments.get("new_limit"))
    customer = db["customers"].get(card["customer_id"]) if card else None
    if not customer or limit is None:
        return None
    ceiling = CARD_LIMIT_MAX.get(customer["tier"])
    if ceiling is not None and limit > ceiling:
        return (
            f"{_usd(limit)} is above the {_usd(ceiling)} maximum card limit "
            f"for {customer['tier']} customers"
        )
    return None


@rule("update_card_limit")
def limit_change_only_active_card(db: State, call: ToolCall) -> str | None:
    """Only an active card's limit can change (not a frozen, lost or cancelled one)."""
    card = _record(db, "cards", call, "card_id")
    if card and card["status"] != "active":
        return f"card {card['card_id']} is {card['status']}; only an active card's limit changes"
    return None


@rule("freeze_card", "unfreeze_card", "report_card_lost")
def lost_card_stays_blocked(db: State, call: ToolCall) -> str | None:
    """A lost or cancelled card is blocked for good: it cannot be frozen, unfrozen or reported."""
    card = _record(db, "cards", call, "card_id")
    if card and card["status"] in ("lost", "cancelled"):
        replacement = card.get("replaced_by")
        hint = f"; its replacement is {replacement}" if replacement else ""
        return f"card {card['card_id']} is {card['status']} and blocked for good{hint}"
    return None


# ---------------------------------------------------------------------------------- disputes


@rule("dispute_transaction")
def dispute_posted_card_purchase(db: State, call: ToolCall) -> str | None:
    """Only posted card purchases can be disputed."""
    txn = _record(db, "transactions", call, "transaction_id")
    if not txn:
        return None
    if txn["kind"] != "purchase" or not txn.get("card_id"):
        return f"transaction {txn['transaction_id']} is a {txn['kind']}, not a card purchase"
    if txn["status"] != "posted":
        return f"transaction {txn['transaction_id']} is still pending; wait until it posts"
    return None


@rule("dispute_transaction")
def dispute_within_window(db: State, call: ToolCall) -> str | None:
    """A charge can be disputed within 60 days of its date."""
    txn = _record(db, "transactions", call, "transaction_id")
    if txn and txn["date"] < _WINDOW_START:
        return (
            f"transaction {txn['transaction_id']} is dated {txn['date']}, more than "
            f"{DISPUTE_WINDOW_DAYS} days before {TODAY}"
        )
    return None


@rule("dispute_transaction")
def dispute_once(db: State, call: ToolCall) -> str | None:
    """A transaction is disputed at most once."""
    txn = _record(db, "transactions", call, "transaction_id")
    if txn and txn["disputed"]:
        return f"transaction {txn['transaction_id']} is already disputed"
    return None


# ---------------------------------------------------------------------------------- closing


@rule("close_account")
def close_at_zero_balance(db: State, call: ToolCall) -> str | None:
    """An account closes only when its balance is exactly zero."""
    account = _record(db, "accounts", call, "account_id")
    if account and account["balance"] != 0:
        return (
            f"account {account['account_id']} has a balance of {_usd(account['balance'])}; "
            "it must be zero to close"
        )
    return None


@rule("close_account")
def close_without_pending(db: State, call: ToolCall) -> str | None:
    """An account with pending transactions cannot be closed."""
    account = _record(db, "accounts", call, "account_id")
    if not account:
        return None
    pending = sorted(
        t
        for t in account["transactions"]
        if (txn := db["transactions"].get(t)) is not None and txn["status"] == "pending"
    )
    if pending:
        return f"account {account['account_id']} has pending transactions {pending}"
    return None


@rule("close_account")
def frozen_account_not_closed(db: State, call: ToolCall) -> str | None:
    """A frozen account is under review: only a human banker can close it."""
    account = _record(db, "accounts", call, "account_id")
    if account and account["status"] == "frozen":
        return f"account {account['account_id']} is frozen; only a human banker can close it"
    return None
