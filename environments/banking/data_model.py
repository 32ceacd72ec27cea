"""The banking DB layout and the fixed facts the tools, rules, generator and checks share.

The environment keeps plain dicts; these models only validate a database file's shape and types
so a malformed one is reported by field (`accounts.acc_1000001.status: ...`). The bank runs on a
fixed clock (`TODAY`), stated in `policy.md`, so date rules give the same answer on every replay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ACCOUNT_KINDS",
    "ACCOUNT_STATUSES",
    "CARD_KINDS",
    "CARD_LIMIT_MAX",
    "CARD_STATUSES",
    "DB",
    "DISPUTE_REASONS",
    "DISPUTE_STATUSES",
    "DISPUTE_WINDOW_DAYS",
    "OUTGOING_KINDS",
    "SAVINGS_MONTHLY_WITHDRAWALS",
    "TABLES",
    "TIERS",
    "TODAY",
    "TRANSACTION_KINDS",
    "UNVERIFIED_PAYEE_MAX",
]

TODAY = "2026-03-15"  # the bank's fixed clock (policy.md says so)
TABLES = ("customers", "accounts", "cards", "payees", "transactions", "disputes")
TIERS = ("standard", "premium")
ACCOUNT_KINDS = ("checking", "savings", "credit_line")
ACCOUNT_STATUSES = ("open", "frozen", "closed")
CARD_KINDS = ("debit", "credit")
CARD_STATUSES = ("active", "frozen", "lost", "cancelled")
TRANSACTION_KINDS = ("purchase", "refund", "deposit", "fee", "transfer", "payment")
OUTGOING_KINDS = ("transfer", "payment")  # what counts against transfer limits
DISPUTE_REASONS = ("unauthorized", "duplicate charge", "incorrect amount", "not received")
DISPUTE_STATUSES = ("open", "resolved", "rejected")
CARD_LIMIT_MAX = {"standard": 5000.0, "premium": 15000.0}  # daily spending limit, USD
UNVERIFIED_PAYEE_MAX = 1000.0  # larger payments need a verified payee
DISPUTE_WINDOW_DAYS = 60
SAVINGS_MONTHLY_WITHDRAWALS = 6


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(_Record):
    first_name: str
    last_name: str


class Address(_Record):
    address1: str
    address2: str
    city: str
    state: str
    country: str
    zip: str


class Customer(_Record):
    customer_id: str
    name: Name
    email: str
    dob: str
    phone: str
    address: Address
    tier: Literal["standard", "premium"]
    accounts: list[str]
    cards: list[str]
    payees: list[str]
    disputes: list[str]


class Account(_Record):
    account_id: str
    customer_id: str
    kind: Literal["checking", "savings", "credit_line"]
    nickname: str
    status: Literal["open", "frozen", "closed"]
    balance: float
    currency: Literal["USD"]
    overdraft_limit: float
    daily_transfer_limit: float
    opened: str
    transactions: list[str]


class Card(_Record):
    card_id: str
    customer_id: str
    account_id: str
    kind: Literal["debit", "credit"]
    network: Literal["visa", "mastercard"]
    last_four: str
    status: Literal["active", "frozen", "lost", "cancelled"]
    spending_limit: float
    issued: str
    expiry: str
    replaced_by: str | None = None
    replaces: str | None = None


class Payee(_Record):
    payee_id: str
    customer_id: str
    name: str
    bank: str
    account_last_four: str
    verified: bool
    added: str


class Transaction(_Record):
    transaction_id: str
    account_id: str
    date: str
    amount: float
    description: str
    kind: Literal["purchase", "refund", "deposit", "fee", "transfer", "payment"]
    status: Literal["posted", "pending"]
    disputed: bool
    card_id: str | None = None
    payee_id: str | None = None
    counterpart_account_id: str | None = None


class Dispute(_Record):
    dispute_id: str
    customer_id: str
    transaction_id: str
    reason: Literal["unauthorized", "duplicate charge", "incorrect amount", "not received"]
    status: Literal["open", "resolved", "rejected"]
    opened: str
    amount: float


class DB(_Record):
    customers: dict[str, Customer]
    accounts: dict[str, Account]
    cards: dict[str, Card]
    payees: dict[str, Payee]
    transactions: dict[str, Transaction]
    disputes: dict[str, Dispute]
