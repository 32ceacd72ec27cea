"""Seeded generator of airline databases in τ²-bench's ``db.json`` layout.

Airline is the paper's unseen domain, and its evaluation DB must not be the one tasks were mined
from, so we build one of any size from a seed. The output is plain JSON-able dicts in exactly τ²'s
layout and id formats, consistent with τ²'s fixed clock (2024-05-15T15:00:00 EST): dates before it
are landed or cancelled, today's flights are landed, flying, on time or delayed, later ones are
bookable with seats and prices per cabin. Reservations are priced as τ²'s ``book_reservation``
prices them. The result passes ``checks.check_db``; same seed and sizes → byte-identical
``json.dumps`` output.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
import re
import string
from typing import Any

from faker import Faker

__all__ = [
    "AIRPORTS",
    "EVAL_SEED",
    "FREE_BAGS_PER_PASSENGER",
    "NOW",
    "SCALES",
    "TRAIN_SEED",
    "generate_db",
]

# size presets for `t2t db generate --scale`: the paper uses τ²'s own airline DB size
SCALES = {
    "paper": {"n_flights": 300, "n_users": 500, "n_reservations": 2000},
    "tau2": {"n_flights": 300, "n_users": 500, "n_reservations": 2000},
    "small": {"n_flights": 30, "n_users": 40, "n_reservations": 120},
}
# training data comes from the TRAIN_SEED DB, evaluation tasks from the EVAL_SEED DB: never mix
TRAIN_SEED = 0
EVAL_SEED = 1

NOW = dt.datetime(2024, 5, 15, 15, 0)  # τ²'s airline tools answer "now" with this, always
# τ²'s `list_all_airports`, the only airports its tools know
# fmt: off
AIRPORTS = {
    "SFO": "San Francisco", "JFK": "New York", "LAX": "Los Angeles", "ORD": "Chicago",
    "DFW": "Dallas", "DEN": "Denver", "SEA": "Seattle", "ATL": "Atlanta", "MIA": "Miami",
    "BOS": "Boston", "PHX": "Phoenix", "IAH": "Houston", "LAS": "Las Vegas", "MCO": "Orlando",
    "EWR": "Newark", "CLT": "Charlotte", "MSP": "Minneapolis", "DTW": "Detroit",
    "PHL": "Philadelphia", "LGA": "LaGuardia",
}
# fmt: on
CABINS = ("basic_economy", "economy", "business")
# τ²'s policy: free checked bags per passenger, by the booking user's membership and the cabin
FREE_BAGS_PER_PASSENGER = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
_BAG_FEE, _INSURANCE_FEE = 50, 30  # per extra bag, per insured passenger (τ²'s booking)
_FIRST_DATE, _N_DATES = dt.date(2024, 5, 1), 30  # τ²'s flights fly 2024-05-01 … 2024-05-30
_PRICE_RANGE = {"basic_economy": (50, 100), "economy": (100, 200), "business": (200, 500)}
_MAX_SEATS = 20
_DURATIONS_MIN = tuple(range(60, 361, 30))  # one per airport pair, as in τ²
_ROUTE_PAIRS_PER_FLIGHT = 0.18  # τ²: 300 flights on 108 routes, most flown both ways
_CANCELLED_P = 0.09  # τ²: 9% of past flight-dates were cancelled
_DELAYED_P = 0.42  # τ²: 41 of today's 98 not-yet-departed flights are delayed
# τ²'s db.json: memberships, methods per user, method kinds, passengers, legs, bags
_MEMBERSHIP_WEIGHTS = {"silver": 182, "gold": 175, "regular": 143}
_N_METHODS_WEIGHTS = (80, 142, 111, 90, 41, 28, 8)  # 1..7 methods
_SOURCE_WEIGHTS = {"gift_card": 516, "credit_card": 503, "certificate": 467}
_CERTIFICATE_AMOUNTS = (100.0, 150.0, 250.0, 500.0)
_N_PASSENGERS_WEIGHTS = (920, 662, 323, 95)  # 1..4
_ROUND_TRIP_P = 0.52  # τ² has 48% round trips; a few find no way back and go one way
_ONE_STOP_P = 0.7  # τ²: 735 of 1045 one-way trips and 64% of round trips have stops
_SAME_SHAPE_BACK_P = 0.9
_BAGS_PER_PASSENGER_WEIGHTS = (62, 24, 10, 4)  # 0..3
_PAID_BAGS_P = 0.3  # share of over-allowance bag counts kept (and paid for), τ² has none
_SPLIT_PAYMENT_P = 0.1  # gift card + another method; τ²'s db.json pays each trip with one
# τ²'s tools mint these ids for new reservations and certificates: never pre-use them
_RESERVED_IDS = {"HATHAT", "HATHAU", "HATHAV", "3221322", "3221323", "3221324"}

Json = dict[str, Any]
Leg = tuple[Json, int]  # a flight and its day offset from the trip's first day
_DAY_MIN = 24 * 60


def _new_id(rng: random.Random, used: set[str], alphabet: str, length: int) -> str:
    """Draw a fresh id (no leading zero for numeric ids), unique across the whole DB."""
    while True:
        first = rng.choice(alphabet.lstrip("0"))
        value = first + "".join(rng.choices(alphabet, k=length - 1))
        if value not in used and value not in _RESERVED_IDS:
            used.add(value)
            return value


def _slug(text: str) -> str:
    """Lowercase ASCII letters only, so faker names never break ids or emails."""
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


def _clock(minutes: int) -> str:
    """Minutes after midnight as τ²'s 'HH:MM:SS', with '+1' when it falls on the next day."""
    days, minutes = divmod(minutes, _DAY_MIN)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00" + ("+1" if days else "")


def _stamp(day: dt.date, minutes: int) -> str:
    """An EST timestamp ``minutes`` after midnight of ``day`` (may roll into a neighbour day)."""
    moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    return moment.isoformat(timespec="seconds")


def _make_routes(rng: random.Random, n_flights: int) -> list[tuple[str, str]]:
    """Directed routes over a connected airport graph, each airport pair flown both ways."""
    codes = list(AIRPORTS)
    rng.shuffle(codes)
    n_pairs = max(1, min(round(n_flights * _ROUTE_PAIRS_PER_FLIGHT), len(codes) * 9))
    n_airports = min(len(codes), n_pairs + 1)
    pairs = [(codes[i], rng.choice(codes[:i])) for i in range(1, n_airports)]  # a spanning tree
    others = [
        p for p in itertools.combinations(codes, 2) if p not in pairs and p[::-1] not in pairs
    ]
    pairs += rng.sample(others, n_pairs - len(pairs))
    routes = [r for a, b in pairs for r in ((a, b), (b, a))]
    rng.shuffle(routes)
    return routes


def _flight_date(rng: random.Random, day: dt.date, dep_min: int, dur_min: int) -> Json:
    """One date's status as τ²'s clock sees it, with times jittered around the schedule."""
    if day > NOW.date():
        return {
            "status": "available",
            "available_seats": {c: rng.randint(0, _MAX_SEATS) for c in CABINS},
            "prices": {c: rng.randint(*_PRICE_RANGE[c]) for c in CABINS},
        }
    if day < NOW.date() and rng.random() < _CANCELLED_P:
        return {"status": "cancelled"}
    dep = dep_min + rng.randint(-30, 30)
    arr = dep + dur_min + rng.randint(-30, 30)
    now_min = (NOW - dt.datetime.combine(day, dt.time())) // dt.timedelta(minutes=1)
    if arr <= now_min:
        status = {"status": "landed", "actual_departure_time_est": _stamp(day, dep)}
        return status | {"actual_arrival_time_est": _stamp(day, arr)}
    if dep <= now_min:
        status = {"status": "flying", "actual_departure_time_est": _stamp(day, dep)}
        return status | {"estimated_arrival_time_est": _stamp(day, arr)}
    status = {"status": "on time"}
    if rng.random() < _DELAYED_P:
        status = {"status": "delayed"}
        dep = dep_min + rng.randint(30, 205)
        arr = dep + dur_min + rng.randint(-20, 20)
    return status | {
        "estimated_departure_time_est": _stamp(day, dep),
        "estimated_arrival_time_est": _stamp(day, arr),
    }


def _make_flights(rng: random.Random, n_flights: int) -> dict[str, Json]:
    """Flights HAT001… covering every route, each flying every day of τ²'s 30-day window."""
    routes = _make_routes(rng, n_flights)[:n_flights]
    routes += rng.choices(routes, k=n_flights - len(routes))
    rng.shuffle(routes)
    durations: dict[frozenset, int] = {}
    days = [_FIRST_DATE + dt.timedelta(days=i) for i in range(_N_DATES)]
    width = max(3, len(str(n_flights)))
    flights: dict[str, Json] = {}
    for index, (origin, destination) in enumerate(routes, start=1):
        pair = frozenset((origin, destination))
        duration = durations.setdefault(pair, rng.choice(_DURATIONS_MIN))
        dep_min = rng.randrange(24) * 60
        number = f"HAT{index:0{width}d}"
        flights[number] = {
            "origin": origin,
            "destination": destination,
            "flight_number": number,
            "scheduled_departure_time_est": _clock(dep_min),
            "scheduled_arrival_time_est": _clock(dep_min + duration),
            "dates": {d.isoformat(): _flight_date(rng, d, dep_min, duration) for d in days},
        }
    return flights


def _minutes(clock: str) -> int:
    """Inverse of ``_clock``."""
    hours, minutes, _ = clock.removesuffix("+1").split(":")
    return int(hours) * 60 + int(minutes) + (_DAY_MIN if clock.endswith("+1") else 0)


def _paths(flights: dict[str, Json]) -> dict[tuple[str, str], list[list[Leg]]]:
    """Direct and one-stop itineraries per (origin, destination), legs with day offsets.

    A connection leaves at least an hour after the first leg lands, on that leg's arrival day,
    as τ²'s ``search_onestop_flight`` pairs them.
    """
    by_origin: dict[str, list[Json]] = {}
    for flight in flights.values():
        by_origin.setdefault(flight["origin"], []).append(flight)
    paths: dict[tuple[str, str], list[list[Leg]]] = {}
    for first in flights.values():
        paths.setdefault((first["origin"], first["destination"]), []).append([(first, 0)])
        arrival = _minutes(first["scheduled_arrival_time_est"])
        offset, landed = divmod(arrival, _DAY_MIN)
        for second in by_origin.get(first["destination"], ()):
            stop_ok = second["destination"] != first["origin"]
            if stop_ok and _minutes(second["scheduled_departure_time_est"]) >= landed + 60:
                key = (first["origin"], second["destination"])
                paths.setdefault(key, []).append([(first, 0), (second, offset)])
    return paths


def _pick_path(rng: random.Random, options: list[list[Leg]], stop_p: float) -> list[Leg]:
    """A one-stop itinerary with probability ``stop_p`` when there is one, else a direct one."""
    direct = [p for p in options if len(p) == 1]
    stops = [p for p in options if len(p) == 2]
    return rng.choice(stops if stops and (not direct or rng.random() < stop_p) else direct)


def _timed(path: list[Leg], day: int) -> list[tuple[Json, int, int, int]]:
    """Legs as (flight, day index, departure, arrival) in minutes from the window's start."""
    legs = []
    for flight, offset in path:
        start = (day + offset) * _DAY_MIN
        dep = start + _minutes(flight["scheduled_departure_time_est"])
        arr = start + _minutes(flight["scheduled_arrival_time_est"])
        legs.append((flight, day + offset, dep, arr))
    return legs


def _itinerary(rng: random.Random, direct: list, stops: list, back: dict) -> tuple:
    """Origin, destination, timed legs and flight type of a trip; round trips may fall back.

    Args:
        direct: every direct itinerary, ``stops`` every one-stop one, ``back`` both by
            (origin, destination).
    """
    path = rng.choice(stops if stops and rng.random() < _ONE_STOP_P else direct)
    legs = _timed(path, rng.randint(0, _N_DATES - 1 - path[-1][1]))
    origin, destination = path[0][0]["origin"], path[-1][0]["destination"]
    options = back.get((destination, origin))
    if options and rng.random() < _ROUND_TRIP_P:
        # τ²'s returns mostly mirror the way out: direct both ways, or a stop both ways
        stop_p = _SAME_SHAPE_BACK_P if len(path) == 2 else 1 - _SAME_SHAPE_BACK_P
        for _ in range(8):
            back_path = _pick_path(rng, options, stop_p)
            day = legs[-1][1] + rng.randint(0, 8)
            if day + back_path[-1][1] >= _N_DATES:
                continue
            back_legs = _timed(back_path, day)
            if back_legs[0][2] >= legs[-1][3] + 180:  # leave at least 3 h after landing
                return origin, destination, legs + back_legs, "round_trip"
    return origin, destination, legs, "one_way"


def _dob(rng: random.Random) -> str:
    """A birth date in τ²'s range (1950–2000), drawn from ``rng`` so it never depends on today."""
    return (dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(18_628))).isoformat()


def _make_address(fake: Faker) -> Json:
    """A US address with a zip code that matches its state."""
    state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
    return {
        "address1": f"{fake.building_number()} {fake.street_name()}",
        "address2": fake.secondary_address(),
        "city": fake.city(),
        "country": "USA",
        "state": state,
        "zip": fake.zipcode_in_state(state),
    }


def _make_payment_methods(rng: random.Random, used: set[str]) -> dict[str, Json]:
    """1–7 credit cards, gift cards and travel certificates, in τ²'s proportions."""
    n = rng.choices(range(1, 8), weights=_N_METHODS_WEIGHTS)[0]
    sources = rng.choices(list(_SOURCE_WEIGHTS), weights=list(_SOURCE_WEIGHTS.values()), k=n)
    methods: dict[str, Json] = {}
    for source in sources:
        pm_id = f"{source}_{_new_id(rng, used, string.digits, 7)}"
        method: Json = {"source": source, "id": pm_id}
        if source == "credit_card":
            method["brand"] = rng.choice(("visa", "mastercard"))
            method["last_four"] = f"{rng.randrange(10_000):04d}"
        elif source == "gift_card":
            method["amount"] = float(rng.randint(0, 300))
        else:
            method["amount"] = rng.choice(_CERTIFICATE_AMOUNTS)
        methods[pm_id] = method
    return methods


def _person(fake: Faker, rng: random.Random) -> Json:
    return {"first_name": fake.first_name(), "last_name": fake.last_name(), "dob": _dob(rng)}


def _make_users(fake: Faker, rng: random.Random, n_users: int, used: set[str]) -> dict[str, Json]:
    """Users with unique ids and emails, 1–2 saved passengers and a membership level."""
    users: dict[str, Json] = {}
    levels, level_weights = list(_MEMBERSHIP_WEIGHTS), list(_MEMBERSHIP_WEIGHTS.values())
    for _ in range(n_users):
        first, last = fake.first_name(), fake.last_name()
        stem = f"{_slug(first)}_{_slug(last)}"
        user_id = f"{stem}_{_new_id(rng, used, string.digits, 4)}"
        while True:
            email = f"{_slug(first)}.{_slug(last)}{rng.randrange(1000, 10_000)}@example.com"
            if email not in used:
                used.add(email)
                break
        users[user_id] = {
            "user_id": user_id,
            "name": {"first_name": first, "last_name": last},
            "address": _make_address(fake),
            "email": email,
            "dob": _dob(rng),
            "payment_methods": _make_payment_methods(rng, used),
            "saved_passengers": [_person(fake, rng) for _ in range(rng.choice((1, 1, 2)))],
            "membership": rng.choices(levels, weights=level_weights)[0],
            "reservations": [],
        }
    return users


def _payers(rng: random.Random, users: dict[str, Json], used: set[str]) -> list[str]:
    """Users who can pay (τ²'s trips are paid by card or gift card); a card for one if none can."""
    payers = [
        uid
        for uid, user in users.items()
        if any(m["source"] != "certificate" for m in user["payment_methods"].values())
    ]
    if not payers:
        user = next(iter(users.values()))
        pm_id = f"credit_card_{_new_id(rng, used, string.digits, 7)}"
        user["payment_methods"][pm_id] = {
            "source": "credit_card",
            "id": pm_id,
            "brand": "visa",
            "last_four": f"{rng.randrange(10_000):04d}",
        }
        payers = [user["user_id"]]
    return payers


def _passengers(fake: Faker, rng: random.Random, user: Json) -> list[Json]:
    """Mostly the user first, then saved passengers or new people; nobody twice."""
    n = rng.choices(range(1, 5), weights=_N_PASSENGERS_WEIGHTS)[0]
    me = {**user["name"], "dob": user["dob"]}
    people = [me] if rng.random() < 0.8 else []
    names = {(p["first_name"], p["last_name"]) for p in people}
    saved = [p for p in user["saved_passengers"] if p != me]
    while len(people) < n:
        pick = saved.pop(rng.randrange(len(saved))) if saved and rng.random() < 0.4 else None
        person = dict(pick) if pick else _person(fake, rng)
        if (person["first_name"], person["last_name"]) not in names:
            names.add((person["first_name"], person["last_name"]))
            people.append(person)
    return people


def _payments(rng: random.Random, user: Json, total: int) -> list[Json]:
    """One payment, sometimes split between a gift card and another card (τ²'s limits hold)."""
    payable = [k for k, m in user["payment_methods"].items() if m["source"] != "certificate"]
    gift_cards = [k for k in payable if k.startswith("gift_card_")]
    if gift_cards and len(payable) > 1 and rng.random() < _SPLIT_PAYMENT_P:
        gift = rng.choice(gift_cards)
        other = rng.choice([k for k in payable if k != gift])
        part = rng.randint(1, total - 1)
        return [{"payment_id": gift, "amount": part}, {"payment_id": other, "amount": total - part}]
    return [{"payment_id": rng.choice(payable), "amount": total}]


def _booked_leg(rng: random.Random, flight: Json, day: int, cabin: str) -> Json:
    """A leg at the listed price when still bookable (half the time: prices move), else a fare."""
    date = (_FIRST_DATE + dt.timedelta(days=day)).isoformat()
    listed = flight["dates"][date].get("prices", {}).get(cabin)
    price = listed if listed and rng.random() < 0.5 else rng.randint(*_PRICE_RANGE[cabin])
    ends = {k: flight[k] for k in ("origin", "destination", "flight_number")}
    return {**ends, "date": date, "price": price}


def _make_reservations(
    fake: Faker, rng: random.Random, db: Json, n: int, used: set[str]
) -> dict[str, Json]:
    """Trips priced as τ²'s ``book_reservation`` prices them, booked before they depart."""
    users = db["users"]
    back = _paths(db["flights"])
    paths = [path for key in sorted(back) for path in back[key]]
    direct, stops = [p for p in paths if len(p) == 1], [p for p in paths if len(p) == 2]
    payers = _payers(rng, users, used)
    cum_weights = list(itertools.accumulate(rng.gammavariate(6.0, 1.0) for _ in payers))
    start = dt.datetime.combine(_FIRST_DATE, dt.time())
    reservations: dict[str, Json] = {}
    for _ in range(n):
        reservation_id = _new_id(rng, used, string.ascii_uppercase + string.digits, 6)
        pick = rng.random() * cum_weights[-1]
        user = users[payers[min(bisect.bisect(cum_weights, pick), len(payers) - 1)]]
        origin, destination, legs, flight_type = _itinerary(rng, direct, stops, back)
        cabin = rng.choice(CABINS)
        passengers = _passengers(fake, rng, user)
        n_pax = len(passengers)
        booked = [_booked_leg(rng, flight, day, cabin) for flight, day, _, _ in legs]
        allowance = FREE_BAGS_PER_PASSENGER[user["membership"]][cabin] * n_pax
        bags = sum(rng.choices(range(4), weights=_BAGS_PER_PASSENGER_WEIGHTS, k=n_pax))
        if bags > allowance and rng.random() >= _PAID_BAGS_P:
            bags = allowance
        nonfree = max(0, bags - allowance)
        insurance = rng.choice(("yes", "no"))
        total = sum(f["price"] for f in booked) * n_pax + _BAG_FEE * nonfree
        total += _INSURANCE_FEE * n_pax if insurance == "yes" else 0
        # booked up to four weeks ahead, at least an hour before departure, never after "now"
        first_dep = start + dt.timedelta(minutes=legs[0][2])
        latest = min(first_dep - dt.timedelta(hours=1), NOW.replace(hour=0))
        earliest = max(first_dep - dt.timedelta(days=28), start - dt.timedelta(days=1))
        span_s = int((latest - earliest).total_seconds())
        created = earliest + dt.timedelta(seconds=rng.randint(0, span_s))
        reservations[reservation_id] = {
            "reservation_id": reservation_id,
            "user_id": user["user_id"],
            "origin": origin,
            "destination": destination,
            "flight_type": flight_type,
            "cabin": cabin,
            "flights": booked,
            "passengers": passengers,
            "payment_history": _payments(rng, user, total),
            "created_at": created.isoformat(timespec="seconds"),
            "total_baggages": bags,
            "nonfree_baggages": nonfree,
            "insurance": insurance,
        }
        user["reservations"].append(reservation_id)
    return reservations


def generate_db(
    seed: int = 0, n_flights: int = 300, n_users: int = 500, n_reservations: int = 2000
) -> dict:
    """Build a consistent airline DB in τ²'s layout; same arguments → identical output.

    Args:
        seed: seeds both faker and a private ``random.Random`` (global state is untouched).
    """
    if n_flights < 1 or n_users < 1 or n_reservations < 0:
        raise ValueError("need n_flights >= 1, n_users >= 1 and n_reservations >= 0")
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    used: set[str] = set()
    db: Json = {"flights": _make_flights(rng, n_flights), "users": {}, "reservations": {}}
    db["users"] = _make_users(fake, rng, n_users, used)
    db["reservations"] = _make_reservations(fake, rng, db, n_reservations, used)
    return db
