"""The retail `db.json` layout (τ²-bench's), used to validate a database file before loading it.

The environment itself keeps the plain dicts; these models only check shape and types so a
malformed file is reported by field (`orders.#W0000001.status: ...`) instead of failing later.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["DB"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Record):
    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(_Record):
    name: str
    product_id: str
    variants: dict[str, Variant]


class UserName(_Record):
    first_name: str
    last_name: str


class Address(_Record):
    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class PaymentMethod(_Record):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: str
    brand: str | None = None
    last_four: str | None = None
    balance: float | None = None


class User(_Record):
    user_id: str
    name: UserName
    address: Address
    email: str
    payment_methods: dict[str, PaymentMethod]
    orders: list[str]


class Fulfillment(_Record):
    tracking_id: list[str]
    item_ids: list[str]


class OrderItem(_Record):
    name: str
    product_id: str
    item_id: str
    price: float
    options: dict[str, str]


class Payment(_Record):
    transaction_type: Literal["payment", "refund"]
    amount: float
    payment_method_id: str


class Order(_Record):
    order_id: str
    user_id: str
    address: Address
    items: list[OrderItem]
    status: Literal[
        "processed",
        "pending",
        "pending (item modified)",
        "delivered",
        "cancelled",
        "exchange requested",
        "return requested",
    ]
    fulfillments: list[Fulfillment]
    payment_history: list[Payment]
    cancel_reason: Literal["no longer needed", "ordered by mistake"] | None = None
    exchange_items: list[str] | None = None
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None
    return_items: list[str] | None = None
    return_payment_method_id: str | None = None


class DB(_Record):
    products: dict[str, Product]
    users: dict[str, User]
    orders: dict[str, Order]
