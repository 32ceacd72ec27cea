"""How bank customers ask: what they want done, why, and how they name accounts, cards, charges.

Accounts and cards are named by kind and the last four digits printed on them, payees by name,
a charge by its amount, merchant and day; amounts as dollars. Read by `t2t.tasks` (see README,
"Bring your own domain").
"""

from __future__ import annotations

from t2t.tasks import Mention, last_digits, money, spoken_date, words

ASKS = {
    "transfer_between_accounts": (
        "move {amount} from {from_account_id} to {to_account_id}",
        "transfer {amount} from {from_account_id} into {to_account_id}",
    ),
    "pay_payee": (
        "pay {payee_id} {amount} from {account_id}",
        "send {amount} to {payee_id} from {account_id}",
    ),
    "add_payee": (
        "add {name} at {bank} as a payee, account number {account_number}",
        "save {name} ({bank}, account number {account_number}) as a new payee",
    ),
    "freeze_card": ("freeze {card_id} for now", "put a temporary freeze on {card_id}"),
    "unfreeze_card": ("unfreeze {card_id}", "lift the freeze on {card_id}"),
    "report_card_lost": ("report {card_id} as lost", "block {card_id} for good"),
    "update_card_limit": (
        "set the spending limit on {card_id} to {new_limit}",
        "change the limit of {card_id} to {new_limit}",
    ),
    "dispute_transaction": ("dispute {transaction_id}", "open a dispute on {transaction_id}"),
    "close_account": ("close {account_id}", "shut down {account_id}"),
}

MOTIVES = {
    "transfer_between_accounts": (
        "because a bill is due there soon",
        "since you want to top it up before rent is due",
        "because you are moving savings around",
    ),
    "pay_payee": ("because the bill is due this week", "since you owe them for last month"),
    "add_payee": (
        "because you will be paying them regularly",
        "since you need to send them money soon",
    ),
    "freeze_card": (
        "because you cannot find it",
        "since you think you left it somewhere",
    ),
    "unfreeze_card": ("because you found it again", "since it turned up at home"),
    "report_card_lost": ("because it was stolen", "since you lost your wallet"),
    "update_card_limit": (
        "because you have a big purchase coming up",
        "since you want to keep your spending in check",
    ),
    # the motive says the dispute reason word for word: the agent passes it on as told
    "dispute_transaction:unauthorized": (
        "because it is unauthorized (you don't recognize it)",
        "since it is unauthorized (you never authorised it)",
    ),
    "dispute_transaction:duplicate charge": (
        "because it is a duplicate charge",
        "since it shows up as a duplicate charge of an earlier one",
    ),
    "dispute_transaction:incorrect amount": (
        "because it was billed at an incorrect amount",
        "since the incorrect amount is higher than what you agreed to",
    ),
    "dispute_transaction:not received": (
        "because the goods were not received",
        "since what you paid for was not received",
    ),
    "close_account": ("because you no longer need it", "since you are moving to another bank"),
}


def _account(mention: Mention) -> str:
    """An account by kind and last four digits: "your savings account ending in 6861"."""
    kind = words((mention.record or {}).get("kind") or "")
    label = f"{kind} account" if kind and kind != "credit line" else kind or "account"
    owner = "your " if mention.own or mention.record is None else "the "
    return f"{owner}{label} ending in {last_digits(mention.value)}"


def _card(mention: Mention) -> str:
    """A card as printed on it: "your Visa debit card ending in 8495"."""
    record = mention.record or {}
    network = str(record.get("network") or "").title()
    kind = words(record.get("kind") or "")
    digits = record.get("last_four") or last_digits(mention.value)
    return " ".join(w for w in ("your", network, kind, "card ending in", str(digits)) if w)


def _payee(mention: Mention) -> str:
    name = (mention.record or {}).get("name")
    return str(name) if name else "your payee"


def _transaction(mention: Mention) -> str:
    """A transaction as on a statement: "the $45.20 transaction from Ironwood Fitness"."""
    record = mention.record or {}
    if "amount" not in record:
        return "a transaction on your account"
    amount = money(abs(float(record["amount"])))
    day = spoken_date(str(record.get("date", "")))
    what = record.get("description") or "your account"
    # by amount, name and day, as on a statement: not by its kind, which a dispute turns on
    return f"the {amount} transaction from {what} on {day}"


NAMES = {
    "account_id": _account,
    "from_account_id": _account,
    "to_account_id": _account,
    "card_id": _card,
    "payee_id": _payee,
    "transaction_id": _transaction,
    "amount": lambda m: money(m.value),
    "new_limit": lambda m: money(m.value),
}

UNKNOWN = {
    "transaction_id": "the transaction's reference number",
    "account_id": "the internal ids of your accounts",
    "card_id": "the internal ids of your cards",
}
