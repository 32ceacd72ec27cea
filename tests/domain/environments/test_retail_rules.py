"""Retail policy rules: each allows a compliant call, refuses a violating one and never raises."""

import pytest
from conftest import (
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
    USER1,
    USER2,
    WB_500,
    WB_1000,
)

from t2t import ToolCall

ADDRESS = {
    "address1": "9 Elm St",
    "address2": "",
    "city": "Boston",
    "state": "MA",
    "country": "USA",
    "zip": "02101",
}


def cancel(order_id, reason="no longer needed"):
    return ToolCall(name="cancel_pending_order", arguments={"order_id": order_id, "reason": reason})


def address(order_id):
    return ToolCall(
        name="modify_pending_order_address", arguments={"order_id": order_id, **ADDRESS}
    )


def payment(order_id, method):
    arguments = {"order_id": order_id, "payment_method_id": method}
    return ToolCall(name="modify_pending_order_payment", arguments=arguments)


def items(order_id, old, new, method=CC1):
    arguments = {
        "order_id": order_id,
        "item_ids": old,
        "new_item_ids": new,
        "payment_method_id": method,
    }
    return ToolCall(name="modify_pending_order_items", arguments=arguments)


def exchange(old, new, method=CC1, order_id=DELIVERED):
    arguments = {
        "order_id": order_id,
        "item_ids": old,
        "new_item_ids": new,
        "payment_method_id": method,
    }
    return ToolCall(name="exchange_delivered_order_items", arguments=arguments)


def give_back(old, method=CC1, order_id=DELIVERED):
    arguments = {"order_id": order_id, "item_ids": old, "payment_method_id": method}
    return ToolCall(name="return_delivered_order_items", arguments=arguments)


# rule -> calls it allows
ALLOWED = {
    "cancel_only_pending": [cancel(PENDING), cancel(PENDING_GC)],
    "cancel_reason_allowed": [cancel(PENDING, "ordered by mistake"), cancel(PENDING)],
    "modify_only_pending": [address(PENDING), address(MODIFIED), payment(PENDING, PP1)],
    "modify_items_once": [address(PENDING), items(PENDING, [TS_BLUE], [TS_RED]), cancel(PENDING)],
    "return_exchange_only_delivered": [give_back([TS_BLUE]), exchange([TS_BLUE], [TS_RED])],
    "items_in_order": [
        give_back([TS_BLUE, TS_BLUE]),
        exchange([TS_BLUE, TS_BLUE], [TS_RED, TS_RED]),
        items(PENDING, [WB_500, TS_BLUE], [WB_1000, TS_RED]),
    ],
    "same_product_available_item": [
        exchange([TS_BLUE], [TS_RED]),
        items(PENDING, [TS_BLUE, WB_500], [TS_RED, WB_1000]),
    ],
    "item_becomes_another_variant": [
        exchange([TS_BLUE], [TS_RED]),
        items(PENDING, [TS_BLUE, WB_500], [TS_RED, WB_1000]),
    ],
    "own_payment_method": [
        payment(PENDING, PP1),
        give_back([TS_BLUE], GC1),
        exchange([TS_BLUE], [TS_RED], PP1),
        items(PENDING, [TS_BLUE], [TS_RED], GC1),
    ],
    "payment_method_changes": [payment(PENDING, PP1), payment(PENDING_GC, CC1)],
    "gift_card_covers_amount": [
        payment(PENDING_U2, GC2),
        exchange([TS_BLUE], [TS_RED], GC1),
        items(PENDING, [TS_BLUE], [TS_RED], GC1),
        items(PENDING_GC, [WB_1000], [WB_500], GC1),  # a refund to a gift card
        give_back([TS_BLUE, TS_BLUE], GC1),
    ],
    "refund_to_original_or_gift_card": [give_back([TS_BLUE], CC1), give_back([TS_BLUE], GC1)],
}

# rule -> (call it refuses, words its reason must mention)
REFUSED = {
    "cancel_only_pending": [
        (cancel(PROCESSED), [PROCESSED, "processed"]),
        (cancel(DELIVERED), [DELIVERED, "delivered"]),
        (cancel(MODIFIED), [MODIFIED, "pending (item modified)"]),
    ],
    "cancel_reason_allowed": [
        (cancel(PENDING, "too slow"), ["too slow"]),
        (cancel(PENDING, "No longer needed"), ["No longer needed"]),
    ],
    "modify_only_pending": [
        (address(DELIVERED), [DELIVERED, "delivered"]),
        (payment(PROCESSED, CC1), [PROCESSED, "processed"]),
        (items(CANCELLED, [WB_500], [WB_1000]), [CANCELLED, "cancelled"]),
    ],
    "modify_items_once": [
        (address(MODIFIED), [MODIFIED]),
        (payment(MODIFIED, PP1), [MODIFIED]),
        (items(MODIFIED, [TS_RED], [TS_BLUE]), [MODIFIED]),
        (cancel(MODIFIED), [MODIFIED]),
    ],
    "return_exchange_only_delivered": [
        (give_back([TS_BLUE], order_id=PENDING), [PENDING, "pending"]),
        (exchange([TS_RED], [TS_BLUE], order_id=PROCESSED), [PROCESSED, "processed"]),
    ],
    "items_in_order": [
        (give_back([TS_BLUE] * 3), [TS_BLUE, DELIVERED]),
        (exchange([TS_RED], [TS_BLUE]), [TS_RED, DELIVERED]),
        (items(PENDING, [WB_1000], [WB_500]), [WB_1000, PENDING]),
    ],
    "same_product_available_item": [
        (items(PENDING, [TS_BLUE], [TS_GREEN]), [TS_GREEN, "not available"]),
    ],
    "item_becomes_another_variant": [
        (exchange([TS_BLUE], [TS_BLUE]), [TS_BLUE, "itself"]),
        (exchange([TS_BLUE], [WB_500]), [WB_500, "T-Shirt"]),
        (items(PENDING, [WB_500], ["0000000000"]), ["0000000000", "Water Bottle"]),
    ],
    "own_payment_method": [
        (payment(PENDING, CC2), [CC2, USER1]),
        (give_back([TS_BLUE], GC2), [GC2, USER1]),
        (exchange([TS_BLUE], [TS_RED], "paypal_9999"), ["paypal_9999", USER1]),
        (items(PENDING_U2, [WB_1000], [WB_500], CC1), [CC1, USER2]),
    ],
    "payment_method_changes": [
        (payment(PENDING, CC1), [CC1, PENDING]),
        (payment(PENDING_GC, GC1), [GC1, PENDING_GC]),
    ],
    "gift_card_covers_amount": [
        (payment(PENDING, GC1), [GC1, "10.0", "70.0"]),
        (items(PENDING, [TS_BLUE, WB_500], [TS_RED, WB_1000], GC1), [GC1, "10.75"]),
        (exchange([TS_BLUE, TS_BLUE], [TS_RED, TS_RED], GC1), [GC1, "11.0"]),
    ],
    "refund_to_original_or_gift_card": [
        (give_back([TS_BLUE], PP1), [PP1, CC1]),
    ],
}


def broken(env, call):
    reasons = env.check_rules(call)
    assert all(isinstance(r, str) and isinstance(why, str) and why for r, why in reasons)
    return dict(reasons)


def test_every_rule_is_covered(retail):
    names = {r.name for r in retail.rules}
    assert names == set(ALLOWED) == set(REFUSED)
    assert len(names) == 12


@pytest.mark.parametrize(
    ("rule", "call"), [(r, c) for r, calls in ALLOWED.items() for c in calls], ids=str
)
def test_rule_allows(tiny_env, rule, call):
    assert rule not in broken(tiny_env, call)


@pytest.mark.parametrize(
    ("rule", "call", "words"),
    [(r, c, w) for r, cases in REFUSED.items() for c, w in cases],
    ids=str,
)
def test_rule_refuses(tiny_env, rule, call, words):
    reasons = broken(tiny_env, call)
    assert rule in reasons
    for word in words:
        assert word in reasons[rule]


@pytest.mark.parametrize(
    "call",
    [
        cancel(PENDING),
        address(PENDING),
        payment(PENDING, PP1),
        items(PENDING, [TS_BLUE, WB_500], [TS_RED, WB_1000], PP1),
        exchange([TS_BLUE, TS_BLUE], [TS_RED, TS_RED]),
        give_back([TS_BLUE], GC1),
        ToolCall(name="modify_user_address", arguments={"user_id": USER1, **ADDRESS}),
    ],
    ids=lambda c: c.name,
)
def test_compliant_calls_break_no_rule_and_succeed(tiny_env, call):
    assert tiny_env.check_rules(call) == []
    assert tiny_env.run(call).ok


def test_rules_ignore_reads(tiny_env):
    call = ToolCall(name="get_order_details", arguments={"order_id": DELIVERED})
    assert tiny_env.check_rules(call) == []


def test_policy_is_stricter_than_tools_after_item_modification(tiny_env):
    call = address(MODIFIED)
    assert "modify_items_once" in broken(tiny_env, call)
    result = tiny_env.fork().run(call)
    assert result.ok
    assert "modify_items_once" not in broken(tiny_env, address(PENDING))


def test_rules_see_the_current_state(tiny_env):
    assert broken(tiny_env, cancel(PENDING)) == {}
    assert tiny_env.run(items(PENDING, [TS_BLUE], [TS_RED])).ok
    assert set(broken(tiny_env, cancel(PENDING))) == {"cancel_only_pending", "modify_items_once"}


def test_rules_do_not_change_state(tiny_env):
    before = tiny_env.state_hash()
    for cases in REFUSED.values():
        for call, _ in cases:
            tiny_env.check_rules(call)
    assert tiny_env.state_hash() == before
    assert tiny_env.touched() == set()


# ------------------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    "call",
    [
        give_back([["1000000011"]]),
        give_back([1, "a"]),
        exchange([TS_BLUE], [[TS_RED]]),
        items(PENDING, [TS_BLUE], [{"id": TS_RED}], GC1),
    ],
    ids=["nested-return", "mixed-return", "nested-exchange", "dict-modify"],
)
def test_rules_never_raise_on_nested_or_mixed_item_lists(tiny_env, call):
    assert isinstance(tiny_env.check_rules(call), list)
