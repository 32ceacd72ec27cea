"""What the agent and the user say, as both sides read it: one definition for the scripted user,
the probes and the scorer (a refusal the user hears is the refusal the scorer counts).
"""

from __future__ import annotations

import re
from typing import Any

from t2t.core.schema import Message, ToolCall

__all__ = [
    "REFUSAL",
    "TRANSFER_TOOL",
    "first_person",
    "has_internal_id",
    "has_timestamp",
    "mentions",
    "normalize_text",
    "refused",
]

REFUSAL = re.compile(
    r"\b(cannot|can't|can not|unable to|not able to|not allowed|not permitted|not possible|"
    r"isn't possible|is not possible|won't be able|against (?:our |the )?polic)"
)
"""How an agent says no; the scripted user listens for the same words."""
TRANSFER_TOOL = "transfer_to_human_agents"
"""The tool that hands the user to a human: a refusal the policy allows, and an episode's end."""

_EMAIL = re.compile(r"\S+@\S+")
# A lowercase prefix with underscores, then digits: acc_123, gift_card_1309715, jane_doe_42.
_INTERNAL_ID = re.compile(r"\b[a-z]+(?:_[a-z]+)*_\d+\b")
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?")

# A number with thousands separators, a decimal, or an integer: "1,234.50" → "1234.5".
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)|\d+\.\d+|\d+")
_SPACES = re.compile(r"\s+")
_PERSON = [
    (re.compile(r"\bYou are\b"), "I am"),
    (re.compile(r"\byou are\b"), "I am"),
    (re.compile(r"\bYou want\b"), "I want"),
    (re.compile(r"\bYour\b"), "My"),
    (re.compile(r"\byour\b"), "my"),
    (re.compile(r"\byours\b"), "mine"),
    (re.compile(r"\bYou\b"), "I"),
    (re.compile(r"\byou\b"), "I"),
]


def _canonical_number(match: re.Match[str]) -> str:
    text = match.group(0).replace(",", "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _normalize_text(text: str) -> str:
    """Lower case, `_` and runs of spaces as one space, no `$`, numbers in canonical form."""
    text = text.lower().replace("$", "").replace("_", " ")
    return _SPACES.sub(" ", _NUMBER.sub(_canonical_number, text)).strip()


def normalize_text(text: str) -> str:
    """`text` as `mentions` reads it: normalise a long text once to look many values up in it."""
    return _normalize_text(text)


def mentions(text: str, value: Any, *, normalized: bool = False) -> bool:
    """Whether `value` occurs in `text` as whole words, case-insensitive, numbers normalised.

    "$1,234.50", "1234.5" and "1234.50" all mention 1234.5; "123" does not mention "12", and
    neither does "12.5". `normalized`: `text` is `normalize_text`'s output already.
    """
    needle = _normalize_text(str(value))
    if not needle:
        return False
    pattern = r"(?<!\w)(?<!\d\.)" + re.escape(needle) + r"(?!\w)(?!\.\d)"
    return re.search(pattern, text if normalized else _normalize_text(text)) is not None


def first_person(text: str) -> str:
    """The scenario's second-person sentences as the user would say them."""
    for pattern, replacement in _PERSON:
        text = pattern.sub(replacement, text)
    return text


def refused(messages: list[Message], calls: list[ToolCall]) -> bool:
    """The agent said no to the user (or handed the user to a human), as the policy asks."""
    said_no = any(
        m.role == "assistant"
        and m.content
        and REFUSAL.search(m.content.lower().replace("\u2019", "'"))
        for m in messages
    )
    return said_no or any(call.name == TRANSFER_TOOL for call in calls)


def has_internal_id(text: str) -> bool:
    """An id a customer would not know (acc_123, gift_card_1309715); emails and order numbers
    such as #W5188661 are not.
    """
    return bool(_INTERNAL_ID.search(_EMAIL.sub(" ", text)))


def has_timestamp(text: str) -> bool:
    """An ISO date-time (2024-05-08T02:29:32), which no customer says."""
    return bool(_TIMESTAMP.search(text))
