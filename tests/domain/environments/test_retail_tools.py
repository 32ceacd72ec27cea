"""Retail tools: every success path and τ²'s exact error message for every refusal."""

import inspect
import json

import pytest
from conftest import (
    BOTTLE,
    CANCELLED,
    CC1,
    CC2,
    DELIVERED,
    GC1,
    GC2,
    MODIFIED,
    PENDING,
    PENDING_GC,
    PENDING_U2,
    PP1,
    PROCESSED,
    TS_BLUE,
    TS_GREEN,
    TS_RED,
    TSHIRT,
    USER1,
    USER2,
    WB_500,
    WB_1000,
    make_tiny_retail_db,
)
from pydantic import TypeAdapter

from t2t.core.environment import normalize

NEW_ADDRESS = {
    "address1": "9 Elm St",
    "address2": "",
    "city": "Boston",
    "state": "MA",
    "country": "USA",
    "zip": "02101",
}


def content(env, name, **arguments):
    result = env.call(name, **arguments)
    assert result.ok, result.error
    return result.content


def output(env, name, **arguments):
    """The returned JSON without the unset (None) fields τ² includes, to compare with the state."""
    value = json.loads(content(env, name, **arguments))
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


def refusal(env, name, **arguments):
    """The error of a refused call, after checking the call left the state untouched."""
    before = env.state_hash()
    result = env.call(name, **arguments)
    assert not result.ok
    assert result.content == f"Error: {result.error}"
    assert env.state_hash() == before
    return result.error


def balance(env, user_id, method_id):
    return env.state["users"][user_id]["payment_methods"][method_id]["balance"]


def pay(amount, method, kind="payment"):
    return {"transaction_type": kind, "amount": amount, "payment_method_id": method}


def line(db, product_id, item_id):
    """An order line for `item_id` as the catalogue sells it."""
    product = db["products"][product_id]
    variant = product["variants"][item_id]
    return {
        "name": product["name"],
        "product_id": product_id,
        "item_id": item_id,
        "price": variant["price"],
        "options": dict(variant["options"]),
    }


# ---------------------------------------------------------------------------------- generic


def test_transfer_to_human_agents(tiny_env):
    before = tiny_env.state_hash()
    assert content(tiny_env, "transfer_to_human_agents", summary="wants a refund") == (
        "Transfer successful"
    )
    assert tiny_env.state_hash() == before


# ------------------------------------------------------------------------------------ reads


@pytest.mark.parametrize(
    ("email", "user_id"),
    [
        ("jose.lopez@example.com", USER1),
        ("JOSE.Lopez@Example.COM", USER1),
        ("ZOË.MÜLLER@example.com", USER2),
    ],
)
def test_find_user_id_by_email(tiny_env, email, user_id):
    assert content(tiny_env, "find_user_id_by_email", email=email) == user_id


@pytest.mark.parametrize(
    "email",
    # τ² matches case-insensitively only: no accent folding, no trimming
    [
        "nobody@example.com",
        "jose.lopez@example",
        "",
        "zoe.muller@example.com",
        " jose.lopez@example.com",
    ],
)
def test_find_user_id_by_email_not_found(tiny_env, email):
    assert refusal(tiny_env, "find_user_id_by_email", email=email) == "User not found"


@pytest.mark.parametrize(
    ("first", "last", "zip_code", "user_id"),
    [
        ("José", "López", "78701", USER1),
        ("josé", "LÓPEZ", "78701", USER1),
        ("ZOË", "müller", "10001", USER2),
    ],
)
def test_find_user_id_by_name_zip(tiny_env, first, last, zip_code, user_id):
    found = content(
        tiny_env, "find_user_id_by_name_zip", first_name=first, last_name=last, zip=zip_code
    )
    assert found == user_id


@pytest.mark.parametrize(
    ("first", "last", "zip_code"),
    [
        ("José", "López", "10001"),
        ("Zoë", "López", "78701"),
        ("José", "Lopes", "78701"),
        ("Jose", "Lopez", "78701"),
        ("José ", "López", "78701"),
    ],
)
def test_find_user_id_by_name_zip_not_found(tiny_env, first, last, zip_code):
    error = refusal(
        tiny_env, "find_user_id_by_name_zip", first_name=first, last_name=last, zip=zip_code
    )
    assert error == "User not found"


def test_get_order_details(tiny_env, tiny_retail_db):
    assert (
        output(tiny_env, "get_order_details", order_id=DELIVERED)
        == (tiny_retail_db["orders"][DELIVERED])
    )


def test_get_product_details(tiny_env, tiny_retail_db):
    product = output(tiny_env, "get_product_details", product_id=TSHIRT)
    assert product == tiny_retail_db["products"][TSHIRT]
    assert sorted(product["variants"]) == [TS_BLUE, TS_RED, TS_GREEN]


def test_get_item_details(tiny_env):
    item = output(tiny_env, "get_item_details", item_id=TS_GREEN)
    assert item == {
        "item_id": TS_GREEN,
        "options": {"color": "green", "size": "S"},
        "available": False,
        "price": 60.0,
    }


def test_get_user_details(tiny_env, tiny_retail_db):
    user = output(tiny_env, "get_user_details", user_id=USER2)
    assert user == tiny_retail_db["users"][USER2]
    assert user["orders"] == [PENDING_U2]


def test_list_all_product_types(tiny_env):
    assert content(tiny_env, "list_all_product_types") == (
        '{"T-Shirt": "1000000001", "Water Bottle": "2000000002"}'
    )


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("get_order_details", {"order_id": "#W9999999"}, "Order not found"),
        ("get_order_details", {"order_id": "W1000001"}, "Order not found"),
        ("get_product_details", {"product_id": TS_BLUE}, "Product not found"),
        ("get_item_details", {"item_id": TSHIRT}, "Item not found"),
        ("get_user_details", {"user_id": "jose_lopez"}, "User not found"),
    ],
)
def test_read_errors(tiny_env, name, arguments, error):
    assert refusal(tiny_env, name, **arguments) == error


def test_reads_leave_state_unchanged(tiny_env):
    before = tiny_env.state_hash()
    content(tiny_env, "get_order_details", order_id=PENDING)
    content(tiny_env, "get_user_details", user_id=USER1)
    content(tiny_env, "get_product_details", product_id=BOTTLE)
    assert tiny_env.state_hash() == before
    assert tiny_env.touched() == set()


# ----------------------------------------------------------------------------------- cancel


def test_cancel_pending_order_by_credit_card(tiny_env):
    result = output(tiny_env, "cancel_pending_order", order_id=PENDING, reason="no longer needed")
    order = tiny_env.state["orders"][PENDING]
    assert result == order
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "no longer needed"
    assert order["payment_history"] == [pay(70.0, CC1), pay(70.0, CC1, "refund")]
    assert balance(tiny_env, USER1, GC1) == 10.0


def test_cancel_pending_order_refunds_gift_card_at_once(tiny_env):
    output(tiny_env, "cancel_pending_order", order_id=PENDING_GC, reason="ordered by mistake")
    order = tiny_env.state["orders"][PENDING_GC]
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "ordered by mistake")
    assert order["payment_history"] == [pay(25.25, GC1), pay(25.25, GC1, "refund")]
    assert balance(tiny_env, USER1, GC1) == 35.25


def test_cancel_rounds_gift_card_balance_to_cents(retail, tiny_retail_db):
    tiny_retail_db["users"][USER1]["payment_methods"][GC1]["balance"] = 0.1
    tiny_retail_db["orders"][PENDING_GC]["payment_history"] = [pay(0.2, GC1)]
    env = retail.environment(tiny_retail_db)
    content(env, "cancel_pending_order", order_id=PENDING_GC, reason="no longer needed")
    assert balance(env, USER1, GC1) == 0.3  # not 0.30000000000000004


@pytest.mark.parametrize(
    ("order_id", "reason", "error"),
    [
        (PROCESSED, "no longer needed", "Non-pending order cannot be cancelled"),
        (DELIVERED, "no longer needed", "Non-pending order cannot be cancelled"),
        (CANCELLED, "no longer needed", "Non-pending order cannot be cancelled"),
        (MODIFIED, "no longer needed", "Non-pending order cannot be cancelled"),
        (PROCESSED, "changed my mind", "Non-pending order cannot be cancelled"),
        (PENDING, "changed my mind", "Invalid reason"),
        (PENDING, "No longer needed", "Invalid reason"),
        ("#W0000000", "no longer needed", "Order not found"),
    ],
)
def test_cancel_pending_order_errors(tiny_env, order_id, reason, error):
    assert refusal(tiny_env, "cancel_pending_order", order_id=order_id, reason=reason) == error


# --------------------------------------------------------------------------------- exchange


def test_exchange_delivered_order_items(tiny_env):
    result = output(
        tiny_env,
        "exchange_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[TS_BLUE, TS_BLUE],
        new_item_ids=[TS_RED, TS_BLUE],
        payment_method_id=CC1,
    )
    order = tiny_env.state["orders"][DELIVERED]
    assert result == order
    assert order["status"] == "exchange requested"
    assert order["exchange_items"] == [TS_BLUE, TS_BLUE]
    assert order["exchange_new_items"] == [TS_BLUE, TS_RED]  # sorted, as τ² stores them
    assert order["exchange_payment_method_id"] == CC1
    assert order["exchange_price_difference"] == 5.5
    assert [i["item_id"] for i in order["items"]] == [TS_BLUE, TS_BLUE]  # no new order yet
    assert order["payment_history"] == [pay(100.0, CC1)]


def test_exchange_sorts_item_lists(retail, tiny_retail_db):
    order = tiny_retail_db["orders"][DELIVERED]
    order["items"] = [line(tiny_retail_db, TSHIRT, TS_RED), line(tiny_retail_db, BOTTLE, WB_1000)]
    env = retail.environment(tiny_retail_db)
    content(
        env,
        "exchange_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[WB_1000, TS_RED],
        new_item_ids=[WB_500, TS_BLUE],
        payment_method_id=CC1,
    )
    exchanged = env.state["orders"][DELIVERED]
    assert exchanged["exchange_items"] == [TS_RED, WB_1000]
    assert exchanged["exchange_new_items"] == [TS_BLUE, WB_500]
    assert exchanged["exchange_price_difference"] == -10.75


def test_exchange_gift_card_covering_difference_is_not_charged_yet(tiny_env):
    content(
        tiny_env,
        "exchange_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_RED],
        payment_method_id=GC1,
    )
    assert tiny_env.state["orders"][DELIVERED]["exchange_price_difference"] == 5.5
    assert balance(tiny_env, USER1, GC1) == 10.0


@pytest.mark.parametrize(
    ("order_id", "item_ids", "new_item_ids", "method", "error"),
    [
        (PENDING, [TS_BLUE], [TS_RED], CC1, "Non-delivered order cannot be exchanged"),
        (PROCESSED, [TS_RED], [TS_BLUE], PP1, "Non-delivered order cannot be exchanged"),
        (DELIVERED, [TS_BLUE] * 3, [TS_RED] * 3, CC1, f"Number of {TS_BLUE} not found."),
        (DELIVERED, [TS_RED], [TS_BLUE], CC1, f"Number of {TS_RED} not found."),
        (
            DELIVERED,
            [TS_BLUE],
            [TS_RED, TS_RED],
            CC1,
            "The number of items to be exchanged should match.",
        ),
        (DELIVERED, [TS_BLUE], [TS_GREEN], CC1, f"New item {TS_GREEN} not found or available"),
        (DELIVERED, [TS_BLUE], [WB_500], CC1, "Variant not found"),
        (DELIVERED, [TS_BLUE], ["0000000000"], CC1, "Variant not found"),
        (DELIVERED, [TS_BLUE], [TS_RED], CC2, "Payment method not found"),
        (
            DELIVERED,
            [TS_BLUE, TS_BLUE],
            [TS_RED, TS_RED],
            GC1,
            "Insufficient gift card balance to pay for the price difference",
        ),
        ("#W0000000", [TS_BLUE], [TS_RED], CC1, "Order not found"),
    ],
)
def test_exchange_delivered_order_items_errors(
    tiny_env, order_id, item_ids, new_item_ids, method, error
):
    arguments = dict(
        order_id=order_id, item_ids=item_ids, new_item_ids=new_item_ids, payment_method_id=method
    )
    assert refusal(tiny_env, "exchange_delivered_order_items", **arguments) == error


@pytest.mark.parametrize(
    ("name", "order_id"),
    [("exchange_delivered_order_items", DELIVERED), ("modify_pending_order_items", PENDING)],
)
def test_item_change_of_unknown_product(retail, tiny_retail_db, name, order_id):
    tiny_retail_db["orders"][order_id]["items"][0]["product_id"] = "9999999999"
    env = retail.environment(tiny_retail_db)
    arguments = dict(
        order_id=order_id, item_ids=[TS_BLUE], new_item_ids=[TS_RED], payment_method_id=CC1
    )
    assert refusal(env, name, **arguments) == "Product not found"


# ---------------------------------------------------------------------------- order address


@pytest.mark.parametrize("order_id", [PENDING, MODIFIED])
def test_modify_pending_order_address(tiny_env, order_id):
    result = output(tiny_env, "modify_pending_order_address", order_id=order_id, **NEW_ADDRESS)
    order = tiny_env.state["orders"][order_id]
    assert result == order
    assert order["address"] == NEW_ADDRESS
    assert tiny_env.state["users"][USER1]["address"]["city"] == "Austin"


@pytest.mark.parametrize(
    ("order_id", "error"),
    [
        (PROCESSED, "Non-pending order cannot be modified"),
        (DELIVERED, "Non-pending order cannot be modified"),
        (CANCELLED, "Non-pending order cannot be modified"),
        ("#W0000000", "Order not found"),
    ],
)
def test_modify_pending_order_address_errors(tiny_env, order_id, error):
    assert (
        refusal(tiny_env, "modify_pending_order_address", order_id=order_id, **NEW_ADDRESS) == error
    )


# ------------------------------------------------------------------------------ order items


def test_modify_pending_order_items_gives_every_item_the_last_new_variant(tiny_env):
    result = output(
        tiny_env,
        "modify_pending_order_items",
        order_id=PENDING,
        item_ids=[TS_BLUE, WB_500],
        new_item_ids=[TS_RED, WB_1000],
        payment_method_id=CC1,
    )
    order = tiny_env.state["orders"][PENDING]
    assert result == order
    assert order["status"] == "pending (item modified)"
    bottle_options = {"capacity": "1000ml", "color": "red"}
    assert [(i["item_id"], i["price"], i["options"]) for i in order["items"]] == [
        (TS_RED, 25.25, bottle_options),  # τ²'s quirk: the T-shirt gets the bottle's price/options
        (WB_1000, 25.25, bottle_options),
    ]
    assert order["payment_history"] == [pay(70.0, CC1), pay(10.75, CC1)]


def test_modify_pending_order_items_refund_to_gift_card(tiny_env):
    content(
        tiny_env,
        "modify_pending_order_items",
        order_id=PENDING_GC,
        item_ids=[WB_1000],
        new_item_ids=[WB_500],
        payment_method_id=GC1,
    )
    order = tiny_env.state["orders"][PENDING_GC]
    assert order["payment_history"] == [pay(25.25, GC1), pay(5.25, GC1, "refund")]
    assert order["items"][0]["price"] == 20.0
    assert balance(tiny_env, USER1, GC1) == 15.25


def test_modify_pending_order_items_gift_card_pays_and_rounds(retail, tiny_retail_db):
    tiny_retail_db["products"][TSHIRT]["variants"][TS_RED]["price"] = 50.1
    tiny_retail_db["users"][USER1]["payment_methods"][GC1]["balance"] = 0.3
    env = retail.environment(tiny_retail_db)
    content(
        env,
        "modify_pending_order_items",
        order_id=PENDING,
        item_ids=[TS_BLUE],
        new_item_ids=[TS_RED],
        payment_method_id=GC1,
    )
    assert balance(env, USER1, GC1) == 0.2  # rounded to cents
    assert env.state["orders"][PENDING]["payment_history"][-1] == pay(
        50.1 - 50.0, GC1
    )  # τ²: unrounded


@pytest.mark.parametrize(
    ("order_id", "item_ids", "new_item_ids", "method", "error"),
    [
        (MODIFIED, [TS_RED], [TS_BLUE], CC1, "Non-pending order cannot be modified"),
        (PROCESSED, [TS_RED], [TS_BLUE], PP1, "Non-pending order cannot be modified"),
        (PENDING, [TS_BLUE, TS_BLUE], [TS_RED, TS_RED], CC1, f"{TS_BLUE} not found"),
        (PENDING, [TS_RED], [TS_BLUE], CC1, f"{TS_RED} not found"),
        (PENDING, [TS_BLUE], [], CC1, "The number of items to be exchanged should match"),
        (
            PENDING,
            [TS_BLUE],
            [TS_BLUE],
            CC1,
            "The new item id should be different from the old item id",
        ),
        (PENDING, [TS_BLUE], [TS_GREEN], CC1, f"New item {TS_GREEN} not found or available"),
        (PENDING, [TS_BLUE], [WB_1000], CC1, "Variant not found"),
        (PENDING, [TS_BLUE], [TS_RED], CC2, "Payment method not found"),
        (
            PENDING,
            [TS_BLUE, WB_500],
            [TS_RED, WB_1000],
            GC1,
            "Insufficient gift card balance to pay for the new item",
        ),
        ("#W0000000", [TS_BLUE], [TS_RED], CC1, "Order not found"),
    ],
)
def test_modify_pending_order_items_errors(
    tiny_env, order_id, item_ids, new_item_ids, method, error
):
    arguments = dict(
        order_id=order_id, item_ids=item_ids, new_item_ids=new_item_ids, payment_method_id=method
    )
    assert refusal(tiny_env, "modify_pending_order_items", **arguments) == error


# ---------------------------------------------------------------------------- order payment


def test_modify_pending_order_payment_to_paypal(tiny_env):
    result = output(
        tiny_env, "modify_pending_order_payment", order_id=PENDING, payment_method_id=PP1
    )
    order = tiny_env.state["orders"][PENDING]
    assert result == order
    assert order["payment_history"] == [pay(70.0, CC1), pay(70.0, PP1), pay(70.0, CC1, "refund")]
    assert order["status"] == "pending"
    assert balance(tiny_env, USER1, GC1) == 10.0


def test_modify_pending_order_payment_refunds_old_gift_card(tiny_env):
    content(tiny_env, "modify_pending_order_payment", order_id=PENDING_GC, payment_method_id=CC1)
    history = tiny_env.state["orders"][PENDING_GC]["payment_history"]
    assert history == [pay(25.25, GC1), pay(25.25, CC1), pay(25.25, GC1, "refund")]
    assert balance(tiny_env, USER1, GC1) == 35.25


def test_modify_pending_order_payment_charges_new_gift_card(tiny_env):
    content(tiny_env, "modify_pending_order_payment", order_id=PENDING_U2, payment_method_id=GC2)
    assert balance(tiny_env, USER2, GC2) == 474.75
    assert tiny_env.state["orders"][PENDING_U2]["payment_history"][1] == pay(25.25, GC2)


@pytest.mark.parametrize(
    ("order_id", "method", "error"),
    [
        (PROCESSED, CC1, "Non-pending order cannot be modified"),
        (CANCELLED, CC1, "Non-pending order cannot be modified"),
        (PENDING, CC2, "Payment method not found"),
        (MODIFIED, CC2, "Payment method not found"),
        (MODIFIED, PP1, "There should be exactly one payment for a pending order"),
        (PENDING, CC1, "The new payment method should be different from the current one"),
        (PENDING, GC1, "Insufficient gift card balance to pay for the order"),
        ("#W0000000", CC1, "Order not found"),
    ],
)
def test_modify_pending_order_payment_errors(tiny_env, order_id, method, error):
    arguments = dict(order_id=order_id, payment_method_id=method)
    assert refusal(tiny_env, "modify_pending_order_payment", **arguments) == error


# ----------------------------------------------------------------------------- user address


def test_modify_user_address(tiny_env):
    result = output(tiny_env, "modify_user_address", user_id=USER2, **NEW_ADDRESS)
    user = tiny_env.state["users"][USER2]
    assert result == user
    assert user["address"] == NEW_ADDRESS
    assert tiny_env.state["orders"][PENDING_U2]["address"]["city"] == "Austin"
    assert tiny_env.state["users"][USER1]["address"]["city"] == "Austin"


def test_modify_user_address_unknown_user(tiny_env):
    assert refusal(tiny_env, "modify_user_address", user_id="nobody_1", **NEW_ADDRESS) == (
        "User not found"
    )


# ----------------------------------------------------------------------------------- return


@pytest.mark.parametrize(("item_ids", "method"), [([TS_BLUE, TS_BLUE], CC1), ([TS_BLUE], GC1)])
def test_return_delivered_order_items(tiny_env, item_ids, method):
    arguments = dict(order_id=DELIVERED, item_ids=item_ids, payment_method_id=method)
    result = output(tiny_env, "return_delivered_order_items", **arguments)
    order = tiny_env.state["orders"][DELIVERED]
    assert result == order
    assert order["status"] == "return requested"
    assert order["return_items"] == item_ids
    assert order["return_payment_method_id"] == method
    assert order["payment_history"] == [pay(100.0, CC1)]
    assert balance(tiny_env, USER1, GC1) == 10.0  # refunded later, not at the request


def test_orders_are_returned_with_every_optional_field_like_tau2(tiny_env):
    order = json.loads(content(tiny_env, "get_order_details", order_id=PENDING))
    optional = [
        "cancel_reason",
        "exchange_items",
        "exchange_new_items",
        "exchange_payment_method_id",
        "exchange_price_difference",
        "return_items",
        "return_payment_method_id",
    ]
    assert list(order)[-len(optional) :] == optional
    assert all(order[key] is None for key in optional)
    assert "cancel_reason" not in tiny_env.state["orders"][PENDING]  # the view, not the record


def test_return_sorts_item_ids(retail, tiny_retail_db):
    order = tiny_retail_db["orders"][DELIVERED]
    order["items"] = [line(tiny_retail_db, BOTTLE, WB_1000), line(tiny_retail_db, TSHIRT, TS_RED)]
    env = retail.environment(tiny_retail_db)
    content(
        env,
        "return_delivered_order_items",
        order_id=DELIVERED,
        item_ids=[WB_1000, TS_RED],
        payment_method_id=CC1,
    )
    assert env.state["orders"][DELIVERED]["return_items"] == [TS_RED, WB_1000]


@pytest.mark.parametrize(
    ("order_id", "item_ids", "method", "error"),
    [
        (PENDING, [TS_BLUE], CC1, "Non-delivered order cannot be returned"),
        (PROCESSED, [TS_RED], PP1, "Non-delivered order cannot be returned"),
        (DELIVERED, [TS_BLUE], PP1, "Payment method should be the original payment method"),
        (DELIVERED, [TS_RED], PP1, "Payment method should be the original payment method"),
        (DELIVERED, [TS_BLUE] * 3, CC1, "Some item not found"),
        (DELIVERED, [TS_RED], CC1, "Some item not found"),
        (DELIVERED, [TS_BLUE], CC2, "Payment method not found"),
        ("#W0000000", [TS_BLUE], CC1, "Order not found"),
    ],
)
def test_return_delivered_order_items_errors(tiny_env, order_id, item_ids, method, error):
    arguments = dict(order_id=order_id, item_ids=item_ids, payment_method_id=method)
    assert refusal(tiny_env, "return_delivered_order_items", **arguments) == error


# -------------------------------------------------------------------------- malformed calls


@pytest.mark.parametrize(
    ("name", "arguments", "words"),
    [
        ("cancel_order", {"order_id": PENDING}, ["cancel_order", "not found"]),
        ("get_order_details", {}, ["get_order_details", "order_id", "required"]),
        ("cancel_pending_order", {"order_id": PENDING}, ["cancel_pending_order", "reason"]),
        ("get_order_details", {"order_id": 1000001}, ["get_order_details", "order_id", "string"]),
        (
            "return_delivered_order_items",
            {"order_id": DELIVERED, "item_ids": TS_BLUE, "payment_method_id": CC1},
            ["return_delivered_order_items", "item_ids", "list"],
        ),
        (
            "get_user_details",
            {"user_id": USER1, "verbose": True},
            ["get_user_details", "verbose"],
        ),
    ],
)
def test_malformed_calls_are_tool_errors(tiny_env, name, arguments, words):
    error = refusal(tiny_env, name, **arguments)
    for word in words:
        assert word in error


# ---------------------------------------------------------------------------------- atomicity


def test_refused_write_after_partial_change_rolls_back(retail, tiny_retail_db):
    # the gift-card refund is applied before the second payment's unknown method is found
    tiny_retail_db["orders"][PENDING_GC]["payment_history"].append(pay(1.0, "credit_card_gone"))
    env = retail.environment(tiny_retail_db)
    error = refusal(env, "cancel_pending_order", order_id=PENDING_GC, reason="no longer needed")
    assert error == "Payment method not found"
    assert balance(env, USER1, GC1) == 10.0
    assert env.state["orders"][PENDING_GC]["status"] == "pending"
    assert env.touched() == set()


def test_refused_write_after_earlier_write_to_same_record_rolls_back(retail, tiny_retail_db):
    tiny_retail_db["orders"][PENDING]["payment_history"] = [pay(30.0, "credit_card_gone")]
    env = retail.environment(tiny_retail_db)
    content(env, "cancel_pending_order", order_id=PENDING_GC, reason="no longer needed")
    assert balance(env, USER1, GC1) == 35.25
    # debits the gift card, then fails to find the order's old payment method
    error = refusal(env, "modify_pending_order_payment", order_id=PENDING, payment_method_id=GC1)
    assert error == "Payment method not found"
    assert balance(env, USER1, GC1) == 35.25


def test_tools_never_mutate_the_loaded_db(tiny_env, tiny_retail_db):
    content(tiny_env, "cancel_pending_order", order_id=PENDING_GC, reason="no longer needed")
    content(tiny_env, "modify_user_address", user_id=USER1, **NEW_ADDRESS)
    args = dict(order_id=DELIVERED, item_ids=[TS_BLUE], payment_method_id=CC1)
    content(tiny_env, "return_delivered_order_items", **args)
    assert tiny_retail_db == make_tiny_retail_db()
    assert len(tiny_env.diff(tiny_env.domain.environment(tiny_retail_db))) == 3


# ------------------------------------------------------------------------------ τ² parity


def test_tiny_db_is_valid_in_both_layouts(retail, tiny_retail_db):
    from tau2.domains.retail.data_model import RetailDB

    retail.validate_db(tiny_retail_db)
    assert retail.check_db(tiny_retail_db) == []
    assert len(RetailDB.model_validate(tiny_retail_db).orders) == 7


def _tau2_tools():
    from tau2.domains.retail.tools import RetailTools

    return RetailTools(None)._func_tools  # name -> the @is_tool function (with `self`)


def test_schemas_match_tau2(retail):
    tau2_tools = _tau2_tools()
    assert set(retail.tools) - set(tau2_tools) == {"get_item_details"}
    assert set(tau2_tools) <= set(retail.tools)
    for name, method in tau2_tools.items():
        params = list(inspect.signature(method).parameters.values())[1:]  # drop self
        schema = retail.tools[name].openai_schema()["function"]["parameters"]
        assert list(schema["properties"]) == [p.name for p in params], name
        assert sorted(schema.get("required", [])) == sorted(
            p.name for p in params if p.default is inspect.Parameter.empty
        ), name
        for p in params:
            ours = {k: v for k, v in schema["properties"][p.name].items() if k != "description"}
            assert ours == TypeAdapter(p.annotation).json_schema(), (name, p.name)


PARITY_CALLS = [
    ("calculate", {"expression": "(1 + 2) / 7"}),
    ("calculate", {"expression": "2 ^ 3"}),
    ("calculate", {"expression": "1 / 0"}),
    ("calculate", {"expression": "((2)"}),
    ("calculate", {"expression": "01"}),
    ("calculate", {"expression": "10 ** 400"}),
    ("calculate", {"expression": "(0 - 8) ** 0.5"}),
    ("calculate", {"expression": "2 ** 10 // 3"}),
    ("find_user_id_by_email", {"email": "JOSE.LOPEZ@example.com"}),
    ("find_user_id_by_name_zip", {"first_name": "JOSÉ", "last_name": "lópez", "zip": "78701"}),
    ("list_all_product_types", {}),
    ("get_product_details", {"product_id": TS_BLUE}),
    ("cancel_pending_order", {"order_id": PENDING_GC, "reason": "ordered by mistake"}),
    ("cancel_pending_order", {"order_id": MODIFIED, "reason": "no longer needed"}),
    ("cancel_pending_order", {"order_id": PENDING, "reason": "too slow"}),
    (
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": [TS_BLUE, TS_BLUE],
            "new_item_ids": [TS_RED, TS_BLUE],
            "payment_method_id": GC1,
        },
    ),
    (
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": [TS_BLUE],
            "new_item_ids": [WB_500],
            "payment_method_id": CC1,
        },
    ),
    ("modify_pending_order_address", {"order_id": MODIFIED, **NEW_ADDRESS}),
    (
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": [TS_BLUE, WB_500],
            "new_item_ids": [TS_RED, WB_1000],
            "payment_method_id": GC1,
        },
    ),
    (
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": [WB_500, TS_BLUE],
            "new_item_ids": [WB_1000, TS_RED],
            "payment_method_id": PP1,
        },
    ),
    ("modify_pending_order_payment", {"order_id": PENDING_GC, "payment_method_id": PP1}),
    ("modify_pending_order_payment", {"order_id": MODIFIED, "payment_method_id": PP1}),
    ("modify_user_address", {"user_id": USER2, **NEW_ADDRESS}),
    (
        "return_delivered_order_items",
        {"order_id": DELIVERED, "item_ids": [TS_BLUE, TS_BLUE], "payment_method_id": GC1},
    ),
    (
        "return_delivered_order_items",
        {"order_id": DELIVERED, "item_ids": [TS_BLUE], "payment_method_id": PP1},
    ),
]


@pytest.mark.parametrize(("name", "arguments"), PARITY_CALLS)
def test_same_outcome_as_tau2(tiny_env, name, arguments):
    from tau2.domains.retail.data_model import RetailDB
    from tau2.domains.retail.tools import RetailTools

    tau2 = RetailTools(RetailDB.model_validate(make_tiny_retail_db()))
    try:
        expected, expected_error = tau2.use_tool(name, **arguments), None
    except Exception as exc:  # τ² signals every refusal with an exception
        expected, expected_error = None, str(exc)
    result = tiny_env.call(name, **arguments)
    assert result.error == expected_error
    if expected_error is None:
        if isinstance(expected, str):
            assert result.content == expected
        else:  # the same JSON as τ²'s environment sends the model, None fields included
            from tau2.environment.environment import Environment as Tau2Environment

            assert json.loads(result.content) == json.loads(Tau2Environment.to_json_str(expected))
    assert normalize(tiny_env.to_dict()) == normalize(tau2.db.model_dump())
