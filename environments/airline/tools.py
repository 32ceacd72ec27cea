"""Airline tools with τ²-bench's names, arguments, results and error messages.

Semantics follow τ²-bench's airline domain call for call, including its quirks, so that τ²'s own
tasks replay to the same final DB:

- the clock is frozen at 2024-05-15T15:00:00 (`created_at` of every new reservation);
- new reservations are HATHAT, HATHAU, HATHAV (then "Too many reservations"), new certificates
  certificate_3221322 … certificate_3221324 (then "Too many certificates");
- booking checks each gift card or certificate entry against its balance on its own (one card
  listed twice may go negative), removes a used certificate whole and takes seats;
  cancelling refunds every payment (as negative amounts, none to a gift card) and frees no seats;
- a flight change keeps a listed segment at its booked price only if the cabin stays the same,
  prices the others at today's price, charges or refunds the difference through one method
  (a gift card's balance moves both ways; a certificate is refused) and never touches seats;
- a one-stop search moves to the next day with `f"2024-05-{day + 1}"` when the first leg arrives
  "+1", whatever the month.

Records are plain dicts in τ²'s `db.json` layout; `db.edit` is called before any write. Results
are what τ² returns, with None fields included (a reservation's `status`, a flight's `date`).
Structured arguments ignore unknown keys, as τ²'s models do. One deliberate difference: a
certificate listed twice in a booking makes τ² fail halfway (KeyError after taking payments); we
refuse with the same message but, like every refused call here, change nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from t2t import State, ToolCallError, tool
from t2t.domain.standard_tools import calculate, transfer_to_human_agents

from .data_model import Cabin, FlightInfo, Passenger, Payment

__all__ = [
    "book_reservation",
    "calculate",
    "cancel_reservation",
    "get_flight_status",
    "get_reservation_details",
    "get_user_details",
    "list_all_airports",
    "search_direct_flight",
    "search_onestop_flight",
    "send_certificate",
    "transfer_to_human_agents",
    "update_reservation_baggages",
    "update_reservation_flights",
    "update_reservation_passengers",
]

NOW = "2024-05-15T15:00:00"
NEW_RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
NEW_CERTIFICATE_IDS = tuple(f"certificate_{n}" for n in (3221322, 3221323, 3221324))
BAG_PRICE, INSURANCE_PRICE = 50, 30
AIRPORTS = [  # τ²'s fixed list, in its order: (IATA code, city)
    tuple(entry.split(":"))
    for entry in (
        "SFO:San Francisco,JFK:New York,LAX:Los Angeles,ORD:Chicago,DFW:Dallas,DEN:Denver,"
        "SEA:Seattle,ATL:Atlanta,MIA:Miami,BOS:Boston,PHX:Phoenix,IAH:Houston,LAS:Las Vegas,"
        "MCO:Orlando,EWR:Newark,CLT:Charlotte,MSP:Minneapolis,DTW:Detroit,PHL:Philadelphia,"
        "LGA:LaGuardia"
    ).split(",")
]


# ------------------------------------------------------------------------------------ lookups


def _user(db: State, user_id: str) -> dict[str, Any]:
    if user_id not in db["users"]:
        raise ToolCallError(f"User {user_id} not found")
    return db["users"][user_id]


def _reservation(db: State, reservation_id: str) -> dict[str, Any]:
    if reservation_id not in db["reservations"]:
        raise ToolCallError(f"Reservation {reservation_id} not found")
    return db["reservations"][reservation_id]


def _flight(db: State, flight_number: str) -> dict[str, Any]:
    if flight_number not in db["flights"]:
        raise ToolCallError(f"Flight {flight_number} not found")
    return db["flights"][flight_number]


def _flight_date(db: State, flight_number: str, date: str) -> dict[str, Any]:
    dates = _flight(db, flight_number)["dates"]
    if date not in dates:
        raise ToolCallError(f"Flight {flight_number} not found on date {date}")
    return dates[date]


def _bookable(db: State, info: FlightInfo, cabin: str, passengers: int) -> dict[str, Any]:
    """The flight's data on that date, if it is open for sale with seats for everyone."""
    data = _flight_date(db, info.flight_number, info.date)
    if data["status"] != "available":
        raise ToolCallError(f"Flight {info.flight_number} not available on date {info.date}")
    if data["available_seats"][cabin] < passengers:
        raise ToolCallError(f"Not enough seats on flight {info.flight_number}")
    return data


def _segment(db: State, info: FlightInfo, price: int) -> dict[str, Any]:
    flight = db["flights"][info.flight_number]
    return {
        "origin": flight["origin"],
        "destination": flight["destination"],
        "flight_number": info.flight_number,
        "date": info.date,
        "price": price,
    }


def _view(reservation: dict[str, Any]) -> dict[str, Any]:
    """A reservation as τ² shows it: `status` is always there (None while active)."""
    return reservation if "status" in reservation else {**reservation, "status": None}


def _charge_for_update(
    db: State, user_id: str, payment_id: str, amount: int
) -> dict[str, Any] | None:
    """Charge (or refund, if negative) one method for a change; the payment to record, if any."""
    methods = db["users"][user_id]["payment_methods"]
    if payment_id not in methods:
        raise ToolCallError("Payment method not found")
    method = methods[payment_id]
    if method["source"] == "certificate":
        raise ToolCallError("Certificate cannot be used to update reservation")
    if method["source"] == "gift_card":
        if method["amount"] < amount:
            raise ToolCallError("Gift card balance is not enough")
        card = db.edit("users", user_id)["payment_methods"][payment_id]
        card["amount"] = card["amount"] - amount
    return {"payment_id": payment_id, "amount": amount} if amount != 0 else None


# ---------------------------------------------------------------------------------------- reads


@tool(kind="read")
def get_reservation_details(db: State, reservation_id: str) -> dict[str, Any]:
    """Get the details of a reservation.

    Args:
        reservation_id: The reservation ID, such as '8JX2WO'.
    """
    return _view(_reservation(db, reservation_id))


@tool(kind="read")
def get_user_details(db: State, user_id: str) -> dict[str, Any]:
    """Get the details of a user, including their reservations.

    Args:
        user_id: The user ID, such as 'sara_doe_496'.
    """
    return _user(db, user_id)


@tool(kind="read")
def list_all_airports(db: State) -> list[dict[str, str]]:
    """Returns a list of all available airports."""
    return [{"iata": iata, "city": city} for iata, city in AIRPORTS]


def _direct_flights(
    db: State,
    date: str,
    origin: str | None = None,
    destination: str | None = None,
    leave_after: str | None = None,
) -> list[dict[str, Any]]:
    """Flights open for sale on `date`, as τ²'s DirectFlight records (string time comparison)."""
    found = []
    for flight in db["flights"].values():
        data = flight["dates"].get(date)
        if (
            (origin is None or flight["origin"] == origin)
            and (destination is None or flight["destination"] == destination)
            and data is not None
            and data["status"] == "available"
            and (leave_after is None or flight["scheduled_departure_time_est"] >= leave_after)
        ):
            found.append(
                {
                    "flight_number": flight["flight_number"],
                    "origin": flight["origin"],
                    "destination": flight["destination"],
                    "status": "available",
                    "scheduled_departure_time_est": flight["scheduled_departure_time_est"],
                    "scheduled_arrival_time_est": flight["scheduled_arrival_time_est"],
                    "date": None,
                    "available_seats": dict(data["available_seats"]),
                    "prices": dict(data["prices"]),
                }
            )
    return found


@tool(kind="read")
def search_direct_flight(
    db: State, origin: str, destination: str, date: str
) -> list[dict[str, Any]]:
    """Search for direct flights between two cities on a specific date.

    Args:
        origin: The origin city airport in three letters, such as 'JFK'.
        destination: The destination city airport in three letters, such as 'LAX'.
        date: The date of the flight in the format 'YYYY-MM-DD', such as '2024-01-01'.
    """
    return _direct_flights(db, date, origin=origin, destination=destination)


@tool(kind="read")
def search_onestop_flight(
    db: State, origin: str, destination: str, date: str
) -> list[list[dict[str, Any]]]:
    """Search for one-stop flights between two cities on a specific date.

    Args:
        origin: The origin city airport in three letters, such as 'JFK'.
        destination: The destination city airport in three letters, such as 'LAX'.
        date: The date of the flight in the format 'YYYY-MM-DD', such as '2024-05-01'.
    """
    pairs = []
    for first in _direct_flights(db, date, origin=origin):
        first["date"] = date
        arrival = first["scheduled_arrival_time_est"]
        try:
            next_date = f"2024-05-{int(date[-2:]) + 1}" if "+1" in arrival else date
        except ValueError as exc:  # a date key that does not end in a day number
            raise ToolCallError(str(exc)) from None
        for second in _direct_flights(
            db, next_date, origin=first["destination"], destination=destination, leave_after=arrival
        ):
            second["date"] = next_date
            pairs.append([first, second])
    return pairs


@tool(kind="read")
def get_flight_status(db: State, flight_number: str, date: str) -> str:
    """Get the status of a flight.

    Args:
        flight_number: The flight number.
        date: The date of the flight.
    """
    return _flight_date(db, flight_number, date)["status"]


# --------------------------------------------------------------------------------------- writes


@tool(kind="write")
def book_reservation(
    db: State,
    user_id: str,
    origin: str,
    destination: str,
    flight_type: Literal["round_trip", "one_way"],
    cabin: Cabin,
    flights: list[FlightInfo],
    passengers: list[Passenger],
    payment_methods: list[Payment],
    total_baggages: int,
    nonfree_baggages: int,
    insurance: Literal["yes", "no"],
) -> dict[str, Any]:
    """Book a reservation.

    Args:
        user_id: The ID of the user to book the reservation such as 'sara_doe_496'`.
        origin: The IATA code for the origin city such as 'SFO'.
        destination: The IATA code for the destination city such as 'JFK'.
        flight_type: The type of flight such as 'one_way' or 'round_trip'.
        cabin: The cabin class such as 'basic_economy', 'economy', or 'business'.
        flights: An array of objects containing details about each piece of flight.
        passengers: An array of objects containing details about each passenger.
        payment_methods: An array of objects containing details about each payment method.
        total_baggages: The total number of baggage items to book the reservation.
        nonfree_baggages: The number of non-free baggage items to book the reservation.
        insurance: Whether the reservation has insurance.
    """
    methods = _user(db, user_id)["payment_methods"]
    reservation_id = next((r for r in NEW_RESERVATION_IDS if r not in db["reservations"]), None)
    if reservation_id is None:
        raise ToolCallError("Too many reservations")
    count = len(passengers)
    segments, total_price = [], 0
    for info in flights:
        price = _bookable(db, info, cabin, count)["prices"][cabin]
        segments.append(_segment(db, info, price))
        total_price += price * count
    if insurance == "yes":
        total_price += INSURANCE_PRICE * count
    total_price += BAG_PRICE * nonfree_baggages
    for payment in payment_methods:
        if payment.payment_id not in methods:
            raise ToolCallError(f"Payment method {payment.payment_id} not found")
        method = methods[payment.payment_id]
        if method["source"] in ("gift_card", "certificate") and method["amount"] < payment.amount:
            raise ToolCallError(f"Not enough balance in payment method {payment.payment_id}")
    paid = sum(payment.amount for payment in payment_methods)
    if paid != total_price:
        raise ToolCallError(
            f"Payment amount does not add up, total price is {total_price}, but paid {paid}"
        )

    user = db.edit("users", user_id)
    for payment in payment_methods:
        if payment.payment_id not in user["payment_methods"]:  # a certificate listed twice
            raise ToolCallError(repr(payment.payment_id))
        method = user["payment_methods"][payment.payment_id]
        if method["source"] == "gift_card":
            method["amount"] = method["amount"] - payment.amount
        elif method["source"] == "certificate":
            del user["payment_methods"][payment.payment_id]
    for info in flights:
        seats = db.edit("flights", info.flight_number)["dates"][info.date]["available_seats"]
        seats[cabin] -= count
    reservation = {
        "reservation_id": reservation_id,
        "user_id": user_id,
        "origin": origin,
        "destination": destination,
        "flight_type": flight_type,
        "cabin": cabin,
        "flights": segments,
        "passengers": [p.model_dump() for p in passengers],
        "payment_history": [p.model_dump() for p in payment_methods],
        "created_at": NOW,
        "total_baggages": total_baggages,
        "nonfree_baggages": nonfree_baggages,
        "insurance": insurance,
    }
    db.insert("reservations", reservation_id, reservation)
    user["reservations"].append(reservation_id)
    return _view(reservation)


@tool(kind="write")
def cancel_reservation(db: State, reservation_id: str) -> dict[str, Any]:
    """Cancel the whole reservation.

    Args:
        reservation_id: The reservation ID, such as 'ZFA04Y'.
    """
    _reservation(db, reservation_id)
    reservation = db.edit("reservations", reservation_id)
    history = reservation["payment_history"]
    history.extend([{"payment_id": p["payment_id"], "amount": -p["amount"]} for p in history])
    reservation["status"] = "cancelled"
    return reservation


@tool(kind="write")
def send_certificate(db: State, user_id: str, amount: int) -> str:
    """Send a certificate to a user. Be careful!

    Args:
        user_id: The ID of the user to book the reservation, such as 'sara_doe_496'.
        amount: The amount of the certificate to send.
    """
    methods = _user(db, user_id)["payment_methods"]
    certificate_id = next((c for c in NEW_CERTIFICATE_IDS if c not in methods), None)
    if certificate_id is None:
        raise ToolCallError("Too many certificates")
    certificate = {"source": "certificate", "id": certificate_id, "amount": float(amount)}
    db.edit("users", user_id)["payment_methods"][certificate_id] = certificate
    return f"Certificate {certificate_id} added to user {user_id} with amount {amount}."


@tool(kind="write")
def update_reservation_baggages(
    db: State, reservation_id: str, total_baggages: int, nonfree_baggages: int, payment_id: str
) -> dict[str, Any]:
    """Update the baggage information of a reservation.

    Args:
        reservation_id: The reservation ID, such as 'ZFA04Y'
        total_baggages: The updated total number of baggage items included in the reservation.
        nonfree_baggages: The updated number of non-free baggage items included in the reservation.
        payment_id: The payment id stored in user profile, such as 'credit_card_7815826', 'gift_card_7815826', 'certificate_7815826'.
    """  # noqa: E501
    user_id = _reservation(db, reservation_id)["user_id"]
    _user(db, user_id)
    added = max(0, nonfree_baggages - db["reservations"][reservation_id]["nonfree_baggages"])
    payment = _charge_for_update(db, user_id, payment_id, BAG_PRICE * added)
    reservation = db.edit("reservations", reservation_id)
    if payment is not None:
        reservation["payment_history"].append(payment)
    reservation["total_baggages"] = total_baggages
    reservation["nonfree_baggages"] = nonfree_baggages
    return _view(reservation)


@tool(kind="write")
def update_reservation_flights(
    db: State, reservation_id: str, cabin: Cabin, flights: list[FlightInfo], payment_id: str
) -> dict[str, Any]:
    """Update the flight information of a reservation.

    Args:
        reservation_id: The reservation ID, such as 'ZFA04Y'.
        cabin: The cabin class of the reservation
        flights: An array of objects containing details about each piece of flight in the ENTIRE new reservation. Even if the a flight segment is not changed, it should still be included in the array.
        payment_id: The payment id stored in user profile, such as 'credit_card_7815826', 'gift_card_7815826', 'certificate_7815826'.
    """  # noqa: E501
    current = _reservation(db, reservation_id)
    user_id = current["user_id"]
    _user(db, user_id)
    count = len(current["passengers"])
    segments, total_price = [], 0
    for info in flights:
        kept = next(
            (
                dict(segment)
                for segment in current["flights"]
                if segment["flight_number"] == info.flight_number
                and segment["date"] == info.date
                and cabin == current["cabin"]
            ),
            None,
        )
        if kept is None:
            kept = _segment(db, info, _bookable(db, info, cabin, count)["prices"][cabin])
        segments.append(kept)
        total_price += kept["price"] * count
    total_price -= sum(segment["price"] for segment in current["flights"]) * count
    payment = _charge_for_update(db, user_id, payment_id, total_price)
    reservation = db.edit("reservations", reservation_id)
    if payment is not None:
        reservation["payment_history"].append(payment)
    reservation["flights"] = segments
    reservation["cabin"] = cabin
    return _view(reservation)


@tool(kind="write")
def update_reservation_passengers(
    db: State, reservation_id: str, passengers: list[Passenger]
) -> dict[str, Any]:
    """Update the passenger information of a reservation.

    Args:
        reservation_id: The reservation ID, such as 'ZFA04Y'.
        passengers: An array of objects containing details about each passenger.
    """
    if len(passengers) != len(_reservation(db, reservation_id)["passengers"]):
        raise ToolCallError("Number of passengers does not match")
    reservation = db.edit("reservations", reservation_id)
    reservation["passengers"] = [p.model_dump() for p in passengers]
    return _view(reservation)
