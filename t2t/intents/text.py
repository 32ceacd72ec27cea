"""What the agent and the user say, as both sides read it: one definition for the scripted user,
the probes and the scorer (a refusal the user hears is the refusal the scorer counts).
"""

from __future__ import annotations

import re
from typing import Any

from t2t.core.schema import Message, ToolCall
from t2t.tasks.phrasing import has_internal_id, has_timestamp, spoken_date

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


def _spoken_dates(value: str) -> list[str]:
    """An ISO date as people say it; nothing for any other text."""
    spoken = spoken_date(value)
    if spoken == value:
        return []
    month, day = spoken_date(value, year=False).split()
    number = int(day)
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return [
        spoken,
        f"{month} {day}",
        f"{month} {day}{suffix}",
        f"{day} {month}",
        f"{day}{suffix} of {month}",
    ]


def normalize_text(text: str) -> str:
    """`text` as `mentions` reads it: normalise a long text once to look many values up in it."""
    return _normalize_text(text)


def mentions(text: str, value: Any, *, normalized: bool = False) -> bool:
    """Whether `value` occurs in `text` as whole words, case-insensitive, numbers normalised.

    "$1,234.50", "1234.5" and "1234.50" all mention 1234.5; "123" does not mention "12", and
    neither does "12.5". An ISO date is also mentioned as people say it: "May 3, 2024" mentions
    2024-05-03, and so do "May 3", "May 3rd", "3 May" and "3rd of May" (a year is rarely said of
    this year's trip). `normalized`: `text` is `normalize_text`'s output already.
    """
    said = text if normalized else _normalize_text(text)
    forms = [str(value), *(_spoken_dates(value) if isinstance(value, str) else [])]
    for form in forms:
        needle = _normalize_text(form)
        pattern = r"(?<!\w)(?<!\d\.)" + re.escape(needle) + r"(?!\w)(?!\.\d)"
        if needle and re.search(pattern, said) is not None:
            return True
    return False


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
