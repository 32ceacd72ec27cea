"""Seeded generator of banking databases that pass `checks.check_db` and respect the policy.

Every customer holds a primary checking account and, often, a second checking account, savings
and a credit line; checking accounts and credit lines come with cards, so "my card" or "my
checking account" often fits two records (ambiguous intents). Some accounts are frozen, closed,
empty or near their daily transfer limit, some savings accounts have used their six monthly
withdrawals, some payees are unverified and older charges fall outside the dispute window: the
situations infeasible intents need. Same seed and sizes → byte-identical `json.dumps` output; the
global `random` state is never touched.
"""

from __future__ import annotations

import datetime
import random
import re
from typing import Any

from faker import Faker

from .data_model import DISPUTE_REASONS, TABLES, TODAY

__all__ = ["EVAL_SEED", "SCALES", "TRAIN_SEED", "generate_db"]

# size presets for `t2t db generate --scale`
SCALES = {
    "paper": {"n_customers": 400, "n_transactions": 8000},
    "small": {"n_customers": 30, "n_transactions": 500},
}
# banking is the unseen domain and never feeds training; the seeds keep the domains uniform
TRAIN_SEED = 0
EVAL_SEED = 1

Json = dict[str, Any]
_TODAY = datetime.date.fromisoformat(TODAY)
_MERCHANTS = (
    ("Green Basket Grocery", 15, 180),
    ("Metro Transit", 3, 40),
    ("Corner Coffee Co.", 3, 18),
    ("Brightline Fuel", 25, 85),
    ("Harbor Pharmacy", 5, 90),
    ("Northside Hardware", 10, 250),
    ("Lumen Electronics", 40, 1400),
    ("Everly Books", 8, 60),
    ("Summit Outdoor Supply", 30, 400),
    ("Crestwood Cinema", 12, 45),
    ("Blue Fork Bistro", 18, 140),
    ("QuickCart Online", 10, 300),
    ("Ironwood Fitness", 25, 60),
    ("Aurora Airlines", 120, 900),
    ("Vantage Hotels", 110, 650),
    ("StreamBox", 10, 20),
    ("Cityline Mobile", 35, 120),
    ("Pet Pantry", 12, 110),
    ("Sunrise Bakery", 4, 35),
    ("Riverside Dental", 60, 450),
)
_PAYEE_COMPANIES = (
    "City Power & Light",
    "Riverside Apartments LLC",
    "Metro Water Utility",
    "Northgate Property Management",
    "Clearwave Internet",
    "Granite Mutual Insurance",
    "Bright Futures Daycare",
    "Valley Auto Finance",
    "Hillcrest HOA",
)
_BANKS = (
    "First Harbor Bank",
    "Granite State Credit Union",
    "Pioneer Savings Bank",
    "Lakeshore National Bank",
    "Summit Federal Credit Union",
    "Redwood Community Bank",
)
_NICKNAMES = {
    "checking": ("Household Bills", "Joint Checking", "Side Business", "Travel Checking"),
    "savings": ("Rainy Day Savings", "Emergency Fund", "Vacation Savings", "Home Savings"),
}
_DAILY_LIMIT = {"checking": (2500.0, 10000.0), "savings": (5000.0, 20000.0)}
_DAILY_LIMIT["credit_line"] = (1000.0, 3000.0)
_OVERDRAFT = {"standard": (0.0, 0.0, 250.0, 500.0), "premium": (500.0, 1000.0, 2000.0)}
_CREDIT = {"standard": (2000.0, 3000.0, 5000.0, 8000.0), "premium": (10000.0, 15000.0, 25000.0)}
_CARD_LIMITS = {
    "standard": (500.0, 1000.0, 2000.0, 2500.0, 3000.0, 5000.0),
    "premium": (2000.0, 5000.0, 7500.0, 10000.0, 15000.0),
}
_EVENTS = {  # account kind -> (event, weight)
    "checking": (("purchase", 62), ("deposit", 12), ("fee", 5), ("refund", 4), ("move", 17)),
    "savings": (("deposit", 55), ("move", 40), ("fee", 5)),
    "credit_line": (("purchase", 70), ("refund", 6), ("fee", 10), ("move", 14)),
}
_HISTORY_DAYS = 120


def _day(days_ago: int) -> str:
    return (_TODAY - datetime.timedelta(days=days_ago)).isoformat()


def _ago(date: str) -> int:
    return (_TODAY - datetime.date.fromisoformat(date)).days


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


class _Builder:
    """Holds the seeded sources and the tables while a DB is built."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.used: set[str] = set()
        self.db: dict[str, Json] = {t: {} for t in TABLES}

    def new_id(self, prefix: str, digits: int) -> str:
        while True:
            value = f"{prefix}{self.rng.randrange(10 ** (digits - 1), 10**digits)}"
            if value not in self.used:
                self.used.add(value)
                return value

    def cents(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high), 2)

    # ---------------------------------------------------------------------------- customers
    def customers(self, n: int) -> None:
        rng, fake = self.rng, self.fake
        identities: set[tuple[str, str, str]] = set()
        emails: set[str] = set()
        while len(self.db["customers"]) < n:
            first, last = fake.first_name(), fake.last_name()
            dob = datetime.date(rng.randint(1941, 2006), rng.randint(1, 12), rng.randint(1, 28))
            if (first, last, dob.isoformat()) in identities:
                continue
            identities.add((first, last, dob.isoformat()))
            email = f"{_slug(first)}.{_slug(last)}@example.com"
            while email in emails:
                email = f"{_slug(first)}.{_slug(last)}{rng.randrange(10, 1000)}@example.com"
            emails.add(email)
            state = fake.state_abbr(
                include_territories=False, include_freely_associated_states=False
            )
            customer_id = self.new_id("cus_", 7)
            self.db["customers"][customer_id] = {
                "customer_id": customer_id,
                "name": {"first_name": first, "last_name": last},
                "email": email,
                "dob": dob.isoformat(),
                "phone": f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-"
                f"{rng.randrange(10_000):04d}",
                "address": {
                    "address1": f"{fake.building_number()} {fake.street_name()}",
                    "address2": fake.secondary_address() if rng.random() < 0.4 else "",
                    "city": fake.city(),
                    "state": state,
                    "country": "USA",
                    "zip": fake.zipcode_in_state(state),
                },
                "tier": "premium" if rng.random() < 0.3 else "standard",
                "accounts": [],
                "cards": [],
                "payees": [],
                "disputes": [],
            }
            self.accounts(self.db["customers"][customer_id])
            self.payees(self.db["customers"][customer_id])

    # ----------------------------------------------------------------------------- accounts
    def accounts(self, customer: Json) -> None:
        rng, tier = self.rng, customer["tier"]
        premium = tier == "premium"
        adult_days = _ago(f"{int(customer['dob'][:4]) + 18}{customer['dob'][4:]}")
        plan = [("checking", "Everyday Checking")]
        if rng.random() < 0.25:
            plan.append(("checking", rng.choice(_NICKNAMES["checking"])))
        for _ in range(rng.choices((0, 1, 2), weights=(35, 55, 10))[0]):
            taken = [nickname for _, nickname in plan]
            plan.append(
                ("savings", rng.choice([n for n in _NICKNAMES["savings"] if n not in taken]))
            )
        if rng.random() < 0.45:
            plan.append(
                ("credit_line", "Platinum Credit Line" if premium else "Cash Back Credit Line")
            )
        for index, (kind, nickname) in enumerate(plan):
            draw = rng.random()
            status = "frozen" if draw < 0.04 else "closed" if index and draw < 0.12 else "open"
            if kind == "checking":
                limit = rng.choice(_OVERDRAFT[tier])
                balance = self.cents(20, 6000) * (3 if premium else 1)
                if rng.random() < 0.06:
                    balance = 0.0 if not limit or rng.random() < 0.5 else -self.cents(1, limit)
            elif kind == "savings":
                limit = 0.0
                balance = (
                    0.0 if rng.random() < 0.1 else self.cents(100, 40000) * (3 if premium else 1)
                )
            else:
                limit = rng.choice(_CREDIT[tier])
                balance = 0.0 if rng.random() < 0.15 else -self.cents(1, 0.8 * limit)
            account_id = self.new_id("acc_", 7)
            self.db["accounts"][account_id] = {
                "account_id": account_id,
                "customer_id": customer["customer_id"],
                "kind": kind,
                "nickname": nickname,
                "status": status,
                "balance": 0.0 if status == "closed" else round(balance, 2),
                "currency": "USD",
                "overdraft_limit": limit,
                "daily_transfer_limit": _DAILY_LIMIT[kind][premium],
                "opened": _day(rng.randint(200, min(6000, adult_days))),
                "transactions": [],
            }
            customer["accounts"].append(account_id)
            if kind != "savings":
                for _ in range(2 if kind == "checking" and rng.random() < 0.15 else 1):
                    self.card(customer, self.db["accounts"][account_id])

    def card(self, customer: Json, account: Json) -> None:
        rng = self.rng
        taken = {self.db["cards"][c]["last_four"] for c in customer["cards"]}
        draw = rng.random()
        status = "active" if draw < 0.84 else "frozen" if draw < 0.94 else "lost"
        if account["status"] == "closed":
            status = "cancelled"
        record = self._card_record(customer, account, taken, status, rng.randint(30, 1400))
        if status == "lost":
            taken.add(record["last_four"])
            spare = self._card_record(customer, account, taken, "active", rng.randint(3, 25))
            spare["spending_limit"] = record["spending_limit"]
            spare["replaces"], record["replaced_by"] = record["card_id"], spare["card_id"]

    def _card_record(
        self, customer: Json, account: Json, taken: set[str], status: str, age_days: int
    ) -> Json:
        rng = self.rng
        last_four = f"{rng.randrange(10_000):04d}"
        while last_four in taken:
            last_four = f"{rng.randrange(10_000):04d}"
        issued = _day(age_days)
        card_id = self.new_id("card_", 7)
        record = {
            "card_id": card_id,
            "customer_id": customer["customer_id"],
            "account_id": account["account_id"],
            "kind": "debit" if account["kind"] == "checking" else "credit",
            "network": rng.choice(("visa", "mastercard")),
            "last_four": last_four,
            "status": status,
            "spending_limit": rng.choice(_CARD_LIMITS[customer["tier"]]),
            "issued": issued,
            "expiry": f"{int(issued[:4]) + 4}{issued[4:7]}",
        }
        self.db["cards"][card_id] = record
        customer["cards"].append(card_id)
        return record

    def payees(self, customer: Json) -> None:
        rng, names = self.rng, set()
        for _ in range(rng.choices(range(5), weights=(15, 30, 30, 15, 10))[0]):
            name = rng.choice(_PAYEE_COMPANIES) if rng.random() < 0.5 else self.fake.name()
            if name in names:
                continue
            names.add(name)
            verified = rng.random() < 0.75
            payee_id = self.new_id("pay_", 7)
            self.db["payees"][payee_id] = {
                "payee_id": payee_id,
                "customer_id": customer["customer_id"],
                "name": name,
                "bank": rng.choice(_BANKS),
                "account_last_four": f"{rng.randrange(10_000):04d}",
                "verified": verified,
                "added": _day(rng.randint(3, 700) if verified else rng.randint(0, 2)),
            }
            customer["payees"].append(payee_id)

    # ------------------------------------------------------------------------- transactions
    def post(
        self, account: Json, date: str, amount: float, kind: str, text: str, **extra: Any
    ) -> None:
        """Add a transaction; recent purchases and payments are often still pending."""
        recent = _ago(date) <= 2 and kind in ("purchase", "payment")
        pending = account["status"] != "closed" and recent and self.rng.random() < 0.7
        if extra.get("card_id") and self.db["cards"][extra["card_id"]]["status"] != "active":
            pending = False
        txn_id = self.new_id("txn_", 8)
        self.db["transactions"][txn_id] = {
            "transaction_id": txn_id,
            "account_id": account["account_id"],
            "date": date,
            "amount": round(amount, 2),
            "description": text,
            "kind": kind,
            "status": "pending" if pending else "posted",
            "disputed": False,
            **extra,
        }
        account["transactions"].append(txn_id)

    def outgoing_ok(self, account: Json, date: str, amount: float) -> bool:
        """Would a transfer or payment out on `date` keep the policy's limits?"""
        txns = [self.db["transactions"][t] for t in account["transactions"]]
        out = [t for t in txns if t["kind"] in ("transfer", "payment") and t["amount"] < 0]
        if (
            date == TODAY
            and amount - sum(t["amount"] for t in out if t["date"] == TODAY)
            > (account["daily_transfer_limit"])
        ):
            return False
        this_month = [t for t in out if t["date"][:7] == TODAY[:7]]
        return not (account["kind"] == "savings" and date[:7] == TODAY[:7] and len(this_month) >= 6)

    def active_card(self, account: Json) -> str | None:
        customer = self.db["customers"][account["customer_id"]]
        cards = [self.db["cards"][c] for c in customer["cards"]]
        cards = [c for c in cards if c["account_id"] == account["account_id"]]
        return next((c["card_id"] for c in cards if c["status"] == "active"), None)

    def partners(self, account: Json) -> list[Json]:
        """The owner's other accounts that can take part in a transfer with `account`."""
        customer = self.db["customers"][account["customer_id"]]
        others = [self.db["accounts"][a] for a in customer["accounts"]]
        return [a for a in others if a is not account and a["status"] != "closed"]

    def transfer(self, source: Json, target: Json, date: str, amount: float) -> bool:
        if not self.outgoing_ok(source, date, amount):
            return False
        extra = {"counterpart_account_id": target["account_id"]}
        self.post(source, date, -amount, "transfer", f"Transfer to {target['nickname']}", **extra)
        extra = {"counterpart_account_id": source["account_id"]}
        self.post(target, date, amount, "transfer", f"Transfer from {source['nickname']}", **extra)
        return True

    def event(self, account: Json, budget: int) -> int:
        """Add one random event on `account`; returns how many transactions it took."""
        rng, db = self.rng, self.db
        customer = db["customers"][account["customer_id"]]
        closed = account["status"] == "closed"
        newest = {"open": 0, "frozen": 7, "closed": 31}[account["status"]]  # frozen a week ago
        date = _day(rng.randint(newest, _HISTORY_DAYS))
        kinds, weights = zip(*_EVENTS[account["kind"]], strict=True)
        kind = rng.choices(kinds, weights=weights)[0]
        cards = [db["cards"][c] for c in customer["cards"]]
        cards = [c for c in cards if c["account_id"] == account["account_id"]]
        cards = [c for c in cards if c["issued"] <= date and c.get("replaced_by") is None] or [
            c for c in cards if c["issued"] <= date and c["status"] == "lost"
        ]
        if kind == "move" and not closed and budget >= 2:
            others = self.partners(account)
            if others and rng.random() < 0.5:
                other = rng.choice(others)
                pair = (account, other) if rng.random() < 0.5 else (other, account)
                amount = self.cents(20, 0.3 * pair[0]["daily_transfer_limit"])
                if self.transfer(*pair, date, amount):
                    return 2
            payees = [db["payees"][p] for p in customer["payees"]]
            payees = [p for p in payees if p["added"] <= date]
            if payees and account["kind"] == "checking":
                payee = rng.choice(payees)
                amount = self.cents(20, 2500 if payee["verified"] else 1000)
                if self.outgoing_ok(account, date, amount):
                    text = f"Payment to {payee['name']}"
                    self.post(account, date, -amount, "payment", text, payee_id=payee["payee_id"])
                    return 1
        if kind in ("purchase", "refund") and cards:
            card = rng.choice(cards)
            merchant, low, high = rng.choice(_MERCHANTS)
            amount = self.cents(low, high)
            if kind == "refund":
                merchant = f"Refund: {merchant}"
            sign = 1 if kind == "refund" else -1
            self.post(account, date, sign * amount, kind, merchant, card_id=card["card_id"])
            return 1
        if kind == "fee" or account["kind"] == "credit_line":
            fee = {
                "checking": ("Monthly maintenance fee", 12.0),
                "savings": ("Paper statement fee", 2.0),
                "credit_line": ("Interest charge", self.cents(5, 80)),
            }[account["kind"]]
            self.post(account, date, -fee[1], "fee", fee[0])
        elif account["kind"] == "savings":
            self.post(account, date, self.cents(0.5, 60), "deposit", "Interest payment")
        else:
            self.post(account, date, self.cents(800, 4500), "deposit", "Payroll deposit")
        return 1

    def setups(self, n: int) -> int:
        """Situations infeasible requests need, within a third of `n`; returns what is left."""
        rng, budget = self.rng, n
        for account in self.db["accounts"].values():
            others = self.partners(account)
            if account["status"] != "open" or not others or budget < n * 2 // 3 + 12:
                continue
            if account["kind"] == "savings" and rng.random() < 0.15:  # six withdrawals used
                for day in sorted(rng.sample(range(1, _TODAY.day + 1), 6)):
                    date, amount = f"{TODAY[:8]}{day:02d}", self.cents(50, 800)
                    budget -= 2 * self.transfer(account, rng.choice(others), date, amount)
            elif account["kind"] == "checking" and not account["balance"] and rng.random() < 0.4:
                card_id = self.active_card(account)  # empty but not closable: a pending charge
                merchant, low, high = rng.choice(_MERCHANTS)
                if card_id:
                    amount = -self.cents(low, high)
                    self.post(account, _day(1), amount, "purchase", merchant, card_id=card_id)
                    self.db["transactions"][account["transactions"][-1]]["status"] = "pending"
                    budget -= 1
            elif account["kind"] == "checking" and rng.random() < 0.12:  # near the daily limit
                amount = round(account["daily_transfer_limit"] * rng.uniform(0.5, 0.95), 2)
                budget -= 2 * self.transfer(account, rng.choice(others), TODAY, amount)
        return budget

    def transactions(self, n: int) -> None:
        rng, accounts = self.rng, list(self.db["accounts"].values())
        budget = self.setups(n)
        weighted = [a for a in accounts for _ in range(1 if a["status"] == "closed" else 3)]
        while budget > 0 and weighted:
            budget -= self.event(rng.choice(weighted), budget)
        for account in accounts:
            account["transactions"].sort(key=lambda t: (self.db["transactions"][t]["date"], t))

    def disputes(self) -> None:
        rng, db = self.rng, self.db
        for txn in db["transactions"].values():
            age = _ago(txn["date"])
            if txn["kind"] != "purchase" or txn["status"] != "posted" or not 1 <= age <= 150:
                continue
            if rng.random() >= 0.05:
                continue
            opened = _day(age - rng.randint(1, min(60, age)))
            status = "open" if _ago(opened) <= 14 else rng.choice(("open", "resolved", "rejected"))
            customer_id = db["accounts"][txn["account_id"]]["customer_id"]
            dispute_id = self.new_id("dsp_", 7)
            db["disputes"][dispute_id] = {
                "dispute_id": dispute_id,
                "customer_id": customer_id,
                "transaction_id": txn["transaction_id"],
                "reason": rng.choice(DISPUTE_REASONS),
                "status": status,
                "opened": opened,
                "amount": round(-txn["amount"], 2),
            }
            txn["disputed"] = True
            db["customers"][customer_id]["disputes"].append(dispute_id)


def generate_db(seed: int = 0, n_customers: int = 400, n_transactions: int = 8000) -> dict:
    """Build a consistent banking DB; the same arguments always give the same output.

    Args:
        seed: seeds both faker and a private ``random.Random`` (global state is untouched).
        n_customers: how many customers (each with 1-5 accounts, cards and 0-4 payees).
        n_transactions: how many transactions in all, over the last 120 days.
    """
    if n_customers < 1 or n_transactions < 0:
        raise ValueError("need n_customers >= 1 and n_transactions >= 0")
    builder = _Builder(seed)
    builder.customers(n_customers)
    builder.transactions(n_transactions)
    builder.disputes()
    return builder.db
