"""Grounding: a tool argument must have been said by the user, shown by a tool, or be allowed by
the tool's schema."""

from __future__ import annotations

from t2t.benchmark import is_grounded, ungrounded_values
from t2t.core.schema import Message, ToolCall
from t2t.domain.loader import load_domain


def _call(name, **arguments):
    return Message(role="assistant", tool_calls=[ToolCall(name=name, arguments=arguments)])


def test_a_value_the_user_said_is_grounded(retail):
    messages = [
        Message(role="user", content="Hi, my email is Jane.Doe@Example.com."),
        _call("find_user_id_by_email", email="jane.doe@example.com"),
    ]
    assert ungrounded_values(messages, retail) == []
    assert is_grounded(messages, retail)


def test_a_made_up_value_is_ungrounded_with_its_path(retail):
    messages = [
        Message(role="user", content="Hi, I want to cancel an order."),
        _call("cancel_pending_order", order_id="#W123"),
        _call("find_user_id_by_name_zip", first_name="Jane", last_name="Doe", zip="12345"),
    ]
    missing = ungrounded_values(messages, retail)
    assert [(m.call_index, m.tool, m.path) for m in missing] == [
        (0, "cancel_pending_order", "order_id"),
        (1, "find_user_id_by_name_zip", "first_name"),
        (1, "find_user_id_by_name_zip", "last_name"),
        (1, "find_user_id_by_name_zip", "zip"),
    ]
    assert not is_grounded(messages, retail)


def test_values_in_lists_and_numbers_from_tool_results(retail):
    messages = [
        Message(role="user", content="Exchange my order #W1."),
        Message(role="tool", content='{"items": [{"item_id": "111"}], "total": "1,234.50"}'),
        _call(
            "exchange_delivered_order_items", order_id="#W1", item_ids=["111"], new_item_ids=["999"]
        ),
        _call("calculate", expression="1234.5"),
    ]
    missing = ungrounded_values(messages, retail)
    assert [(m.path, m.value) for m in missing] == [("new_item_ids[0]", "999")]


def test_enum_and_boolean_values_are_grounded():
    airline = load_domain("airline")
    messages = [
        Message(role="user", content="Change reservation ABC123 please."),
        _call("update_reservation_flights", reservation_id="ABC123", cabin="basic_economy"),
    ]
    assert ungrounded_values(messages, airline) == []  # cabin: an enum of the tool's schema
    made_up = [
        messages[0],
        _call("update_reservation_flights", reservation_id="ABC123", cabin="first"),
    ]
    assert [m.path for m in ungrounded_values(made_up, airline)] == ["cabin"]
    said_later = [
        _call("get_reservation_details", reservation_id="ABC123"),
        Message(role="user", content="It is ABC123."),
    ]
    assert [m.path for m in ungrounded_values(said_later, airline)] == ["reservation_id"]


def test_the_agents_own_words_do_not_ground(retail):
    messages = [
        Message(role="assistant", content="Is your email a@b.com?"),
        _call("find_user_id_by_email", email="a@b.com"),
    ]
    assert [m.value for m in ungrounded_values(messages, retail)] == ["a@b.com"]


def test_booleans_are_grounded_whatever_the_tool(retail):
    messages = [Message(role="user", content="Hi."), _call("some_tool", flag=True, count=7)]
    assert [m.path for m in ungrounded_values(messages, retail)] == ["count"]


def test_an_iso_date_is_grounded_by_the_way_people_write_it():
    airline = load_domain("airline")

    def said(text):
        return [
            Message(role="user", content=text),
            _call("search_direct_flight", origin="JFK", destination="SEA", date="2024-05-03"),
        ]

    for text in ("JFK to SEA on May 3, please", "JFK to SEA, May 3rd", "JFK-SEA on the 3rd of May"):
        assert ungrounded_values(said(text), airline) == [], text
    for text in ("JFK to SEA on May 30", "JFK to SEA on June 3", "JFK to SEA"):
        assert [m.path for m in ungrounded_values(said(text), airline)] == ["date"], text
