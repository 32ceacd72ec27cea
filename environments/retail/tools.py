"""Retail tools with τ²-bench's names, arguments, results and error messages.

Semantics follow τ²-bench's retail domain call for call, including its quirks, so that τ²'s own
tasks replay to the same final DB: `modify_pending_order_items` gives every modified item the
price and options of the *last* new item, and the cancellation refund loops over the whole
payment history. Records are plain dicts in τ²'s `db.json` layout; `db.edit` is called before
any write so the environment can copy only what changes.
"""

from __future__ import annotations

import json
from typing import Any

from t2t import State, ToolCallError, tool
from t2t.domain.standard_tools import calculate, transfer_to_human_agents

__all__ = [
    "calculate",
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "find_user_id_by_email",
    "find_user_id_by_name_zip",
    "get_item_details",
    "get_order_details",
    "get_product_details",
    "get_user_details",
    "list_all_product_types",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
    "transfer_to_human_agents",
]

CANCEL_REASONS = ("no longer needed", "ordered by mistake")


# ------------------------------------------------------------------------------------ lookups


def _order(db: State, order_id: str) -> dict[str, Any]:
    if order_id not in db["orders"]:
        raise ToolCallError("Order not found")
    return db["orders"][order_id]


_ORDER_OPTIONAL = (
    "cancel_reason",
    "exchange_items",
    "exchange_new_items",
    "exchange_payment_method_id",
    "exchange_price_difference",
    "return_items",
    "return_payment_method_id",
)


def _order_view(order: dict[str, Any]) -> dict[str, Any]:
    """An order as τ² returns it: every optional field present, None when unset."""
    return {**order, **{key: order.get(key) for key in _ORDER_OPTIONAL}}


def _user(db: State, user_id: str) -> dict[str, Any]:
    if user_id not in db["users"]:
        raise ToolCallError("User not found")
    return db["users"][user_id]


def _product(db: State, product_id: str) -> dict[str, Any]:
    if product_id not in db["products"]:
        raise ToolCallError("Product not found")
    return db["products"][product_id]


def _variant(db: State, product_id: str, item_id: str) -> dict[str, Any]:
    variants = _product(db, product_id)["variants"]
    if item_id not in variants:
        raise ToolCallError("Variant not found")
    return variants[item_id]


def _payment_method(db: State, user_id: str, payment_method_id: str) -> dict[str, Any]:
    methods = _user(db, user_id)["payment_methods"]
    if payment_method_id not in methods:
        raise ToolCallError("Payment method not found")
    return methods[payment_method_id]


def _is_gift_card(method: dict[str, Any]) -> bool:
    return method.get("source") == "gift_card"


def _edit_payment_method(db: State, user_id: str, payment_method_id: str) -> dict[str, Any]:
    _payment_method(db, user_id, payment_method_id)  # same errors as a read
    return db.edit("users", user_id)["payment_methods"][payment_method_id]


def _missing_item(order: dict[str, Any], item_ids: list[str]) -> str | None:
    """The first listed item the order holds fewer of than listed (lists may repeat ids)."""
    have = [item["item_id"] for item in order["items"]]
    return next((i for i in item_ids if item_ids.count(i) > have.count(i)), None)


def _check_swap(
    order: dict[str, Any], item_ids: list[str], new_item_ids: list[str], missing: str, end: str
) -> None:
    """τ²'s list checks before an exchange or item change (its two tools word them differently)."""
    item_id = _missing_item(order, item_ids)
    if item_id is not None:
        raise ToolCallError(missing.format(item_id))
    if len(item_ids) != len(new_item_ids):
        raise ToolCallError("The number of items to be exchanged should match" + end)


# ---------------------------------------------------------------------------------------- reads


@tool(kind="read")
def find_user_id_by_email(db: State, email: str) -> str:
    """Find user id by email. If the user is not found, the function will return an error message.

    Args:
        email: The email of the user, such as 'something@example.com'.
    """
    wanted = email.lower()
    for user_id, user in db["users"].items():
        if user["email"].lower() == wanted:
            return user_id
    raise ToolCallError("User not found")


@tool(kind="read")
def find_user_id_by_name_zip(db: State, first_name: str, last_name: str, zip: str) -> str:
    """Find user id by first name, last name, and zip code. If the user is not found, the function will return an error message. By default, find user id by email, and only call this function if the user is not found by email or cannot remember email.

    Args:
        first_name: The first name of the customer, such as 'John'.
        last_name: The last name of the customer, such as 'Doe'.
        zip: The zip code of the customer, such as '12345'.
    """  # noqa: E501
    first, last = first_name.lower(), last_name.lower()
    for user_id, user in db["users"].items():
        name = user["name"]
        if (
            name["first_name"].lower() == first
            and name["last_name"].lower() == last
            and user["address"]["zip"] == zip
        ):
            return user_id
    raise ToolCallError("User not found")


@tool(kind="read")
def get_order_details(db: State, order_id: str) -> dict[str, Any]:
    """Get the status and details of an order.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
    """  # noqa: E501
    return _order_view(_order(db, order_id))


@tool(kind="read")
def get_product_details(db: State, product_id: str) -> dict[str, Any]:
    """Get the inventory details of a product.

    Args:
        product_id: The product id, such as '6086499569'. Be careful the product id is different from the item id.
    """  # noqa: E501
    return _product(db, product_id)


@tool(kind="read")
def get_item_details(db: State, item_id: str) -> dict[str, Any]:
    """Get the inventory details of an item.

    Args:
        item_id: The item id, such as '6086499569'. Be careful the item id is different from the product id.
    """  # noqa: E501
    for product in db["products"].values():
        if item_id in product["variants"]:
            return product["variants"][item_id]
    raise ToolCallError("Item not found")


@tool(kind="read")
def get_user_details(db: State, user_id: str) -> dict[str, Any]:
    """Get the details of a user, including their orders.

    Args:
        user_id: The user id, such as 'sara_doe_496'.
    """
    return _user(db, user_id)


@tool(kind="read")
def list_all_product_types(db: State) -> str:
    """List the name and product id of all product types.

    Each product type has a variety of different items with unique item ids and options. There are only 50 product types in the store.
    """  # noqa: E501
    names = {product["name"]: product["product_id"] for product in db["products"].values()}
    return json.dumps(names, sort_keys=True)


# --------------------------------------------------------------------------------------- writes


@tool(kind="write")
def cancel_pending_order(db: State, order_id: str, reason: str) -> dict[str, Any]:
    """Cancel a pending order. If the order is already processed or delivered, it cannot be cancelled. The agent needs to explain the cancellation detail and ask for explicit user confirmation (yes/no) to proceed. If the user confirms, the order status will be changed to 'cancelled' and the payment will be refunded. The refund will be added to the user's gift card balance immediately if the payment was made using a gift card, otherwise the refund would take 5-7 business days to process. The function returns the order details after the cancellation.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        reason: The reason for cancellation, which should be either 'no longer needed' or 'ordered by mistake'.
    """  # noqa: E501
    if _order(db, order_id)["status"] != "pending":
        raise ToolCallError("Non-pending order cannot be cancelled")
    if reason not in CANCEL_REASONS:
        raise ToolCallError("Invalid reason")
    order = db.edit("orders", order_id)
    refunds = []
    for payment in order["payment_history"]:
        method_id = payment["payment_method_id"]
        refunds.append(
            {
                "transaction_type": "refund",
                "amount": payment["amount"],
                "payment_method_id": method_id,
            }
        )
        if _is_gift_card(_payment_method(db, order["user_id"], method_id)):
            card = _edit_payment_method(db, order["user_id"], method_id)
            card["balance"] = round(card["balance"] + payment["amount"], 2)
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return _order_view(order)


def _price_difference(
    db: State,
    order: dict[str, Any],
    item_ids: list[str],
    new_item_ids: list[str],
    *,
    forbid_same: bool = False,
) -> tuple[float, dict[str, Any] | None]:
    """Sum of new minus old prices, and the last new variant (τ² applies it to every item)."""
    difference: float = 0
    variant = None
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        if forbid_same and item_id == new_item_id:
            raise ToolCallError("The new item id should be different from the old item id")
        item = next((i for i in order["items"] if i["item_id"] == item_id), None)
        if item is None:
            raise ToolCallError(f"Item {item_id} not found")
        variant = _variant(db, item["product_id"], new_item_id)
        if not variant["available"]:
            raise ToolCallError(f"New item {new_item_id} not found or available")
        difference += variant["price"] - item["price"]
    return difference, variant


@tool(kind="write")
def exchange_delivered_order_items(
    db: State, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> dict[str, Any]:
    """Exchange items in a delivered order to new items of the same product type. For a delivered order, return or exchange can be only done once by the agent. The agent needs to explain the exchange detail and ask for explicit user confirmation (yes/no) to proceed.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        item_ids: The item ids to be exchanged, each such as '1008292230'. There could be duplicate items in the list.
        new_item_ids: The item ids to be exchanged for, each such as '1008292230'. There could be duplicate items in the list. Each new item id should match the item id in the same position and be of the same product.
        payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.
    """  # noqa: E501
    order = _order(db, order_id)
    if order["status"] != "delivered":
        raise ToolCallError("Non-delivered order cannot be exchanged")
    _check_swap(order, item_ids, new_item_ids, "Number of {} not found.", end=".")
    difference = round(_price_difference(db, order, item_ids, new_item_ids)[0], 2)
    method = _payment_method(db, order["user_id"], payment_method_id)
    if _is_gift_card(method) and method["balance"] < difference:
        raise ToolCallError("Insufficient gift card balance to pay for the price difference")
    order = db.edit("orders", order_id)
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = difference
    return _order_view(order)


def _address(
    address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> dict[str, str]:
    return {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }


@tool(kind="write")
def modify_pending_order_address(
    db: State,
    order_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Modify the shipping address of a pending order. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        address1: The first line of the address, such as '123 Main St'.
        address2: The second line of the address, such as 'Apt 1' or ''.
        city: The city, such as 'San Francisco'.
        state: The state, such as 'CA'.
        country: The country, such as 'USA'.
        zip: The zip code, such as '12345'.
    """  # noqa: E501
    if "pending" not in _order(db, order_id)["status"]:
        raise ToolCallError("Non-pending order cannot be modified")
    order = db.edit("orders", order_id)
    order["address"] = _address(address1, address2, city, state, country, zip)
    return _order_view(order)


@tool(kind="write")
def modify_pending_order_items(
    db: State, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> dict[str, Any]:
    """Modify items in a pending order to new items of the same product type. For a pending order, this function can only be called once. The agent needs to explain the exchange detail and ask for explicit user confirmation (yes/no) to proceed.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        item_ids: The item ids to be modified, each such as '1008292230'. There could be duplicate items in the list.
        new_item_ids: The item ids to be modified for, each such as '1008292230'. There could be duplicate items in the list. Each new item id should match the item id in the same position and be of the same product.
        payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.
    """  # noqa: E501
    order = _order(db, order_id)
    if order["status"] != "pending":
        raise ToolCallError("Non-pending order cannot be modified")
    _check_swap(order, item_ids, new_item_ids, "{} not found", end="")
    difference, variant = _price_difference(db, order, item_ids, new_item_ids, forbid_same=True)
    method = _payment_method(db, order["user_id"], payment_method_id)
    if _is_gift_card(method) and method["balance"] < difference:
        raise ToolCallError("Insufficient gift card balance to pay for the new item")
    order = db.edit("orders", order_id)
    order["payment_history"].append(
        {
            "transaction_type": "payment" if difference > 0 else "refund",
            "amount": abs(difference),
            "payment_method_id": payment_method_id,
        }
    )
    if _is_gift_card(method):
        card = _edit_payment_method(db, order["user_id"], payment_method_id)
        card["balance"] = round(card["balance"] - difference, 2)
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        item["item_id"] = new_item_id
        item["price"] = variant["price"]  # type: ignore[index]
        item["options"] = dict(variant["options"])  # type: ignore[index]
    order["status"] = "pending (item modified)"
    return _order_view(order)


@tool(kind="write")
def modify_pending_order_payment(
    db: State, order_id: str, payment_method_id: str
) -> dict[str, Any]:
    """Modify the payment method of a pending order. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.
    """  # noqa: E501
    order = _order(db, order_id)
    if "pending" not in order["status"]:
        raise ToolCallError("Non-pending order cannot be modified")
    method = _payment_method(db, order["user_id"], payment_method_id)
    history = order["payment_history"]
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise ToolCallError("There should be exactly one payment for a pending order")
    old_method_id = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        raise ToolCallError("The new payment method should be different from the current one")
    amount = history[0]["amount"]
    if _is_gift_card(method) and method["balance"] < amount:
        raise ToolCallError("Insufficient gift card balance to pay for the order")
    order = db.edit("orders", order_id)
    order["payment_history"].extend(
        [
            {
                "transaction_type": "payment",
                "amount": amount,
                "payment_method_id": payment_method_id,
            },
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old_method_id},
        ]
    )
    if _is_gift_card(method):
        card = _edit_payment_method(db, order["user_id"], payment_method_id)
        card["balance"] = round(card["balance"] - amount, 2)
    if _is_gift_card(_payment_method(db, order["user_id"], old_method_id)):
        card = _edit_payment_method(db, order["user_id"], old_method_id)
        card["balance"] = round(card["balance"] + amount, 2)
    return _order_view(order)


@tool(kind="write")
def modify_user_address(
    db: State,
    user_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Modify the default address of a user. The agent needs to explain the modification detail and ask for explicit user confirmation (yes/no) to proceed.

    Args:
        user_id: The user id, such as 'sara_doe_496'.
        address1: The first line of the address, such as '123 Main St'.
        address2: The second line of the address, such as 'Apt 1' or ''.
        city: The city, such as 'San Francisco'.
        state: The state, such as 'CA'.
        country: The country, such as 'USA'.
        zip: The zip code, such as '12345'.
    """  # noqa: E501
    _user(db, user_id)
    user = db.edit("users", user_id)
    user["address"] = _address(address1, address2, city, state, country, zip)
    return user


@tool(kind="write")
def return_delivered_order_items(
    db: State, order_id: str, item_ids: list[str], payment_method_id: str
) -> dict[str, Any]:
    """Return some items of a delivered order. The order status will be changed to 'return requested'. The agent needs to explain the return detail and ask for explicit user confirmation (yes/no) to proceed. The user will receive follow-up email for how and where to return the item.

    Args:
        order_id: The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning of the order id.
        item_ids: The item ids to be returned, each such as '1008292230'. There could be duplicate items in the list.
        payment_method_id: The payment method id to pay or receive refund for the item price difference, such as 'gift_card_0000000' or 'credit_card_0000000'. These can be looked up from the user or order details.
    """  # noqa: E501
    order = _order(db, order_id)
    if order["status"] != "delivered":
        raise ToolCallError("Non-delivered order cannot be returned")
    method = _payment_method(db, _user(db, order["user_id"])["user_id"], payment_method_id)
    if not _is_gift_card(method) and not order["payment_history"]:
        raise ToolCallError("list index out of range")  # τ²'s message for an order never paid
    if (
        not _is_gift_card(method)
        and payment_method_id != order["payment_history"][0]["payment_method_id"]
    ):
        raise ToolCallError("Payment method should be the original payment method")
    if _missing_item(order, item_ids) is not None:
        raise ToolCallError("Some item not found")
    order = db.edit("orders", order_id)
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return _order_view(order)
