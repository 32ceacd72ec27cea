"""Consistency checks for retail DBs in τ²-bench's ``db.json`` layout.

Tasks are verified by replaying tools on a DB, so a DB that contradicts itself (a dangling user,
a price that is not the catalogue's, a payment by someone else's card) yields tasks that verify
against nonsense. ``check_db`` lists such problems. It only enforces what τ²'s own ``db.json``
and its write tools keep true: τ²'s ``modify_pending_order_items`` copies the last new variant's
price and options onto every modified line and appends an unrounded price difference, so items of
'pending (item modified)' orders may drift from their variants and amounts are compared to the
cent with a small float tolerance. Optional order fields may be absent or ``None`` (pydantic).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from t2t.domain.record_checks import check_fields, check_tables, check_tagged_record, is_cents

__all__ = ["CANCEL_REASONS", "ORDER_STATUSES", "check_db"]

ORDER_STATUSES = (
    "pending",
    "pending (item modified)",
    "processed",
    "delivered",
    "cancelled",
    "exchange requested",
    "return requested",
)
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
_PENDING = ("pending", "pending (item modified)")
_SHIPPED = ("processed", "delivered", "exchange requested", "return requested")
_EXCHANGE = (
    "exchange_items",
    "exchange_new_items",
    "exchange_payment_method_id",
    "exchange_price_difference",
)
_RETURN = ("return_items", "return_payment_method_id")
_ORDER_FIELDS = ("order_id", "user_id", "address", "items", "status", "fulfillments")
_ORDER_OPTIONAL = ("cancel_reason", *_EXCHANGE, *_RETURN)
_ITEM_FIELDS = ("name", "product_id", "item_id", "price", "options")
_PAYMENT_ENTRY_FIELDS = ("transaction_type", "amount", "payment_method_id")
_ADDRESS_FIELDS = ("address1", "address2", "city", "country", "state", "zip")
_PAYMENT_FIELDS = {
    "credit_card": ("source", "id", "brand", "last_four"),
    "paypal": ("source", "id"),
    "gift_card": ("source", "id", "balance"),
}
_MONEY_TOLERANCE = 0.01  # totals are sums of cent amounts; τ² leaves float noise in some

Json = dict[str, Any]


def _is_multisubset(part: list, whole: list) -> bool:
    """τ² lists may repeat an item id; each occurrence must be matched."""
    return not (Counter(part) - Counter(whole))


def _check_products(products: Json, problems: list[str]) -> dict[str, tuple[str, Json]]:
    """Catalogue checks; returns item_id -> (product_id, variant) for the order checks."""
    variants: dict[str, tuple[str, Json]] = {}
    names: dict[str, str] = {}
    for pid, product in products.items():
        where = f"products[{pid!r}]"
        if not check_fields(problems, where, product, ("name", "product_id", "variants")):
            continue
        if product["product_id"] != pid:
            problems.append(f"{where}: product_id {product['product_id']!r} differs from key")
        name = product["name"]
        if name in names:
            problems.append(f"{where}: name {name!r} also used by {names[name]!r}")
        names.setdefault(name, pid)
        if not isinstance(product["variants"], dict) or not product["variants"]:
            problems.append(f"{where}: no variants")
            continue
        for iid, variant in product["variants"].items():
            vwhere = f"{where}.variants[{iid!r}]"
            if not check_fields(
                problems, vwhere, variant, ("item_id", "options", "available", "price")
            ):
                continue
            if variant["item_id"] != iid:
                problems.append(f"{vwhere}: item_id {variant['item_id']!r} differs from key")
            if iid in variants:
                problems.append(f"{vwhere}: item id also in products[{variants[iid][0]!r}]")
                continue
            variants[iid] = (pid, variant)
            options = variant["options"]
            if not isinstance(options, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in options.items()
            ):
                problems.append(f"{vwhere}: options must map strings to strings")
            if not isinstance(variant["available"], bool):
                problems.append(f"{vwhere}: available must be true or false")
            if not is_cents(variant["price"]) or variant["price"] <= 0:
                problems.append(f"{vwhere}: price {variant['price']!r} not a positive cent amount")
    return variants


def _check_users(users: Json, orders: Json, problems: list[str]) -> None:
    """Identity, payment methods and each user's order list pointing back at the user."""
    emails: dict[str, str] = {}
    method_owner: dict[str, str] = {}
    listed_by: dict[str, str] = {}
    required = ("user_id", "name", "address", "email", "payment_methods", "orders")
    for uid, user in users.items():
        where = f"users[{uid!r}]"
        if not check_fields(problems, where, user, required):
            continue
        if user["user_id"] != uid:
            problems.append(f"{where}: user_id {user['user_id']!r} differs from key")
        check_fields(problems, f"{where}.name", user["name"], ("first_name", "last_name"))
        check_fields(problems, f"{where}.address", user["address"], _ADDRESS_FIELDS)
        email = user["email"]
        if not isinstance(email, str) or "@" not in email:
            problems.append(f"{where}: email {email!r} is not an address")
        elif email in emails:
            problems.append(f"{where}: email {email!r} also used by {emails[email]!r}")
        else:
            emails[email] = uid
        methods = user["payment_methods"]
        if not isinstance(methods, dict) or not isinstance(user["orders"], list):
            problems.append(f"{where}: payment_methods must be an object and orders a list")
            continue
        for mid, method in methods.items():
            mwhere = f"{where}.payment_methods[{mid!r}]"
            if not check_tagged_record(problems, mwhere, mid, method, _PAYMENT_FIELDS):
                continue
            source = method["source"]
            if mid in method_owner:
                problems.append(f"{mwhere}: id also owned by users[{method_owner[mid]!r}]")
            method_owner.setdefault(mid, uid)
            if source == "gift_card":
                balance = method["balance"]
                if not is_cents(balance) or balance < 0:
                    problems.append(f"{mwhere}: balance {balance!r} is not cents >= 0")
            if source == "credit_card":
                last_four = method["last_four"]
                if not (isinstance(last_four, str) and len(last_four) == 4 and last_four.isdigit()):
                    problems.append(f"{mwhere}: last_four {last_four!r} is not four digits")
        for oid in user["orders"]:
            if oid not in orders:
                problems.append(f"{where}: order {oid!r} not in orders")
            elif isinstance(orders[oid], dict) and (owner := orders[oid].get("user_id")) != uid:
                problems.append(f"{where}: order {oid!r} belongs to {owner!r}")
            if oid in listed_by and listed_by[oid] != uid:
                problems.append(f"{where}: order {oid!r} also listed by {listed_by[oid]!r}")
            elif oid in listed_by:
                problems.append(f"{where}: order {oid!r} listed twice")
            listed_by.setdefault(oid, uid)


def _check_items(
    where: str, order: Json, products: Json, variants: dict, problems: list[str]
) -> None:
    """Each line names an existing variant of its product, priced as the catalogue says."""
    drift_allowed = order["status"] == "pending (item modified)"
    for n, item in enumerate(order["items"]):
        iwhere = f"{where}.items[{n}]"
        if not check_fields(problems, iwhere, item, _ITEM_FIELDS):
            continue
        pid, iid = item["product_id"], item["item_id"]
        if pid not in products:
            problems.append(f"{iwhere}: product_id {pid!r} not in products")
            continue
        if iid not in variants or variants[iid][0] != pid:
            problems.append(f"{iwhere}: item_id {iid!r} is not a variant of product {pid!r}")
            continue
        variant = variants[iid][1]
        if item["name"] != products[pid].get("name"):
            problems.append(f"{iwhere}: name {item['name']!r} is not the product's")
        if not is_cents(item["price"]):
            problems.append(f"{iwhere}: price {item['price']!r} not a cent amount")
        elif not drift_allowed and item["price"] != variant["price"]:
            problems.append(f"{iwhere}: price {item['price']} != variant price {variant['price']}")
        if not drift_allowed and item["options"] != variant["options"]:
            problems.append(f"{iwhere}: options differ from variant {iid!r}")


def _check_payments(
    where: str, order: Json, user: Json, variants: dict, problems: list[str]
) -> None:
    """Payments use the user's own methods and net to what the items cost."""
    history = order["payment_history"]
    if not isinstance(history, list) or not history:
        problems.append(f"{where}: empty payment_history")
        return
    methods = user.get("payment_methods") or {}
    paid = refunded = 0.0
    for n, entry in enumerate(history):
        pwhere = f"{where}.payment_history[{n}]"
        if not check_fields(problems, pwhere, entry, _PAYMENT_ENTRY_FIELDS):
            return
        kind, amount = entry["transaction_type"], entry["amount"]
        method = entry["payment_method_id"]
        if kind not in ("payment", "refund"):
            problems.append(f"{pwhere}: transaction_type {kind!r} unknown")
        if not is_cents(amount) or amount < 0:
            problems.append(f"{pwhere}: amount {amount!r} is not cents >= 0")
            return
        if method not in methods:
            problems.append(f"{pwhere}: method {method!r} not owned by {order['user_id']!r}")
        if kind == "payment":
            paid += amount
        else:
            refunded += amount
    if history[0]["transaction_type"] != "payment":
        problems.append(f"{where}: payment_history does not start with a payment")
    if order["status"] == "cancelled":
        if not refunded:
            problems.append(f"{where}: cancelled without a refund")
        return
    lines = [it for it in order["items"] if isinstance(it, dict)]
    if order["status"] == "pending (item modified)":  # τ² may mis-price lines; variants are right
        total = sum(
            variants[it["item_id"]][1]["price"] for it in lines if it.get("item_id") in variants
        )
    else:
        total = sum(it["price"] for it in lines if is_cents(it.get("price")))
    if abs(paid - refunded - total) > _MONEY_TOLERANCE:
        problems.append(f"{where}: paid {paid - refunded:.2f} net but items cost {total:.2f}")


def _check_status(where: str, order: Json, user: Json, variants: dict, problems: list[str]) -> None:
    """Fulfillments and the cancel/exchange/return fields each status implies."""
    status, items, methods = order["status"], order["items"], user.get("payment_methods") or {}
    item_ids = [it.get("item_id") for it in items if isinstance(it, dict)]
    fulfillments = order["fulfillments"] if isinstance(order["fulfillments"], list) else []
    if status in _PENDING and fulfillments:
        problems.append(f"{where}: status {status!r} but has fulfillments")
    if status in _SHIPPED and not fulfillments:
        problems.append(f"{where}: status {status!r} but no fulfillments")
    for n, fulfillment in enumerate(fulfillments):
        fwhere = f"{where}.fulfillments[{n}]"
        if not check_fields(problems, fwhere, fulfillment, ("tracking_id", "item_ids")):
            continue
        if not fulfillment["tracking_id"]:
            problems.append(f"{fwhere}: no tracking_id")
        if not _is_multisubset(fulfillment["item_ids"], item_ids):
            problems.append(f"{fwhere}: item_ids not all in the order")
    present = {k for k in _ORDER_OPTIONAL if order.get(k) is not None}
    if "cancel_reason" in present:
        if status != "cancelled":
            problems.append(f"{where}: cancel_reason set but status is {status!r}")
        elif order["cancel_reason"] not in CANCEL_REASONS:
            problems.append(f"{where}: cancel_reason {order['cancel_reason']!r} unknown")
    for kind, fields in (("exchange", _EXCHANGE), ("return", _RETURN)):
        wanted = status == f"{kind} requested"
        if not wanted and present & set(fields):
            problems.append(f"{where}: {kind}_* fields set but status is {status!r}")
        elif wanted and not set(fields) <= present:
            missing = ", ".join(k for k in fields if k not in present)
            problems.append(f"{where}: status {status!r} but missing {missing}")
        elif wanted:
            method = order[f"{kind}_payment_method_id"]
            if method not in methods:
                problems.append(f"{where}: {kind} payment method {method!r} not the user's")
            if not _is_multisubset(order[f"{kind}_items"], item_ids) or not order[f"{kind}_items"]:
                problems.append(f"{where}: {kind}_items not all in the order")
    if status == "exchange requested" and set(_EXCHANGE) <= present:
        _check_exchange(where, order, variants, problems)
    if status == "return requested" and set(_RETURN) <= present:
        method = order["return_payment_method_id"]
        history = order["payment_history"] or [{}]
        original = history[0].get("payment_method_id") if isinstance(history[0], dict) else None
        is_gift_card = method in methods and methods[method].get("source") == "gift_card"
        if method in methods and method != original and not is_gift_card:
            problems.append(f"{where}: return refund to {method!r}, not original nor gift card")


def _check_exchange(where: str, order: Json, variants: dict, problems: list[str]) -> None:
    """New items exist, match old ones in number and product, and the difference adds up."""
    old, new = order["exchange_items"], order["exchange_new_items"]
    if len(old) != len(new):
        problems.append(f"{where}: {len(old)} exchange_items but {len(new)} exchange_new_items")
        return
    if any(i not in variants for i in (*old, *new)):
        problems.append(f"{where}: exchange item ids not all in products")
        return
    if sorted(variants[i][0] for i in old) != sorted(variants[i][0] for i in new):
        problems.append(f"{where}: exchange_new_items are not of the exchanged products")
    prices = {it["item_id"]: it["price"] for it in order["items"] if isinstance(it, dict)}
    diff = sum(variants[i][1]["price"] for i in new) - sum(prices.get(i, 0.0) for i in old)
    if abs(diff - order["exchange_price_difference"]) > _MONEY_TOLERANCE:
        problems.append(f"{where}: exchange_price_difference should be {diff:.2f}")


def _check_orders(db: Json, variants: dict, problems: list[str]) -> None:
    """Per-order checks; records that fail their shape are reported once and skipped."""
    products, users = db["products"], db["users"]
    required = (*_ORDER_FIELDS, "payment_history")
    for oid, order in db["orders"].items():
        where = f"orders[{oid!r}]"
        if not check_fields(problems, where, order, required, _ORDER_OPTIONAL):
            continue
        if order["order_id"] != oid:
            problems.append(f"{where}: order_id {order['order_id']!r} differs from key")
        check_fields(problems, f"{where}.address", order["address"], _ADDRESS_FIELDS)
        if order["status"] not in ORDER_STATUSES:
            problems.append(f"{where}: status {order['status']!r} unknown")
            continue
        if not isinstance(order["items"], list) or not order["items"]:
            problems.append(f"{where}: no items")
            continue
        user = users.get(order["user_id"])
        if not isinstance(user, dict):
            problems.append(f"{where}: user_id {order['user_id']!r} not in users")
            continue
        if oid not in (user.get("orders") or []):
            problems.append(f"{where}: not in users[{order['user_id']!r}].orders")
        _check_items(where, order, products, variants, problems)
        _check_payments(where, order, user, variants, problems)
        _check_status(where, order, user, variants, problems)


def check_db(db: dict) -> list[str]:
    """List every inconsistency found in a retail DB; an empty list means it is consistent."""
    problems: list[str] = []
    if not check_tables(problems, db, ("products", "users", "orders")):
        return problems
    variants = _check_products(db["products"], problems)
    _check_users(db["users"], db["orders"], problems)
    _check_orders(db, variants, problems)
    return problems
