"""Machine-checkable airline policy rules: each says why a call is not allowed, or returns None.

Rules read the state and the call's raw arguments and never raise: a call naming records that do
not exist, or with arguments of the wrong shape, is left to the tool, which refuses it with τ²'s
message. Most rules are stricter than the tools: τ²'s airline tools check almost nothing of the
policy ("the API does not check these for the agent"), which is exactly what infeasible variants
are built from. What a rule cannot see (the reason for a cancellation, what the user was told) it
does not judge: a cancellation with travel insurance is allowed whatever the reason.

A segment "has been flown" when its flight's status on that date is landed or flying. "Now" is
τ²'s frozen clock, 2024-05-15T15:00:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from t2t import State, ToolCall, rule

__all__ = [
    "at_most_five_passengers",
    "balance_covers_payment",
    "basic_economy_flights_fixed",
    "bags_only_added",
    "cabin_change_before_flying",
    "cancel_nothing_flown",
    "cancellation_allowed",
    "certificate_for_disruption",
    "compensation_eligible",
    "connected_itinerary",
    "flown_segments_kept",
    "free_bag_allowance",
    "no_charge_for_free_bags",
    "only_active_reservations",
    "own_payment_methods",
    "passenger_count_unchanged",
    "payment_method_limits",
    "same_trip_when_changing_flights",
    "single_card_for_changes",
]

NOW = datetime(2024, 5, 15, 15, 0, 0)
FREE_BAGS = {  # membership -> cabin -> free checked bags per passenger
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
_FLOWN = ("landed", "flying")
_UPDATES = ("update_reservation_flights", "update_reservation_baggages")
_CHANGES = (*_UPDATES, "update_reservation_passengers", "cancel_reservation")


# ------------------------------------------------------------------------------------ reading


def _reservation(db: State, call: ToolCall) -> dict[str, Any] | None:
    reservation_id = call.arguments.get("reservation_id")
    return db["reservations"].get(reservation_id) if isinstance(reservation_id, str) else None


def _user(db: State, user_id: Any) -> dict[str, Any] | None:
    return db["users"].get(user_id) if isinstance(user_id, str) else None


def _payer(db: State, call: ToolCall) -> dict[str, Any] | None:
    """The user whose payment methods the call uses: the booker or the reservation's owner."""
    if call.name == "book_reservation":
        return _user(db, call.arguments.get("user_id"))
    reservation = _reservation(db, call)
    return _user(db, reservation["user_id"]) if reservation else None


def _records(value: Any) -> list[dict[str, Any]] | None:
    """A list of objects, or None for anything else (the tool's validation refuses it)."""
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    return None


def _int(value: Any) -> int | None:
    """A whole number as the tool's validation would accept it, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None  # also nan and inf
    return int(value)


def _bags(call: ToolCall) -> tuple[int | None, int | None]:
    """The call's (total, non-free) bag counts."""
    return _int(call.arguments.get("total_baggages")), _int(call.arguments.get("nonfree_baggages"))


def _flight_date(db: State, number: Any, date: Any) -> dict[str, Any] | None:
    flight = db["flights"].get(number) if isinstance(number, str) else None
    return flight["dates"].get(date) if flight and isinstance(date, str) else None


def _flown(db: State, segment: dict[str, Any]) -> bool:
    data = _flight_date(db, segment["flight_number"], segment["date"])
    return data is not None and data["status"] in _FLOWN


def _keys(flights: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(f.get("flight_number"), f.get("date")) for f in flights]


def _new_flights(call: ToolCall) -> list[dict[str, Any]] | None:
    return _records(call.arguments.get("flights"))


def _update_price(db: State, reservation: dict[str, Any], call: ToolCall) -> int | None:
    """What a change costs (negative: a refund), priced as the tool prices it; None if unknown."""
    count = len(reservation["passengers"])
    if call.name == "update_reservation_baggages":
        nonfree = _int(call.arguments.get("nonfree_baggages"))
        return None if nonfree is None else 50 * max(0, nonfree - reservation["nonfree_baggages"])
    flights, cabin = _new_flights(call), call.arguments.get("cabin")
    if flights is None or not isinstance(cabin, str):
        return None
    total = 0
    for number, date in _keys(flights):
        kept = next(
            (
                s["price"]
                for s in reservation["flights"]
                if (s["flight_number"], s["date"]) == (number, date)
                and cabin == reservation["cabin"]
            ),
            None,
        )
        data = _flight_date(db, number, date)
        if kept is None and (data is None or cabin not in data.get("prices", {})):
            return None
        total += (kept if kept is not None else data["prices"][cabin]) * count  # type: ignore[index]
    return total - sum(s["price"] for s in reservation["flights"]) * count


def _disrupted(db: State, user: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The user's reservations with a cancelled or delayed flight, with that status."""
    found = []
    for reservation_id in user["reservations"]:
        reservation = db["reservations"].get(reservation_id)
        for segment in reservation["flights"] if reservation else []:
            data = _flight_date(db, segment["flight_number"], segment["date"])
            if data and data["status"] in ("cancelled", "delayed"):
                found.append((reservation, data["status"]))
    return found


# ------------------------------------------------------------------------------- reservations


@rule(*_CHANGES)
def only_active_reservations(db: State, call: ToolCall) -> str | None:
    """A cancelled reservation cannot be changed or cancelled again."""
    reservation = _reservation(db, call)
    if reservation and reservation.get("status") == "cancelled":
        return f"reservation {reservation['reservation_id']} is already cancelled"
    return None


@rule("cancel_reservation")
def cancel_nothing_flown(db: State, call: ToolCall) -> str | None:
    """Once any segment has been flown, the agent cannot cancel (a human agent must)."""
    reservation = _reservation(db, call)
    for segment in reservation["flights"] if reservation else []:
        if _flown(db, segment):
            return (
                f"flight {segment['flight_number']} on {segment['date']} of reservation "
                f"{reservation['reservation_id']} has already been flown; transfer to a human"  # type: ignore[index]
            )
    return None


@rule("cancel_reservation")
def cancellation_allowed(db: State, call: ToolCall) -> str | None:
    """Cancel only within 24 h of booking, after an airline cancellation, in business or insured."""
    reservation = _reservation(db, call)
    if not reservation:
        return None
    try:
        booked = datetime.fromisoformat(reservation["created_at"])
    except (TypeError, ValueError):
        booked = None
    airline_cancelled = any(
        (data := _flight_date(db, s["flight_number"], s["date"])) and data["status"] == "cancelled"
        for s in reservation["flights"]
    )
    if (
        (booked is not None and NOW - booked <= timedelta(hours=24))
        or airline_cancelled
        or reservation["cabin"] == "business"
        or reservation["insurance"] == "yes"
    ):
        return None
    return (
        f"reservation {reservation['reservation_id']} was booked more than 24 hours ago "
        f"({reservation['created_at']}), in {reservation['cabin']} without insurance, and no "
        "flight of it was cancelled by the airline"
    )


@rule("update_reservation_passengers")
def passenger_count_unchanged(db: State, call: ToolCall) -> str | None:
    """Passengers can be edited, but their number never changes."""
    reservation, passengers = _reservation(db, call), call.arguments.get("passengers")
    if reservation and isinstance(passengers, list):
        have = len(reservation["passengers"])
        if len(passengers) != have:
            rid = reservation["reservation_id"]
            return f"reservation {rid} has {have} passengers, not {len(passengers)}"
    return None


# ------------------------------------------------------------------------------------ flights


@rule("update_reservation_flights")
def basic_economy_flights_fixed(db: State, call: ToolCall) -> str | None:
    """The flights of a basic-economy reservation cannot change (its cabin can)."""
    reservation, flights = _reservation(db, call), _new_flights(call)
    if reservation and flights is not None and reservation["cabin"] == "basic_economy":
        if sorted(map(str, _keys(flights))) != sorted(map(str, _keys(reservation["flights"]))):
            rid = reservation["reservation_id"]
            return f"reservation {rid} is basic economy: its flights cannot be modified"
    return None


@rule("update_reservation_flights")
def same_trip_when_changing_flights(db: State, call: ToolCall) -> str | None:
    """New flights keep the reservation's origin, destination and trip type."""
    reservation, flights = _reservation(db, call), _new_flights(call)
    if not reservation or not flights:
        return None
    legs = []
    for number, _ in _keys(flights):
        flight = db["flights"].get(number) if isinstance(number, str) else None
        if flight is None:
            return None  # the tool refuses unknown flights
        legs.append((flight["origin"], flight["destination"]))
    origin, destination = reservation["origin"], reservation["destination"]
    if reservation["flight_type"] == "one_way":
        ok = legs[0][0] == origin and legs[-1][1] == destination
    else:
        ok = (
            legs[0][0] == origin
            and legs[-1][1] == origin
            and any(to == destination for _, to in legs)
        )
    if ok:
        return None
    route = " → ".join([legs[0][0], *(to for _, to in legs)])
    trip = reservation["flight_type"].replace("_", " ")
    rid = reservation["reservation_id"]
    return f"new route {route} is not the {trip} {origin}–{destination} of reservation {rid}"


@rule("book_reservation", "update_reservation_flights")
def connected_itinerary(db: State, call: ToolCall) -> str | None:
    """Each flight leaves from where the one before lands, on the same day or later."""
    flights = _new_flights(call)
    if not flights:
        return None
    legs = []
    for number, date in _keys(flights):
        flight = db["flights"].get(number) if isinstance(number, str) else None
        if flight is None or not isinstance(date, str):
            return None  # the tool refuses unknown flights
        legs.append((number, date, flight["origin"], flight["destination"]))
    for (number_a, date_a, _, lands), (number_b, date_b, leaves, _) in zip(
        legs, legs[1:], strict=False
    ):
        if leaves != lands:
            return f"flight {number_b} leaves {leaves}, but {number_a} lands in {lands}"
        if date_b < date_a:
            return f"flight {number_b} on {date_b} is before {number_a} on {date_a}"
    return None


@rule("update_reservation_flights")
def cabin_change_before_flying(db: State, call: ToolCall) -> str | None:
    """The cabin cannot change once any segment of the reservation has been flown."""
    reservation = _reservation(db, call)
    if not reservation or call.arguments.get("cabin") in (None, reservation["cabin"]):
        return None
    flown = [s for s in reservation["flights"] if _flown(db, s)]
    if flown:
        number, date, rid = (
            flown[0]["flight_number"],
            flown[0]["date"],
            reservation["reservation_id"],
        )
        return f"flight {number} on {date} has been flown: the cabin of {rid} cannot change"
    return None


@rule("update_reservation_flights")
def flown_segments_kept(db: State, call: ToolCall) -> str | None:
    """A segment that has been flown stays in the reservation as it is."""
    reservation, flights = _reservation(db, call), _new_flights(call)
    if not reservation or flights is None:
        return None
    new = _keys(flights)
    for segment in reservation["flights"]:
        if _flown(db, segment) and (segment["flight_number"], segment["date"]) not in new:
            number, date = segment["flight_number"], segment["date"]
            return f"flight {number} on {date} has been flown and cannot be changed"
    return None


# ------------------------------------------------------------------------------------ booking


@rule("book_reservation")
def at_most_five_passengers(db: State, call: ToolCall) -> str | None:
    """A reservation has at most five passengers."""
    passengers = call.arguments.get("passengers")
    if isinstance(passengers, list) and len(passengers) > 5:
        return f"{len(passengers)} passengers; a reservation has at most five"
    return None


def _bags_due(db: State, call: ToolCall) -> tuple[int, int, int, str] | None:
    """(total, non-free asked, non-free due, who) of a bag count, when the rule can tell."""
    total, nonfree = _bags(call)
    if call.name == "book_reservation":
        user, cabin = _user(db, call.arguments.get("user_id")), call.arguments.get("cabin")
        passengers = call.arguments.get("passengers")
        count = len(passengers) if isinstance(passengers, list) else None
    else:
        reservation = _reservation(db, call)
        user = _user(db, reservation["user_id"]) if reservation else None
        cabin = reservation["cabin"] if reservation else None
        count = len(reservation["passengers"]) if reservation else None
    allowance = FREE_BAGS.get(user["membership"], {}) if user else {}
    if total is None or nonfree is None or count is None or not isinstance(cabin, str):
        return None
    if cabin not in allowance or user is None:
        return None
    free = allowance[cabin] * count
    return (
        total,
        nonfree,
        max(0, total - free),
        f"{free} free ({user['membership']} member, {count} × {cabin})",
    )


@rule("book_reservation", "update_reservation_baggages")
def free_bag_allowance(db: State, call: ToolCall) -> str | None:
    """Bags within the membership's free allowance are free; every bag beyond it is paid."""
    bags = _bags_due(db, call)
    if bags is not None and bags[1] < bags[2]:
        total, nonfree, due, free = bags
        return f"{total} bags with {free} means {due} non-free, not {nonfree}"
    return None


@rule("book_reservation", "update_reservation_baggages", degenerate=True)
def no_charge_for_free_bags(db: State, call: ToolCall) -> str | None:
    """Only the bags beyond the free allowance are paid: never more non-free bags than that."""
    bags = _bags_due(db, call)
    if bags is not None and bags[1] > bags[2]:
        total, nonfree, due, free = bags
        return f"{total} bags with {free} means {due} non-free, not {nonfree}"
    return None


@rule("update_reservation_baggages")
def bags_only_added(db: State, call: ToolCall) -> str | None:
    """Checked bags can be added, never removed."""
    reservation = _reservation(db, call)
    total, nonfree = _bags(call)
    if not reservation or total is None or nonfree is None:
        return None
    if total < reservation["total_baggages"] or nonfree < reservation["nonfree_baggages"]:
        rid, had, paid = (
            reservation[k] for k in ("reservation_id", "total_baggages", "nonfree_baggages")
        )
        return f"reservation {rid} has {had} bags ({paid} non-free); bags cannot be removed"
    return None


# ------------------------------------------------------------------------------------ payment


@rule("book_reservation", *_UPDATES)
def own_payment_methods(db: State, call: ToolCall) -> str | None:
    """Only payment methods already in the paying user's profile can be used."""
    user = _payer(db, call)
    if not user:
        return None
    if call.name == "book_reservation":
        ids = [p.get("payment_id") for p in _records(call.arguments.get("payment_methods")) or []]
    else:
        ids = [call.arguments.get("payment_id")]
    missing = [i for i in ids if isinstance(i, str) and i not in user["payment_methods"]]
    if missing:
        return f"payment method {missing[0]} is not in the profile of {user['user_id']}"
    return None


@rule("book_reservation")
def payment_method_limits(db: State, call: ToolCall) -> str | None:
    """A booking uses at most one certificate, one credit card and three gift cards."""
    user = _user(db, call.arguments.get("user_id"))
    payments = _records(call.arguments.get("payment_methods"))
    if not user or payments is None:
        return None
    used: dict[str, set[str]] = {}
    for payment in payments:
        payment_id = payment.get("payment_id")
        method = user["payment_methods"].get(payment_id) if isinstance(payment_id, str) else None
        if method:
            used.setdefault(method["source"], set()).add(payment_id)
    limits = {"certificate": 1, "credit_card": 1, "gift_card": 3}
    for source, limit in limits.items():
        if len(used.get(source, ())) > limit:
            kind = source.replace("_", " ")
            return f"{len(used[source])} {kind}s used; at most {limit} per reservation"
    return None


@rule(*_UPDATES)
def single_card_for_changes(db: State, call: ToolCall) -> str | None:
    """Changes are paid or refunded through one credit card or gift card, never a certificate."""
    user = _payer(db, call)
    payment_id = call.arguments.get("payment_id")
    method = (
        user["payment_methods"].get(payment_id) if user and isinstance(payment_id, str) else None
    )
    if method and method["source"] == "certificate":
        return f"{payment_id} is a travel certificate; changes need a credit card or gift card"
    return None


@rule("book_reservation", *_UPDATES)
def balance_covers_payment(db: State, call: ToolCall) -> str | None:
    """A gift card or certificate must hold what it pays (all its uses in one booking together)."""
    user = _payer(db, call)
    if not user:
        return None
    if call.name == "book_reservation":
        charges: dict[str, int] = {}
        for payment in _records(call.arguments.get("payment_methods")) or []:
            payment_id, amount = payment.get("payment_id"), _int(payment.get("amount"))
            if isinstance(payment_id, str) and amount is not None:
                charges[payment_id] = charges.get(payment_id, 0) + amount
    else:
        reservation = _reservation(db, call)
        price = _update_price(db, reservation, call) if reservation else None
        payment_id = call.arguments.get("payment_id")
        charges = {payment_id: price} if isinstance(payment_id, str) and price is not None else {}
    for payment_id, amount in charges.items():
        method = user["payment_methods"].get(payment_id)
        if method and method["source"] != "credit_card" and method["amount"] < amount:
            return f"{payment_id} holds {method['amount']}, less than {amount}"
    return None


# ------------------------------------------------------------------------------- compensation


@rule("send_certificate")
def certificate_for_disruption(db: State, call: ToolCall) -> str | None:
    """A certificate is $100 per passenger for a cancelled flight, $50 for a delayed one."""
    user, amount = _user(db, call.arguments.get("user_id")), _int(call.arguments.get("amount"))
    if not user or amount is None:
        return None
    per_passenger = {"cancelled": 100, "delayed": 50}
    allowed = {
        per_passenger[status] * len(reservation["passengers"])
        for reservation, status in _disrupted(db, user)
    }
    if amount in allowed:
        return None
    if not allowed:
        return f"no reservation of {user['user_id']} has a cancelled or delayed flight"
    user_id = user["user_id"]
    return (
        f"certificate of {amount}; a disrupted reservation of {user_id} justifies {sorted(allowed)}"
    )


@rule("send_certificate")
def compensation_eligible(db: State, call: ToolCall) -> str | None:
    """Only silver or gold members, or travellers with insurance or in business, are compensated."""
    user = _user(db, call.arguments.get("user_id"))
    if not user or user["membership"] in ("silver", "gold"):
        return None
    if any(
        reservation["insurance"] == "yes" or reservation["cabin"] == "business"
        for reservation, _ in _disrupted(db, user)
    ):
        return None
    return (
        f"{user['user_id']} is a regular member without insurance or business class on a "
        "disrupted reservation"
    )
