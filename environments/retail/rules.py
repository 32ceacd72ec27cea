"""Machine-checkable retail policy rules: each says why a call is not allowed, or returns None.

Rules read the state and the call's raw arguments and never raise: a call naming records that do
not exist is left to the tool, which refuses it with τ²'s message. Some rules are stricter than the
tools (τ²'s tools let an order whose items were modified change address or payment; the policy
does not), which is exactly what infeasible variants are built from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from t2t import State, ToolCall, rule

__all__ = [
    "cancel_only_pending",
    "cancel_reason_allowed",
    "gift_card_covers_amount",
    "item_becomes_another_variant",
    "items_in_order",
    "modify_items_once",
    "modify_only_pending",
    "own_payment_method",
    "payment_method_changes",
    "refund_to_original_or_gift_card",
    "return_exchange_only_delivered",
    "same_product_available_item",
]

_MODIFY = (
    "modify_pending_order_address",
    "modify_pending_order_payment",
    "modify_pending_order_items",
)
_ITEM_CHANGES = ("modify_pending_order_items", "exchange_delivered_order_items")
_PAYING = (*_ITEM_CHANGES, "modify_pending_order_payment", "return_delivered_order_items")


def _order(db: State, call: ToolCall) -> dict[str, Any] | None:
    order_id = call.arguments.get("order_id")
    return db["orders"].get(order_id) if isinstance(order_id, str) else None


def _method(db: State, order: dict[str, Any], method_id: Any) -> dict[str, Any] | None:
    user = db["users"].get(order["user_id"])
    if user is None or not isinstance(method_id, str):
        return None
    return user["payment_methods"].get(method_id)


def _ids(value: Any) -> list[str] | None:
    """A list of string ids, or None for anything else (the tool's validation refuses it)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _pairs(call: ToolCall) -> list[tuple[str, str]]:
    old, new = _ids(call.arguments.get("item_ids")), _ids(call.arguments.get("new_item_ids"))
    if old is None or new is None:
        return []
    return list(zip(old, new, strict=False))


def _price_difference(db: State, order: dict[str, Any], call: ToolCall) -> float | None:
    total = 0.0
    for old, new in _pairs(call):
        item = next((i for i in order["items"] if i["item_id"] == old), None)
        product = db["products"].get(item["product_id"]) if item else None
        if item is None or product is None or new not in product["variants"]:
            return None
        total += product["variants"][new]["price"] - item["price"]
    return total


@rule("cancel_pending_order")
def cancel_only_pending(db: State, call: ToolCall) -> str | None:
    """Only an order whose status is exactly 'pending' can be cancelled."""
    order = _order(db, call)
    if order and order["status"] != "pending":
        status = order["status"]
        return f"order {order['order_id']} is '{status}', only 'pending' orders can be cancelled"
    return None


@rule("cancel_pending_order", degenerate=True)
def cancel_reason_allowed(db: State, call: ToolCall) -> str | None:
    """The cancellation reason is 'no longer needed' or 'ordered by mistake'."""
    reason = call.arguments.get("reason")
    if reason not in ("no longer needed", "ordered by mistake"):
        return f"cancellation reason {reason!r} is not 'no longer needed' or 'ordered by mistake'"
    return None


@rule(*_MODIFY)
def modify_only_pending(db: State, call: ToolCall) -> str | None:
    """Only pending orders can be modified."""
    order = _order(db, call)
    if order and "pending" not in order["status"]:
        return (
            f"order {order['order_id']} is '{order['status']}', only pending orders can be modified"
        )
    return None


@rule(*_MODIFY, "cancel_pending_order")
def modify_items_once(db: State, call: ToolCall) -> str | None:
    """After its items were modified, an order cannot be modified or cancelled any more."""
    order = _order(db, call)
    if order and order["status"] == "pending (item modified)":
        return f"order {order['order_id']} already had its items modified; no further changes"
    return None


@rule("return_delivered_order_items", "exchange_delivered_order_items")
def return_exchange_only_delivered(db: State, call: ToolCall) -> str | None:
    """Only delivered orders can be returned or exchanged (and only once)."""
    order = _order(db, call)
    if order and order["status"] != "delivered":
        return f"order {order['order_id']} is '{order['status']}', only delivered orders can be returned or exchanged"  # noqa: E501
    return None


@rule(*_ITEM_CHANGES, "return_delivered_order_items", degenerate=True)
def items_in_order(db: State, call: ToolCall) -> str | None:
    """Every item to change or return is in the order (as many times as it is listed)."""
    order = _order(db, call)
    item_ids = _ids(call.arguments.get("item_ids"))
    if not order or item_ids is None:
        return None
    in_order = [item["item_id"] for item in order["items"]]
    missing = sorted({i for i in item_ids if item_ids.count(i) > in_order.count(i)})
    return f"items {missing} are not in order {order['order_id']}" if missing else None


def _changes(db: State, call: ToolCall) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(old item, new item, the old item's product) of each item change in the order."""
    order = _order(db, call)
    for old, new in _pairs(call) if order else []:
        item = next((i for i in order["items"] if i["item_id"] == old), None)
        product = db["products"].get(item["product_id"]) if item else None
        if item is not None and product is not None:
            yield old, new, product


@rule(*_ITEM_CHANGES, degenerate=True)
def item_becomes_another_variant(db: State, call: ToolCall) -> str | None:
    """Each item may only become a different item of the same product."""
    for old, new, product in _changes(db, call):
        if new == old:
            return f"item {old} would be exchanged for itself"
        if new not in product["variants"]:
            return f"item {new} is not a variant of {product['name']} ({product['product_id']})"
    return None


@rule(*_ITEM_CHANGES)
def same_product_available_item(db: State, call: ToolCall) -> str | None:
    """Each item may only become an available item (of the same product)."""
    for old, new, product in _changes(db, call):
        variant = product["variants"].get(new)
        if variant is not None and new != old and not variant["available"]:
            return f"item {new} is not available"
    return None


@rule(*_PAYING)
def own_payment_method(db: State, call: ToolCall) -> str | None:
    """Money only moves through the order owner's own payment methods."""
    order = _order(db, call)
    method_id = call.arguments.get("payment_method_id")
    if order and isinstance(method_id, str) and _method(db, order, method_id) is None:
        return f"payment method {method_id} does not belong to {order['user_id']}"
    return None


@rule("modify_pending_order_payment", degenerate=True)
def payment_method_changes(db: State, call: ToolCall) -> str | None:
    """A payment change needs a single new method, different from the current one."""
    order = _order(db, call)
    if order and order["payment_history"]:
        current = order["payment_history"][0]["payment_method_id"]
        if call.arguments.get("payment_method_id") == current:
            return f"{current} is already the payment method of order {order['order_id']}"
    return None


@rule(*_PAYING)
def gift_card_covers_amount(db: State, call: ToolCall) -> str | None:
    """A gift card used to pay must hold enough balance for what it pays."""
    order = _order(db, call)
    if not order or call.name == "return_delivered_order_items":
        return None
    method = _method(db, order, call.arguments.get("payment_method_id"))
    if not method or method.get("source") != "gift_card":
        return None
    if call.name == "modify_pending_order_payment":
        amount = order["payment_history"][0]["amount"] if order["payment_history"] else 0.0
    else:
        amount = _price_difference(db, order, call) or 0.0
        if call.name == "exchange_delivered_order_items":
            amount = round(amount, 2)  # as the exchange tool rounds; item changes do not
    if method["balance"] < amount:
        return f"gift card {method['id']} holds {method['balance']}, less than {amount}"
    return None


@rule("return_delivered_order_items")
def refund_to_original_or_gift_card(db: State, call: ToolCall) -> str | None:
    """A refund goes to the original payment method or to one of the user's gift cards."""
    order = _order(db, call)
    if not order or not order["payment_history"]:
        return None
    method_id = call.arguments.get("payment_method_id")
    method = _method(db, order, method_id)
    original = order["payment_history"][0]["payment_method_id"]
    if method and method.get("source") != "gift_card" and method_id != original:
        return f"refund must go to the original method {original} or a gift card, not {method_id}"
    return None
