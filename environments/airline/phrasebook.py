"""How airline customers ask: what they want done to a trip, why, and how they name it.

Reservation codes are quoted, as τ²-bench's customers do; a trip is named by its route and date,
a flight by its departure time, a passenger by name and birthday, a card by brand and last four.
Read by `t2t.tasks` (see README, "Bring your own domain").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t2t.tasks import Mention, money, payment_method, spoken_date, words

ASKS = {
    "book_reservation": (
        "book a {flight_type} {cabin} trip from {origin} to {destination} on {flights} for "
        "{passengers}, with {total_baggages} checked bags ({nonfree_baggages} of them beyond "
        "the free allowance), {insurance} travel insurance, paying with {payment_methods}",
    ),
    "cancel_reservation": (
        "cancel {reservation_id}",
        "cancel your trip, {reservation_id}",
    ),
    "update_reservation_baggages": (
        "have {total_baggages} checked bags in total on {reservation_id}, "
        "{nonfree_baggages} of them beyond the free allowance, paid with {payment_id}",
        "add checked bags to {reservation_id}, for {total_baggages} in total "
        "({nonfree_baggages} of them beyond the free allowance), charged to {payment_id}",
    ),
    "update_reservation_flights": (
        "change {reservation_id} {flight_change}, paying any difference with {payment_id}",
        "switch {reservation_id} {flight_change}, with any fare difference on {payment_id}",
    ),
    "update_reservation_passengers": (
        "correct the passenger details on {reservation_id} to {passengers}",
        "update the passenger list on {reservation_id} to {passengers}",
    ),
    "send_certificate": ("get a {amount} travel certificate as compensation",),
}


def _cancel_motives(mentions: Mapping[str, Mention]) -> Sequence[str]:
    """Insurance covers health and weather: an insured trip is cancelled for one of those."""
    reservation = mentions.get("reservation_id")
    record = reservation.record if reservation else None
    if record and record.get("insurance") == "yes" and record.get("cabin") != "business":
        return (
            "because you fell ill and cannot travel",
            "since your doctor advised against flying",
        )
    return ("because your plans changed", "since the trip is no longer happening")


def _bag_motives(mentions: Mapping[str, Mention]) -> Sequence[str]:
    """More bags for more luggage; fewer for travelling light (the motive fits the change)."""
    reservation = mentions.get("reservation_id")
    had = (reservation.record or {}).get("total_baggages") if reservation else None
    wanted = reservation.request.get("total_baggages") if reservation else None
    if isinstance(had, int) and isinstance(wanted, int) and wanted < had:
        return ("because you are travelling lighter than planned", "since you packed less")
    return (
        "because you are bringing more luggage than planned",
        "since you are packing for a longer stay",
    )


MOTIVES: dict[str, Any] = {
    "book_reservation": ("because you are visiting family", "since you have a work trip"),
    "cancel_reservation": _cancel_motives,
    "update_reservation_baggages": lambda mentions: _bag_motives(mentions),
    "update_reservation_flights": (
        "because your meeting was moved",
        "since your plans changed",
        "as it suits your schedule better",
    ),
    "update_reservation_passengers": (
        "because a different person will travel instead",
        "since the name was entered wrong when you booked",
    ),
    "send_certificate": ("because your last flight was badly delayed",),
}


def _reservation(mention: Mention) -> str:
    """A reservation by its code and its trip: "reservation PVDB72 (CLT to PHL on May 18)"."""
    record = mention.record or {}
    flights = record.get("flights") or []
    route = ""
    if record.get("origin") and record.get("destination"):
        route = f"{record['origin']} to {record['destination']}"
        if record.get("flight_type") == "round_trip":
            route += " and back"
        if flights and isinstance(flights[0], dict) and flights[0].get("date"):
            route += f" on {spoken_date(flights[0]['date'], year=False)}"
    owner = "your " if mention.own else ""
    return f"{owner}reservation {mention.value}" + (f" ({route})" if route else "")


def _time(clock: str) -> str:
    """A departure time as people say it: "13:00:00" → "1:00 PM"."""
    try:
        hours, minutes = int(clock[:2]), int(clock[3:5])
    except (ValueError, IndexError):
        return clock
    suffix = "AM" if hours % 24 < 12 else "PM"
    return f"{(hours % 12) or 12}:{minutes:02d} {suffix}"


def _flight(mention: Mention) -> str:
    """A flight by its departure time and route, as a traveller picks it from a search."""
    leg = mention.value if isinstance(mention.value, dict) else {}
    record = mention.record or {}
    day = spoken_date(str(leg.get("date", "")), year=False)
    kept = (mention.container or {}).get("flights") or []
    if any(
        isinstance(k, dict)
        and (k.get("flight_number"), k.get("date")) == (leg.get("flight_number"), leg.get("date"))
        for k in kept
    ):
        return ""  # a leg the trip keeps: the user names only what changes
    if record.get("scheduled_departure_time_est") and record.get("origin"):
        leaves = _time(str(record["scheduled_departure_time_est"]))
        return f"the {leaves} flight from {record['origin']} to {record['destination']} on {day}"
    return f"flight {leg.get('flight_number', '')} on {day}"


def _passenger(mention: Mention) -> str:
    person = mention.value if isinstance(mention.value, dict) else {}
    name = f"{person.get('first_name', '')} {person.get('last_name', '')}".strip()
    born = spoken_date(str(person.get("dob", "")))
    return f"{name}, born {born}" if born else name


def _payment_share(mention: Mention) -> str:
    """One payment of a booking: "{card} for $250"."""
    share = mention.value if isinstance(mention.value, dict) else {}
    method = payment_method(
        Mention(arg="payment_id", value=share.get("payment_id"), record=mention.record)
    )
    return f"{method} for {money(share['amount'])}" if "amount" in share else method


def _flight_change(arguments: Mapping[str, Any], named: Mapping[str, str]) -> str:
    """Only the cabin when the flights stay, else the new flights and the cabin."""
    if not named.get("flights"):
        return f"to {named.get('cabin', '')}, keeping the same flights"
    return f"to {named['flights']}, in {named.get('cabin', '')}"


DERIVED = {"flight_change": _flight_change}

NAMES = {
    "reservation_id": _reservation,
    "flights": _flight,
    "passengers": _passenger,
    "payment_id": payment_method,
    "payment_methods": _payment_share,
    "cabin": lambda m: words(m.value),
    "flight_type": lambda m: words(m.value).replace(" ", "-"),
    "insurance": lambda m: "with" if m.value == "yes" else "without",
    "amount": lambda m: money(m.value),
}

UNKNOWN = {
    "flights": "the flight numbers",
    "reservation_id": "your reservation codes",
    "payment_id": "the internal ids of your payment methods",
}
