"""How retail customers ask: what they want done, why, and how they name orders, items, cards.

Order numbers are quoted, as τ²-bench's customers do; items are named by product, a replacement
by the options that change; cards by brand and last four digits. Read by `t2t.tasks` (see
README, "Bring your own domain").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t2t.tasks import Mention, listing, option_phrase, payment_method, the_one_with

ASKS = {
    "cancel_pending_order": (
        "cancel {order_id}",
        "have {order_id} cancelled",
        "cancel {order_id} before it ships",
    ),
    "modify_pending_order_address": (
        "have {order_id} shipped to {address} instead",
        "change the shipping address of {order_id} to {address}",
    ),
    "modify_pending_order_items": (
        "change {item_ids} in {order_id} to {new_item_ids}, settling any price difference "
        "with {payment_method_id}",
        "swap {item_ids} in {order_id} for {new_item_ids} before it ships, using "
        "{payment_method_id} for any difference",
    ),
    "modify_pending_order_payment": (
        "pay for {order_id} with {payment_method_id} instead",
        "switch the payment of {order_id} to {payment_method_id}",
    ),
    "modify_user_address": (
        "update your default address to {address}",
        "change the address on your account to {address}",
    ),
    "return_delivered_order_items": (
        "return {item_ids} from {order_id}, with the refund going to {payment_method_id}",
        "send back {item_ids} from {order_id} and get the money back on {payment_method_id}",
    ),
    "exchange_delivered_order_items": (
        "exchange {item_ids} from {order_id} for {new_item_ids}, settling any price difference "
        "with {payment_method_id}",
        "swap {item_ids} you received in {order_id} for {new_item_ids}, using "
        "{payment_method_id} for any difference",
    ),
}


def _for_items(
    mentions: Mapping[str, Mention], one: Sequence[str], several: Sequence[str]
) -> Sequence[str]:
    """The motive in the number of the items the request names."""
    items = next(iter(mentions.values())).request.get("item_ids") if mentions else None
    return several if isinstance(items, list) and len(items) > 1 else one


MOTIVES: dict[str, Any] = {
    # the motive says the tool's reason word for word: the agent passes it on as told
    "cancel_pending_order:ordered by mistake": (
        "because it was ordered by mistake",
        "since it was ordered by mistake (you clicked the wrong button)",
    ),
    "cancel_pending_order:no longer needed": (
        "because it is no longer needed",
        "since it is no longer needed (you found one locally)",
    ),
    "modify_pending_order_address": (
        "because you are moving next week",
        "since you won't be home when it arrives",
    ),
    "modify_pending_order_items": (
        "because you picked the wrong option",
        "since you realised you prefer a different one",
    ),
    "modify_pending_order_payment": (
        "because you would rather not use the original payment",
        "since you would rather keep the original payment method for something else",
    ),
    "modify_user_address": ("because you moved", "since you have just moved house"),
    "return_delivered_order_items": lambda mentions: _for_items(
        mentions,
        ("because it arrived damaged", "since it stopped working after a few days"),
        ("because they arrived damaged", "since they stopped working after a few days"),
    ),
    "exchange_delivered_order_items": lambda mentions: _for_items(
        mentions,
        ("because the one you got doesn't fit your needs", _exchange_reason(mentions, "it is")),
        ("because the ones you got don't fit your needs", _exchange_reason(mentions, "they are")),
    ),
}


def _exchange_reason(mentions: Mapping[str, Mention], subject: str) -> str:
    """Why the item goes back, from what the replacement changes: the wrong size, another colour
    (not said when the request leaves the replacement open: it would tell what the user must be
    asked).
    """
    new = mentions.get("new_item_ids")
    if new is None:
        return f"because {subject} not what you expected"
    changed = [k.replace("_", " ") for k in _changed_options(new)]
    if not changed or "size" in changed:
        return f"because {subject} the wrong size"
    return f"because you would rather have a different {changed[0]}"


def _changed_options(mention: Mention) -> list[str]:
    """The options a replacement has that the item it replaces has not."""
    options = (mention.record or {}).get("options") or {}
    old = (mention.partner or {}).get("options") or {}
    return [k for k in options if old.get(k) != options[k]]


def _order(mention: Mention) -> str:
    """An order by its number and what is in it: "order #W5188661 (the Lamp and the Kettle)"."""
    items = (mention.record or {}).get("items") or []
    if mention.request.get("item_ids"):  # the request names its items: the number is enough
        return f"order {mention.value}"
    names = list(dict.fromkeys(i["name"] for i in items if isinstance(i, dict) and "name" in i))
    if not names:
        return f"order {mention.value}"
    shown = [f"the {n}" for n in names[:2]]
    if len(names) > 2:
        shown.append(f"{len(names) - 2} other item{'s' if len(names) > 3 else ''}")
    return f"order {mention.value} ({listing(shown)})"


def _options(options: Mapping[str, Any], keys: Any = None) -> str:
    return " ".join(str(options[k]) for k in keys or options if k in options)


def _item(mention: Mention) -> str:
    """An item by its product ("the Pet Bed"), with options when the order holds two of it."""
    record = mention.record or {}
    name = record.get("name") or "item"
    items = (mention.container or {}).get("items") or []
    twins = [i for i in items if isinstance(i, dict) and i.get("name") == name]
    options = record.get("options") or {}
    if len(twins) > 1 and isinstance(options, dict):
        differing = [
            k for k in options if any(t.get("options", {}).get(k) != options[k] for t in twins)
        ]
        return f"the {_options(options, differing[:2])} {name}"
    return f"the {name}"


def _new_item(mention: Mention) -> str:
    """A replacement by the options that differ from the item it replaces."""
    options = (mention.record or {}).get("options") or {}
    changed = _changed_options(mention)
    if not changed:
        return "the very same one"
    told = [option_phrase(k, options[k]) for k in changed]
    return the_one_with(told)


def _address(arguments: Mapping[str, Any], named: Mapping[str, str]) -> str:
    street = ", ".join(str(arguments[k]) for k in ("address1", "address2") if arguments.get(k))
    place = f"{arguments.get('city', '')}, {arguments.get('state', '')} {arguments.get('zip', '')}"
    return f"{street}, {place.strip()}, {arguments.get('country', '')}".strip(", ")


NAMES = {
    "order_id": _order,
    "item_ids": _item,
    "new_item_ids": _new_item,
    "payment_method_id": payment_method,
}

DERIVED = {"address": _address}

UNKNOWN = {
    "item_ids": "the item numbers of what you ordered",
    "new_item_ids": "the item numbers of the products you want",
    "order_id": "your order numbers",
    "payment_method_id": "the internal ids of your payment methods",
}
