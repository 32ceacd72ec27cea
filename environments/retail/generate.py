"""Seeded generator of retail databases in τ²-bench's ``db.json`` layout.

The paper trains on a fresh retail DB (190 products, 490 users, 2,000 orders) that must not
overlap the DB used for evaluation, so we build one of any size from a seed. The output is plain
JSON-able dicts in exactly τ²'s layout (no ``None``-valued keys, as in τ²'s own ``db.json``), and
it passes ``checks.check_db``. Same seed, same sizes → byte-identical ``json.dumps`` output.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from typing import Any

from faker import Faker

__all__ = [
    "CANCEL_REASONS",
    "EVAL_SEED",
    "ORDER_STATUS_WEIGHTS",
    "SCALES",
    "TRAIN_SEED",
    "generate_db",
    "product_types",
]

# size presets for `t2t db generate --scale`: the paper's training DB, τ²'s own DB size, a tiny one
SCALES = {
    "paper": {"n_products": 190, "n_users": 490, "n_orders": 2000},
    "tau2": {"n_products": 50, "n_users": 500, "n_orders": 1000},
    "small": {"n_products": 20, "n_users": 40, "n_orders": 120},
}
# training data comes from the TRAIN_SEED DB, evaluation tasks from the EVAL_SEED DB: never mix
TRAIN_SEED = 0
EVAL_SEED = 1

# one product type per entry, "name | typical price in USD | option: values | ..."; a line
# indented by two spaces continues the entry above
_CATALOGUE = """
T-Shirt | 50 | color: black, white, blue, red, green | size: S, M, L, XL, XXL
  material: cotton, polyester, linen | style: crew neck, v-neck
Laptop | 1800 | screen size: 13-inch, 14-inch, 15-inch, 16-inch | processor: i5, i7, i9, Ryzen 7
  ram: 8GB, 16GB, 32GB | storage: 256GB SSD, 512GB SSD, 1TB SSD | color: silver, space grey, black
Smartphone | 900 | color: black, white, blue, rose gold | storage: 64GB, 128GB, 256GB
  RAM: 4GB, 6GB, 8GB | screen size: 5.8-inch, 6.1-inch, 6.7-inch
Running Shoes | 140 | size: 7, 8, 9, 10, 11, 12 | color: black, white, red, yellow
  material: mesh, synthetic, leather | sole: rubber, EVA
Backpack | 120 | color: black, grey, navy, green | size: small, medium, large
  material: nylon, polyester, canvas, leather | compartment: laptop, hydration, camera
Coffee Maker | 180 | color: black, white, stainless steel
  capacity: 1 cup, 4 cups, 8 cups, 12 cups | type: drip, espresso, french press, pour-over
  features: timer, auto shutoff, built-in grinder
Water Bottle | 30 | capacity: 500ml, 750ml, 1000ml | material: stainless steel, glass, plastic
  color: black, blue, green, red
Desk Lamp | 60 | color: black, white, silver | brightness: low, medium, high
  power source: USB, AC adapter, battery
Notebook | 15 | size: A4, A5, A6 | cover type: hard cover, soft cover | paper: lined, dotted, blank
Sunglasses | 150 | frame color: black, brown, silver | lens color: black, brown, green, blue
  lens type: polarized, non-polarized | frame material: metal, plastic, acetate
Wristwatch | 400 | strap material: leather, metal, silicone | dial color: black, white, blue, green
  movement: quartz, automatic
Electric Toothbrush | 90 | color: black, white, blue | speed settings: low, high
  battery type: rechargeable, AA batteries
Yoga Mat | 45 | thickness: 4mm, 5mm, 6mm, 8mm | material: PVC, TPE, natural rubber, cork
  color: blue, green, pink, purple
Bluetooth Speaker | 120 | color: black, blue, red, green
  battery life: 10 hours, 20 hours, 30 hours | water resistance: yes, no
Gaming Mouse | 70 | color: black, white, RGB | sensor type: optical, laser
  connectivity: wired, wireless
Action Camera | 350 | resolution: 1080p, 4K, 5K | waterproof: yes, no | color: black, silver
Garden Hose | 45 | length: 25ft, 50ft, 100ft | material: rubber, vinyl, latex
  color: green, blue, black
Hiking Boots | 180 | size: 7, 8, 9, 10, 11, 12 | material: leather, synthetic | waterproof: yes, no
Tablet | 600 | screen size: 8-inch, 10-inch, 11-inch, 13-inch | storage: 64GB, 128GB, 256GB
  color: black, silver, gold | connectivity: Wi-Fi, Wi-Fi + Cellular
E-Reader | 150 | screen size: 6-inch, 7-inch, 8-inch | connectivity: Wi-Fi, Wi-Fi + Cellular
  storage: 8GB, 16GB, 32GB
Portable Charger | 50 | capacity: 5000mAh, 10000mAh, 20000mAh | output: USB-A, USB-C, wireless
  color: black, white, blue
Security Camera | 120 | resolution: 1080p, 2K, 4K
  field of view: 110 degrees, 130 degrees, 160 degrees | connectivity: Wi-Fi, Ethernet
  placement: indoor, outdoor
Electric Kettle | 60 | capacity: 1L, 1.5L, 1.7L | material: glass, plastic, stainless steel
  color: black, white, silver
Mechanical Keyboard | 130 | switch type: linear, tactile, clicky | backlight: none, white, RGB
  size: 60%, 75%, full size | layout: US, UK
Wireless Earbuds | 140 | color: black, white, blue | battery life: 4 hours, 6 hours, 8 hours
  water resistance: IPX4, IPX7, not resistant
Smart Thermostat | 200 | compatibility: Google Assistant, Amazon Alexa, Apple HomeKit
  color: white, black, stainless steel
Fleece Jacket | 90 | size: XS, S, M, L, XL | color: black, navy, red, grey | zipper: full, half
Wall Clock | 40 | diameter: 10 inches, 12 inches, 14 inches | color: black, white, wood
  type: analog, digital
Dumbbell Set | 250 | weight range: 5-25 lbs, 30-50 lbs, 55-75 lbs
  material: iron, rubber, urethane | set type: fixed, adjustable
Pet Bed | 70 | size: small, medium, large | material: memory foam, polyester, fleece
  color: beige, grey, brown
Espresso Machine | 700 | pressure: 9 bar, 15 bar, 19 bar | capacity: 1L, 1.5L, 2L
  type: manual, automatic, capsule
Cycling Helmet | 90 | size: S, M, L | color: black, white, red, blue
  ventilation: low, medium, high
LED Light Bulb | 15 | brightness: 60W equivalent, 75W equivalent, 100W equivalent
  color temperature: warm white, daylight | connectivity: none, Wi-Fi, Bluetooth
Digital Camera | 1200 | resolution: 20MP, 24MP, 30MP, 45MP | zoom: 3x, 5x, 10x
  storage: SD card, CFexpress card
Bookshelf | 250 | material: wood, metal, glass | color: white, black, brown, oak
  height: 3 ft, 4 ft, 5 ft, 6 ft
Bicycle | 900 | frame size: small, medium, large | color: black, blue, red, green
  type: road, mountain, hybrid, gravel
Sneakers | 110 | size: 6, 7, 8, 9, 10, 11 | color: black, white, grey, red
  material: canvas, leather, synthetic
Office Chair | 300 | material: mesh, fabric, leather | color: black, grey, blue, red
  armrest: fixed, adjustable, none | backrest height: standard, high-back
Smart Watch | 300 | color: black, silver, gold | band material: silicone, leather, metal
  display: LCD, AMOLED | case size: 40mm, 44mm
Tea Kettle | 45 | material: stainless steel, glass, ceramic
  capacity: 1 liter, 1.5 liters, 2 liters | stovetop compatibility: gas, electric, induction
Luggage Set | 300 | piece count: 2-piece, 3-piece, 4-piece | color: black, blue, red, silver
  material: hardshell, softshell
Patio Umbrella | 150 | size: 6 ft, 7 ft, 9 ft | color: black, blue, green, red
  material: polyester, olefin, sunbrella | tilt mechanism: manual tilt, auto tilt
Air Purifier | 250 | room size: small, medium, large | filter type: HEPA, carbon, ionic
  features: quiet operation, night mode, smart sensors
Makeup Kit | 80 | skin tone: light, medium, dark | kit size: basic, professional
  finish: matte, dewy, natural
Skateboard | 90 | deck material: maple, bamboo, plastic | length: 28 inch, 31 inch, 34 inch
  design: plain, graphic, custom
Jigsaw Puzzle | 25 | pieces: 500, 1000, 1500, 2000 | theme: animals, landscape, art, fantasy
  difficulty level: beginner, intermediate, expert
Grill | 450 | type: gas, charcoal, electric, pellet | size: portable, medium, large
  features: none, side burner, rotisserie
Headphones | 200 | type: in-ear, on-ear, over-ear | connectivity: wired, wireless
  color: black, white, blue, red | noise cancelling: yes, no
Vacuum Cleaner | 300 | type: upright, canister, robotic, stick | bagged/bagless: bagged, bagless
  features: cordless, HEPA filter, pet hair removal
Perfume | 90 | scent family: woody, fresh, floral, oriental | size: 30ml, 50ml, 100ml
  gender: men, women, unisex
Blender | 90 | capacity: 1L, 1.5L, 2L | power: 500W, 1000W, 1500W | color: black, white, red
Cookware Set | 200 | piece count: 5-piece, 8-piece, 10-piece, 12-piece
  material: stainless steel, cast iron, nonstick aluminum | color: black, silver, red
Tent | 220 | capacity: 2-person, 4-person, 6-person | season: 3-season, 4-season
  color: green, orange, grey
Sleeping Bag | 90 | temperature rating: 20 degrees, 35 degrees, 50 degrees
  shape: mummy, rectangular | fill: down, synthetic
Monitor | 300 | screen size: 24-inch, 27-inch, 32-inch | resolution: 1080p, 1440p, 4K
  refresh rate: 60Hz, 144Hz, 165Hz
Wi-Fi Router | 120 | standard: Wi-Fi 5, Wi-Fi 6, Wi-Fi 6E | bands: dual-band, tri-band
  coverage: 1500 sq ft, 3000 sq ft, 5000 sq ft
Drone | 700 | camera: 2.7K, 4K, 6K | flight time: 20 minutes, 30 minutes, 40 minutes
  color: grey, white, black
Board Game | 40 | players: 2-4, 2-6, 3-8 | genre: strategy, party, cooperative
  edition: standard, deluxe
Winter Coat | 180 | size: S, M, L, XL | color: black, navy, olive, camel | fill: down, synthetic
  length: hip, knee
Rain Jacket | 100 | size: S, M, L, XL | color: yellow, navy, black, green | hood: fixed, packable
"""

ProductType = tuple[str, float, dict[str, tuple[str, ...]]]


@functools.cache
def product_types() -> tuple[ProductType, ...]:
    """Parse the catalogue once, on first use (no work at import)."""
    entries: list[str] = []
    for line in _CATALOGUE.splitlines():
        if line.startswith("  "):
            entries[-1] += " | " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    types = []
    for entry in entries:
        name, price, *dims = (part.strip() for part in entry.split("|"))
        options = {}
        for dim in dims:
            key, values = dim.split(":")
            options[key.strip()] = tuple(v.strip() for v in values.split(","))
        types.append((name, float(price), options))
    return tuple(types)


# qualifiers that make names unique once every product type is used
_BRANDS = (
    "Northpeak Brightline Aurora Summit Everly Crestwood Lumen Harbor Ironwood Vantage".split()
)

# τ²'s db.json has pending 42%, delivered 37%, processed 10%, cancelled 10%; we add the states
# its write tools produce so tasks can start from them
ORDER_STATUS_WEIGHTS: dict[str, float] = {
    "pending": 38,
    "delivered": 33,
    "processed": 10,
    "cancelled": 10,
    "pending (item modified)": 3,
    "exchange requested": 3,
    "return requested": 3,
}
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
_N_PAYMENT_METHODS_WEIGHTS = (55, 30, 10, 5)  # 1..4 methods
_OTHER_ADDRESS_P = 0.15  # τ²: 20% of orders ship elsewhere than the user's current address
_AVAILABLE_P = 0.65  # τ²: 379 of 591 variants available

Json = dict[str, Any]


def _new_id(rng: random.Random, used: set[str], digits: int, prefix: str = "") -> str:
    """Draw a fresh numeric id (no leading zero) so ids stay unique across the whole DB."""
    while True:
        value = f"{prefix}{rng.randrange(10 ** (digits - 1), 10**digits)}"
        if value not in used:
            used.add(value)
            return value


def _slug(text: str) -> str:
    """Lowercase ASCII letters only, so faker names never break ids or emails."""
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


def _product_name(type_index: int, lap: int) -> str:
    """Plain type names first, then brand-qualified (and numbered) names: always unique."""
    name = product_types()[type_index][0]
    if lap == 0:
        return name
    brand_lap, brand = divmod(lap - 1, len(_BRANDS))
    suffix = f" {brand_lap + 1}" if brand_lap else ""
    return f"{_BRANDS[(brand + type_index) % len(_BRANDS)]} {name}{suffix}"


def _make_products(rng: random.Random, n_products: int, used: set[str]) -> dict[str, Json]:
    """Catalogue: 5–20 distinct option combinations per product, about a third unavailable."""
    order = list(range(len(product_types())))
    products: dict[str, Json] = {}
    for index in range(n_products):
        if index % len(order) == 0:
            rng.shuffle(order)
        type_index = order[index % len(order)]
        _, base_price, dims = product_types()[type_index]
        lap = index // len(order)
        name = _product_name(type_index, lap)
        factor = 1.0 if lap == 0 else rng.uniform(0.75, 1.3)
        combos = list(itertools.product(*dims.values()))
        chosen = rng.sample(combos, min(rng.randint(5, 20), len(combos)))
        variants: dict[str, Json] = {}
        for combo in chosen:
            item_id = _new_id(rng, used, 10)
            variants[item_id] = {
                "item_id": item_id,
                "options": dict(zip(dims, combo, strict=True)),
                "available": rng.random() < _AVAILABLE_P,
                "price": round(base_price * factor * rng.uniform(0.9, 1.12), 2),
            }
        product_id = _new_id(rng, used, 10)
        products[product_id] = {"name": name, "product_id": product_id, "variants": variants}
    return products


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
    """1–4 methods, at least one card or PayPal; at most one PayPal and one gift card."""
    n = rng.choices((1, 2, 3, 4), weights=_N_PAYMENT_METHODS_WEIGHTS)[0]
    sources = [rng.choice(("credit_card", "paypal"))]
    pool = ["credit_card", "credit_card", "paypal", "gift_card"]
    pool.remove(sources[0])
    sources += rng.sample(pool, n - 1)
    rng.shuffle(sources)
    methods: dict[str, Json] = {}
    for source in sources:
        pm_id = _new_id(rng, used, 7, prefix=f"{source}_")
        method: Json = {"source": source, "id": pm_id}
        if source == "credit_card":
            method["brand"] = rng.choice(("visa", "mastercard"))
            method["last_four"] = f"{rng.randrange(10_000):04d}"
        elif source == "gift_card":
            method["balance"] = float(rng.randint(0, 100))
        methods[pm_id] = method
    return methods


def _make_users(fake: Faker, rng: random.Random, n_users: int, used: set[str]) -> dict[str, Json]:
    """Users with unique ids and emails and unique (first, last, zip) for authentication."""
    users: dict[str, Json] = {}
    seen_identity: set[tuple[str, str, str]] = set()
    while len(users) < n_users:
        first, last = fake.first_name(), fake.last_name()
        address = _make_address(fake)
        identity = (first, last, address["zip"])
        if identity in seen_identity:
            continue
        seen_identity.add(identity)
        stem = f"{_slug(first)}_{_slug(last)}"
        user_id = _new_id(rng, used, 4, prefix=f"{stem}_")
        email = _new_id(rng, used, 4, prefix=f"{_slug(first)}.{_slug(last)}") + "@example.com"
        users[user_id] = {
            "user_id": user_id,
            "name": {"first_name": first, "last_name": last},
            "address": address,
            "email": email,
            "payment_methods": _make_payment_methods(rng, used),
            "orders": [],
        }
    return users


def _order_item(product: Json, variant: Json) -> Json:
    """An order line copied from the catalogue (own dict, so edits never alias the variant)."""
    return {
        "name": product["name"],
        "product_id": product["product_id"],
        "item_id": variant["item_id"],
        "price": variant["price"],
        "options": dict(variant["options"]),
    }


def _swap_items(rng: random.Random, products: dict[str, Json], items: list[Json]) -> list[tuple]:
    """Lines that can move to another available variant (as τ² requires), with the new variant."""
    candidates = []
    for index, item in enumerate(items):
        variants = products[item["product_id"]]["variants"].values()
        others = [v for v in variants if v["available"] and v["item_id"] != item["item_id"]]
        if others:
            candidates.append((index, others))
    if not candidates:
        return []
    picked = rng.sample(candidates, rng.randint(1, len(candidates)))
    return sorted((index, rng.choice(others)) for index, others in picked)


def _pay_difference(rng: random.Random, user: Json, diff: float) -> str:
    """A method that can cover ``diff`` (τ² refuses a gift card short of it); updates balances."""
    methods = user["payment_methods"]
    able = [k for k, m in methods.items() if m["source"] != "gift_card" or m["balance"] >= diff]
    method_id = rng.choice(able)
    if methods[method_id]["source"] == "gift_card":
        methods[method_id]["balance"] = round(methods[method_id]["balance"] - diff, 2)
    return method_id


def _apply_status(
    order: Json, status: str, rng: random.Random, products: dict[str, Json], user: Json
) -> None:
    """Fill fulfillments, payments and status-specific fields as τ²'s write tools leave them."""
    items, methods = order["items"], user["payment_methods"]
    paid_with = order["payment_history"][0]["payment_method_id"]
    swaps = _swap_items(rng, products, items) if status in _SWAP_STATUSES else []
    if status in _SWAP_STATUSES and not swaps:
        status = "pending" if status == "pending (item modified)" else "delivered"
    order["status"] = status
    if status == "cancelled":
        amount = order["payment_history"][0]["amount"]
        order["payment_history"].append(
            {"transaction_type": "refund", "amount": amount, "payment_method_id": paid_with}
        )
        order["cancel_reason"] = rng.choice(CANCEL_REASONS)
        if methods[paid_with]["source"] == "gift_card":  # τ² refunds gift cards at once
            methods[paid_with]["balance"] = round(methods[paid_with]["balance"] + amount, 2)
    elif status == "pending (item modified)":
        diff = round(sum(v["price"] - items[i]["price"] for i, v in swaps), 2)
        kind = "payment" if diff > 0 else "refund"
        method_id = _pay_difference(rng, user, diff)
        order["payment_history"].append(
            {"transaction_type": kind, "amount": abs(diff), "payment_method_id": method_id}
        )
        for i, variant in swaps:
            items[i] = _order_item(products[items[i]["product_id"]], variant)
    elif status == "exchange requested":
        diff = round(sum(v["price"] - items[i]["price"] for i, v in swaps), 2)
        order["exchange_items"] = sorted(items[i]["item_id"] for i, _ in swaps)
        order["exchange_new_items"] = sorted(v["item_id"] for _, v in swaps)
        order["exchange_payment_method_id"] = rng.choice(
            [k for k, m in methods.items() if m["source"] != "gift_card" or m["balance"] >= diff]
        )
        order["exchange_price_difference"] = diff
    elif status == "return requested":
        returned = rng.sample(items, rng.randint(1, len(items)))
        gift_cards = [k for k, m in methods.items() if m["source"] == "gift_card"]
        refund_to = rng.choice(gift_cards) if gift_cards and rng.random() < 0.3 else paid_with
        order["return_items"] = sorted(it["item_id"] for it in returned)
        order["return_payment_method_id"] = refund_to


_SWAP_STATUSES = ("pending (item modified)", "exchange requested")


def _make_orders(
    fake: Faker, rng: random.Random, products: dict[str, Json], users: dict[str, Json], n: int
) -> dict[str, Json]:
    """Orders of 1–5 lines spread over users; each user's list names exactly their orders."""
    product_list = list(products.values())
    user_ids = list(users)
    statuses, weights = list(ORDER_STATUS_WEIGHTS), list(ORDER_STATUS_WEIGHTS.values())
    order_used: set[str] = set()
    tracking_used: set[str] = set()
    shipped = ("processed", "delivered", "exchange requested", "return requested")
    orders: dict[str, Json] = {}
    for _ in range(n):
        order_id = _new_id(rng, order_used, 7, prefix="#W")
        user = users[rng.choice(user_ids)]
        address = dict(user["address"])
        if rng.random() < _OTHER_ADDRESS_P:
            address = _make_address(fake)
        items = []
        for _ in range(rng.randint(1, 5)):
            product = rng.choice(product_list)
            variant = rng.choice(list(product["variants"].values()))
            items.append(_order_item(product, variant))
        payment = {
            "transaction_type": "payment",
            "amount": round(sum(it["price"] for it in items), 2),
            "payment_method_id": rng.choice(list(user["payment_methods"])),
        }
        order: Json = {
            "order_id": order_id,
            "user_id": user["user_id"],
            "address": address,
            "items": items,
            "status": "pending",
            "fulfillments": [],
            "payment_history": [payment],
        }
        status = rng.choices(statuses, weights=weights)[0]
        _apply_status(order, status, rng, products, user)
        if order["status"] in shipped:
            item_ids = [it["item_id"] for it in items]
            tracking = [_new_id(rng, tracking_used, 12)]
            order["fulfillments"] = [{"tracking_id": tracking, "item_ids": item_ids}]
        orders[order_id] = order
        user["orders"].append(order_id)
    return orders


def generate_db(
    seed: int = 0, n_products: int = 190, n_users: int = 490, n_orders: int = 2000
) -> dict:
    """Build a consistent retail DB in τ²'s layout; same arguments → identical output.

    Args:
        seed: seeds both faker and a private ``random.Random`` (global state is untouched).
    """
    if n_products < 1 or n_users < 1 or n_orders < 0:
        raise ValueError("need n_products >= 1, n_users >= 1 and n_orders >= 0")
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    used: set[str] = set()
    products = _make_products(rng, n_products, used)
    users = _make_users(fake, rng, n_users, used)
    orders = _make_orders(fake, rng, products, users, n_orders)
    return {"products": products, "users": users, "orders": orders}
