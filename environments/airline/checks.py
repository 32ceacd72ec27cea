"""Consistency checks for airline DBs in τ²-bench's ``db.json`` layout.

Tasks are verified by replaying tools on a DB, so a DB that contradicts itself (a trip on a flight
that does not fly that day, a payment total that is not what τ²'s ``book_reservation`` charges, a
flight still bookable before τ²'s fixed "now") yields tasks that verify against nonsense.
``check_db`` lists such problems. It only enforces what holds in τ²'s own ``db.json`` and what its
write tools keep true: a used travel certificate leaves the user's profile (so a certificate paid
with may be gone), a cancelled trip is refunded in full, and τ²'s data has a delayed flight on a
past date, trips booked after their first departure that same day, and trips whose origin is
their destination, all of which pass.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from t2t.domain.record_checks import check_fields, check_tables, check_tagged_record

__all__ = ["AIRPORTS", "CABINS", "FLIGHT_STATUSES", "FREE_BAGS_PER_PASSENGER", "NOW", "check_db"]

NOW = dt.datetime(2024, 5, 15, 15, 0)  # τ²'s airline tools answer "now" with this, always
# τ²'s `list_all_airports`
AIRPORTS = frozenset(
    "SFO JFK LAX ORD DFW DEN SEA ATL MIA BOS PHX IAH LAS MCO EWR CLT MSP DTW PHL LGA".split()
)
CABINS = ("basic_economy", "economy", "business")
# τ²'s policy: free checked bags per passenger, by the booking user's membership and the cabin
FREE_BAGS_PER_PASSENGER = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
_DEP, _ARR = "departure_time_est", "arrival_time_est"
# the fields each status carries, exactly
FLIGHT_STATUSES = {
    "available": ("available_seats", "prices"),
    "landed": (f"actual_{_DEP}", f"actual_{_ARR}"),
    "cancelled": (),
    "delayed": (f"estimated_{_DEP}", f"estimated_{_ARR}"),
    "on time": (f"estimated_{_DEP}", f"estimated_{_ARR}"),
    "flying": (f"actual_{_DEP}", f"estimated_{_ARR}"),
}
# statuses a date can have given τ²'s now: before it, on its day, after it
_STATUSES_BY_WHEN = {
    "before": ("landed", "cancelled", "delayed"),
    "on": ("landed", "flying", "on time", "delayed", "cancelled"),
    "after": ("available", "on time", "delayed", "cancelled"),
}
_FLIGHT_FIELDS = tuple(
    "origin destination flight_number scheduled_departure_time_est"
    " scheduled_arrival_time_est dates".split()
)
_USER_FIELDS = tuple(
    "user_id name address email dob payment_methods saved_passengers membership"
    " reservations".split()
)
_RESERVATION_FIELDS = tuple(
    "reservation_id user_id origin destination flight_type cabin flights passengers"
    " payment_history created_at total_baggages nonfree_baggages insurance".split()
)
_LEG_FIELDS = ("origin", "destination", "flight_number", "date", "price")
_PASSENGER_FIELDS = ("first_name", "last_name", "dob")
_ADDRESS_FIELDS = ("address1", "city", "country", "state", "zip")
_PAYMENT_FIELDS = {
    "credit_card": ("source", "id", "brand", "last_four"),
    "gift_card": ("source", "id", "amount"),
    "certificate": ("source", "id", "amount"),
}
_FLIGHT_NUMBER = re.compile(r"HAT\d{3,}")
_RESERVATION_ID = re.compile(r"[A-Z0-9]{6}")
_USER_ID = re.compile(r"[a-z]+(_[a-z]+)+_\d+")
_PAYMENT_ID = re.compile(r"(credit_card|gift_card|certificate)_\d+")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\+1)?")
_MAX_PASSENGERS = 5  # τ²'s policy
_BAG_FEE, _INSURANCE_FEE = 50, 30  # per extra bag, per insured passenger

Json = dict[str, Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _date(value: Any) -> dt.date | None:
    """A 'YYYY-MM-DD' string as a date, else None."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _stamp(value: Any) -> dt.datetime | None:
    """A 'YYYY-MM-DDTHH:MM:SS' string as a datetime, else None."""
    if not isinstance(value, str) or len(value) != 19:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _minutes(clock: str) -> int:
    hours, minutes, _ = clock.removesuffix("+1").split(":")
    return int(hours) * 60 + int(minutes) + (24 * 60 if clock.endswith("+1") else 0)


def _check_person(problems: list[str], where: str, person: Any) -> None:
    if not check_fields(problems, where, person, _PASSENGER_FIELDS):
        return
    if not all(isinstance(person[k], str) and person[k] for k in ("first_name", "last_name")):
        problems.append(f"{where}: names must be non-empty strings")
    if _date(person["dob"]) is None:
        problems.append(f"{where}: dob {person['dob']!r} is not a YYYY-MM-DD date")


def _check_cabin_numbers(problems: list[str], where: str, status: Json) -> None:
    """Seats and prices of a bookable date: every cabin, whole numbers, cabins priced in order."""
    seats, prices = status["available_seats"], status["prices"]
    if not isinstance(seats, dict) or sorted(seats) != sorted(CABINS):
        problems.append(f"{where}: available_seats must list exactly {', '.join(CABINS)}")
    elif not all(_is_int(n) and n >= 0 for n in seats.values()):
        problems.append(f"{where}: available_seats {seats} must be non-negative integers")
    if not isinstance(prices, dict) or sorted(prices) != sorted(CABINS):
        problems.append(f"{where}: prices must list exactly {', '.join(CABINS)}")
    elif not all(_is_int(p) and p > 0 for p in prices.values()):
        problems.append(f"{where}: prices {prices} must be positive integers")
    elif not prices["basic_economy"] <= prices["economy"] <= prices["business"]:
        problems.append(
            f"{where}: prices {prices} not ordered basic_economy <= economy <= business"
        )


def _check_flight_date(problems: list[str], where: str, day: dt.date, status: Any) -> None:
    """A date's status and times against τ²'s now; the times fall within a day of the date."""
    if not isinstance(status, dict) or status.get("status") not in FLIGHT_STATUSES:
        kind = status.get("status") if isinstance(status, dict) else status
        problems.append(f"{where}: status {kind!r} unknown")
        return
    kind = status["status"]
    if not check_fields(problems, where, status, ("status", *FLIGHT_STATUSES[kind])):
        return
    when = "before" if day < NOW.date() else "on" if day == NOW.date() else "after"
    if kind not in _STATUSES_BY_WHEN[when]:
        problems.append(f"{where}: status {kind!r} impossible {when} τ²'s now ({NOW.date()})")
    if kind == "available":
        _check_cabin_numbers(problems, where, status)
        return
    times: dict[str, dt.datetime] = {}
    for key in FLIGHT_STATUSES[kind]:
        moment = _stamp(status[key])
        if moment is None:
            problems.append(f"{where}: {key} {status[key]!r} is not a YYYY-MM-DDTHH:MM:SS time")
        elif abs((moment.date() - day).days) > 1:
            problems.append(f"{where}: {key} {status[key]} is more than a day off the date")
        else:
            times[key.split("_")[1]] = moment
    dep, arr = times.get("departure"), times.get("arrival")
    if dep and arr and arr <= dep:
        problems.append(f"{where}: arrives ({arr}) before it departs ({dep})")
    if kind == "landed" and arr and arr > NOW:
        problems.append(f"{where}: landed at {arr}, after τ²'s now ({NOW})")
    if kind == "flying" and ((dep and dep > NOW) or (arr and arr <= NOW)):
        problems.append(f"{where}: flying but departs {dep} and arrives {arr}; now is {NOW}")
    if kind == "on time" and dep and dep < NOW:
        problems.append(f"{where}: on time but should have left at {dep}, before {NOW}")


def _check_flights(flights: Json, problems: list[str]) -> None:
    for number, flight in flights.items():
        where = f"flights[{number!r}]"
        if not check_fields(problems, where, flight, _FLIGHT_FIELDS):
            continue
        if flight["flight_number"] != number:
            problems.append(f"{where}: flight_number {flight['flight_number']!r} differs from key")
        if not isinstance(number, str) or not _FLIGHT_NUMBER.fullmatch(number):
            problems.append(f"{where}: flight number is not like 'HAT001'")
        ends = (flight["origin"], flight["destination"])
        if not all(code in AIRPORTS for code in ends):
            problems.append(f"{where}: route {ends} uses an airport τ² does not list")
        if ends[0] == ends[1]:
            problems.append(f"{where}: origin and destination are both {ends[0]!r}")
        dep, arr = flight["scheduled_departure_time_est"], flight["scheduled_arrival_time_est"]
        if not all(isinstance(t, str) and _CLOCK.fullmatch(t) for t in (dep, arr)):
            problems.append(f"{where}: scheduled times {dep!r}, {arr!r} not HH:MM:SS[+1]")
        elif dep.endswith("+1") or _minutes(arr) <= _minutes(dep):
            problems.append(f"{where}: scheduled arrival {arr} is not after departure {dep}")
        if not isinstance(flight["dates"], dict):
            problems.append(f"{where}: dates is not an object")
            continue
        for date, status in flight["dates"].items():
            day = _date(date)
            if day is None:
                problems.append(f"{where}.dates: {date!r} is not a YYYY-MM-DD date")
            else:
                _check_flight_date(problems, f"{where}.dates[{date!r}]", day, status)


def _check_payment_methods(problems: list[str], where: str, methods: Any) -> None:
    if not isinstance(methods, dict):
        problems.append(f"{where}: payment_methods is not an object")
        return
    for pm_id, method in methods.items():
        mwhere = f"{where}.payment_methods[{pm_id!r}]"
        if not check_tagged_record(problems, mwhere, pm_id, method, _PAYMENT_FIELDS):
            continue
        source = method["source"]
        if not _PAYMENT_ID.fullmatch(str(pm_id)) or not pm_id.startswith(f"{source}_"):
            problems.append(f"{mwhere}: id is not like '{source}_1234567'")
        if source == "credit_card" and not re.fullmatch(r"\d{4}", str(method["last_four"])):
            problems.append(f"{mwhere}: last_four {method['last_four']!r} is not four digits")
        amount = method.get("amount", 0)
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            problems.append(f"{mwhere}: amount {amount!r} is not a non-negative number")


def _check_users(users: Json, reservations: Json, problems: list[str]) -> None:
    """Profiles, and each user's reservation list naming exactly trips booked by that user."""
    emails: dict[str, str] = {}
    for uid, user in users.items():
        where = f"users[{uid!r}]"
        if not check_fields(problems, where, user, _USER_FIELDS):
            continue
        if user["user_id"] != uid:
            problems.append(f"{where}: user_id {user['user_id']!r} differs from key")
        if not isinstance(uid, str) or not _USER_ID.fullmatch(uid):
            problems.append(f"{where}: user id is not like 'mia_li_3668'")
        name = user["name"]
        if check_fields(problems, f"{where}.name", name, ("first_name", "last_name")) and not all(
            isinstance(name[k], str) and name[k] for k in ("first_name", "last_name")
        ):
            problems.append(f"{where}.name: names must be non-empty strings")
        if _date(user["dob"]) is None:
            problems.append(f"{where}: dob {user['dob']!r} is not a YYYY-MM-DD date")
        check_fields(problems, f"{where}.address", user["address"], _ADDRESS_FIELDS, ("address2",))
        email = user["email"]
        if not isinstance(email, str) or "@" not in email:
            problems.append(f"{where}: email {email!r} is not an address")
        elif email in emails:
            problems.append(f"{where}: email {email!r} also used by {emails[email]!r}")
        else:
            emails[email] = uid
        if user["membership"] not in FREE_BAGS_PER_PASSENGER:
            problems.append(f"{where}: membership {user['membership']!r} unknown")
        _check_payment_methods(problems, where, user["payment_methods"])
        saved = user["saved_passengers"]
        for i, person in enumerate(saved if isinstance(saved, list) else [None]):
            _check_person(problems, f"{where}.saved_passengers[{i}]", person)
        listed = user["reservations"]
        if not isinstance(listed, list):
            problems.append(f"{where}: reservations is not a list")
            continue
        for rid in sorted({r for r in listed if listed.count(r) > 1}, key=str):
            problems.append(f"{where}: reservation {rid!r} listed twice")
        for rid in listed:
            reservation = reservations.get(rid) if isinstance(rid, str) else None
            if not isinstance(reservation, dict):
                problems.append(f"{where}: reservation {rid!r} not in reservations")
            elif reservation.get("user_id") != uid:
                owner = reservation.get("user_id")
                problems.append(f"{where}: reservation {rid!r} belongs to {owner!r}")


def _check_legs(problems: list[str], where: str, res: Json, flights: Json) -> list[Json]:
    """Each leg flies on its date as the flight table says; legs chain; returns the good ones."""
    legs = res["flights"]
    if not isinstance(legs, list) or not legs:
        problems.append(f"{where}: no flights")
        return []
    good = []
    for i, leg in enumerate(legs):
        lwhere = f"{where}.flights[{i}]"
        if not check_fields(problems, lwhere, leg, _LEG_FIELDS):
            continue
        flight = (
            flights.get(leg["flight_number"]) if isinstance(leg["flight_number"], str) else None
        )
        if not isinstance(flight, dict):
            problems.append(f"{lwhere}: flight {leg['flight_number']!r} not in flights")
            continue
        if not isinstance(leg["date"], str) or leg["date"] not in (flight.get("dates") or {}):
            problems.append(
                f"{lwhere}: flight {leg['flight_number']} does not fly on {leg['date']}"
            )
        ends, flown = (leg["origin"], leg["destination"]), (flight["origin"], flight["destination"])
        if ends != flown:
            problems.append(f"{lwhere}: {ends} but flight {leg['flight_number']} flies {flown}")
        if not _is_int(leg["price"]) or leg["price"] <= 0:
            problems.append(f"{lwhere}: price {leg['price']!r} is not a positive integer")
        good.append(leg)
    if len(good) != len(legs):
        return []
    for i, (a, b) in enumerate(zip(legs, legs[1:], strict=False)):
        if a["destination"] != b["origin"]:
            problems.append(
                f"{where}.flights[{i + 1}]: leaves {b['origin']}, not {a['destination']}"
            )
        if str(b["date"]) < str(a["date"]):
            problems.append(f"{where}.flights[{i + 1}]: on {b['date']}, before the leg ahead")
    if legs[0]["origin"] != res["origin"]:
        problems.append(f"{where}: first flight leaves {legs[0]['origin']}, not {res['origin']}")
    end = res["destination"] if res["flight_type"] == "one_way" else res["origin"]
    if legs[-1]["destination"] != end:
        problems.append(f"{where}: last flight lands in {legs[-1]['destination']}, not {end}")
    if res["flight_type"] == "round_trip" and res["destination"] not in {
        leg["destination"] for leg in legs
    }:
        problems.append(f"{where}: round trip never reaches {res['destination']}")
    return legs


def _check_payments(problems: list[str], where: str, res: Json, user: Json, legs: list) -> None:
    """Payment ids are the user's; they add up to τ²'s price (or to 0 once cancelled)."""
    history = res["payment_history"]
    if not isinstance(history, list) or not history:
        problems.append(f"{where}: no payment_history")
        return
    methods = user.get("payment_methods") or {}
    ok = True
    for i, payment in enumerate(history):
        pwhere = f"{where}.payment_history[{i}]"
        if not check_fields(problems, pwhere, payment, ("payment_id", "amount")):
            ok = False
            continue
        pm_id, amount = payment["payment_id"], payment["amount"]
        if not _is_int(amount):
            problems.append(f"{pwhere}: amount {amount!r} is not whole dollars")
            ok = False
        # τ²'s booking deletes a certificate once used, so only its id format can be checked
        gone_certificate = isinstance(pm_id, str) and pm_id.startswith("certificate_")
        if pm_id not in methods and not (gone_certificate and _PAYMENT_ID.fullmatch(pm_id)):
            problems.append(f"{pwhere}: {pm_id!r} not owned by user {res['user_id']!r}")
    passengers, bags = res["passengers"], res["nonfree_baggages"]
    if not ok or not legs or not isinstance(passengers, list) or not _is_int(bags):
        return
    paid = sum(p["amount"] for p in history)
    n = len(passengers)
    expected = sum(leg["price"] for leg in legs) * n + _BAG_FEE * bags
    expected += _INSURANCE_FEE * n if res["insurance"] == "yes" else 0
    if res.get("status") == "cancelled":
        if paid != 0:
            problems.append(f"{where}: cancelled but {paid} not refunded")
    elif paid != expected:
        problems.append(f"{where}: paid {paid} but flights, bags and insurance cost {expected}")


def _check_reservation(problems: list[str], where: str, res: Json, db: Json) -> None:
    if res["flight_type"] not in ("one_way", "round_trip"):
        problems.append(f"{where}: flight_type {res['flight_type']!r} unknown")
        return
    if res["cabin"] not in CABINS:
        problems.append(f"{where}: cabin {res['cabin']!r} unknown")
    if res["insurance"] not in ("yes", "no"):
        problems.append(f"{where}: insurance {res['insurance']!r} is not 'yes' or 'no'")
    if res.get("status") not in (None, "cancelled"):
        problems.append(f"{where}: status {res['status']!r} is not 'cancelled'")
    if not all(code in AIRPORTS for code in (res["origin"], res["destination"])):
        problems.append(f"{where}: trip {res['origin']}->{res['destination']} off τ²'s airports")
    legs = _check_legs(problems, where, res, db["flights"])
    passengers = res["passengers"]
    if not isinstance(passengers, list) or not 1 <= len(passengers) <= _MAX_PASSENGERS:
        problems.append(f"{where}: needs 1 to {_MAX_PASSENGERS} passengers")
    else:
        for i, person in enumerate(passengers):
            _check_person(problems, f"{where}.passengers[{i}]", person)
    created = _stamp(res["created_at"])
    if created is None:
        problems.append(f"{where}: created_at {res['created_at']!r} is not YYYY-MM-DDTHH:MM:SS")
    elif created > NOW:
        problems.append(f"{where}: created_at {res['created_at']} is after τ²'s now ({NOW})")
    elif legs and created.date().isoformat() > min(str(leg["date"]) for leg in legs):
        problems.append(f"{where}: created_at {res['created_at']} is after its first flight")

    user = db["users"].get(res["user_id"]) if isinstance(res["user_id"], str) else None
    if not isinstance(user, dict):
        problems.append(f"{where}: user_id {res['user_id']!r} not in users")
        return
    if res["reservation_id"] not in (user.get("reservations") or []):
        problems.append(f"{where}: not in users[{res['user_id']!r}].reservations")
    total, nonfree = res["total_baggages"], res["nonfree_baggages"]
    if not (_is_int(total) and _is_int(nonfree) and 0 <= nonfree <= total):
        problems.append(
            f"{where}: baggages {nonfree!r} non-free of {total!r} is not 0 <= n <= total"
        )
    # the free allowance is not re-checked: a cabin change keeps bag counts as booked
    _check_payments(problems, where, res, user, legs)


def _check_reservations(db: Json, problems: list[str]) -> None:
    for rid, res in db["reservations"].items():
        where = f"reservations[{rid!r}]"
        if not check_fields(problems, where, res, _RESERVATION_FIELDS, ("status",)):
            continue
        if res["reservation_id"] != rid:
            problems.append(f"{where}: reservation_id {res['reservation_id']!r} differs from key")
        if not isinstance(rid, str) or not _RESERVATION_ID.fullmatch(rid):
            problems.append(f"{where}: reservation id is not 6 upper-case letters or digits")
        _check_reservation(problems, where, res, db)


def check_db(db: dict) -> list[str]:
    """List every inconsistency found in an airline DB; an empty list means it is consistent."""
    problems: list[str] = []
    if not check_tables(problems, db, ("flights", "users", "reservations")):
        return problems
    _check_flights(db["flights"], problems)
    _check_users(db["users"], db["reservations"], problems)
    _check_reservations(db, problems)
    return problems
