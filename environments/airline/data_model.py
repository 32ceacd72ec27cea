"""The airline `db.json` layout (τ²-bench's), and the structured arguments of its tools.

The environment keeps the plain dicts; these models only check shape and types, so a malformed
file is reported by field (`reservations.4WQ150.cabin: ...`) instead of failing inside a tool.
A flight's status on a date decides which fields that date carries (`status` discriminates), and
a payment method's `source` decides its fields.

The argument models (`FlightInfo`, `Passenger`, `Payment`) carry τ²'s names, fields and field
descriptions, so the tool schemas match τ²'s; unlike the records they ignore unknown keys, as τ²'s
do.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DB", "Cabin", "FlightInfo", "Passenger", "Payment"]

Cabin = Literal["business", "economy", "basic_economy"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------- flights


class Available(_Record):
    status: Literal["available"]
    available_seats: dict[Cabin, int]
    prices: dict[Cabin, int]


class Landed(_Record):
    status: Literal["landed"]
    actual_departure_time_est: str
    actual_arrival_time_est: str


class Cancelled(_Record):
    status: Literal["cancelled"]


class Delayed(_Record):
    status: Literal["delayed"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


class OnTime(_Record):
    status: Literal["on time"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


class Flying(_Record):
    status: Literal["flying"]
    actual_departure_time_est: str
    estimated_arrival_time_est: str


FlightDate = Annotated[
    Available | Landed | Cancelled | Delayed | OnTime | Flying, Field(discriminator="status")
]


class Flight(_Record):
    flight_number: str
    origin: str
    destination: str
    scheduled_departure_time_est: str  # "HH:MM:SS", arrival may end in "+1" (next day)
    scheduled_arrival_time_est: str
    dates: dict[str, FlightDate]


# --------------------------------------------------------------------------------------- users


class Name(_Record):
    first_name: str
    last_name: str


class Address(_Record):
    address1: str
    address2: str | None = None
    city: str
    country: str
    state: str
    zip: str


class CreditCard(_Record):
    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class GiftCard(_Record):
    source: Literal["gift_card"]
    id: str
    amount: float


class Certificate(_Record):
    source: Literal["certificate"]
    id: str
    amount: float


PaymentMethod = Annotated[CreditCard | GiftCard | Certificate, Field(discriminator="source")]


class PassengerRecord(_Record):
    first_name: str
    last_name: str
    dob: str


class User(_Record):
    user_id: str
    name: Name
    address: Address
    email: str
    dob: str
    payment_methods: dict[str, PaymentMethod]
    saved_passengers: list[PassengerRecord]
    membership: Literal["gold", "silver", "regular"]
    reservations: list[str]


# -------------------------------------------------------------------------------- reservations


class ReservationFlight(_Record):
    flight_number: str
    origin: str
    destination: str
    date: str
    price: int


class PaymentRecord(_Record):
    payment_id: str
    amount: int  # negative for a refund


class Reservation(_Record):
    reservation_id: str
    user_id: str
    origin: str
    destination: str
    flight_type: Literal["round_trip", "one_way"]
    cabin: Cabin
    flights: list[ReservationFlight]
    passengers: list[PassengerRecord]
    payment_history: list[PaymentRecord]
    created_at: str  # "YYYY-MM-DDTHH:MM:SS"
    total_baggages: int
    nonfree_baggages: int
    insurance: Literal["yes", "no"]
    status: Literal["cancelled"] | None = None


class DB(_Record):
    flights: dict[str, Flight]
    users: dict[str, User]
    reservations: dict[str, Reservation]


# ---------------------------------------------------------------------------- tool arguments


class FlightInfo(BaseModel):
    """One flight segment, by number and date."""

    flight_number: str = Field(description="Flight number, such as 'HAT001'.")
    date: str = Field(
        description="The date for the flight in the format 'YYYY-MM-DD', such as '2024-05-01'."
    )


class Passenger(BaseModel):
    """A traveller on a reservation."""

    first_name: str = Field(description="Passenger's first name")
    last_name: str = Field(description="Passenger's last name")
    dob: str = Field(description="Date of birth in YYYY-MM-DD format")


class Payment(BaseModel):
    """An amount paid with one payment method of the user's profile."""

    payment_id: str = Field(description="Unique identifier for the payment")
    amount: int = Field(description="Payment amount in dollars")
