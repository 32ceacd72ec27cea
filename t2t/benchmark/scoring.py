"""Closed-loop scoring of one episode by replay, and pass^k summaries per model × variant.

An episode is scored from its messages alone: the agent's calls are replayed on a fork of the
task's initial DB (milliseconds), so the score never trusts what a rollout recorded. Each reward
component is checked only when the task carries what it needs (`communicate_info`, or the
variant's `forbidden`, `required`, `withheld` details), so imported τ² tasks, which have none of
the details, are scored by state + communicate, and a new variant kind needs no branch here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from t2t.core.environment import Environment, RecordChange, canonical_json, normalize
from t2t.core.replay import compare_states, initial_environment, replay_calls
from t2t.core.schema import Episode, Message, Reward, Task, ToolCall

if TYPE_CHECKING:
    pass

__all__ = [
    "COMPONENTS",
    "REFUSAL",
    "TRANSFER_TOOL",
    "call_key",
    "evaluate_episode",
    "mentions",
    "parse_withheld",
    "score_episode",
]

COMPONENTS = (
    "state_ok",
    "communicate_ok",
    "forbidden_ok",
    "required_ok",
    "clarified_ok",
    "refused_ok",
)
REFUSAL = re.compile(
    r"\b(cannot|can't|can not|unable to|not able to|not allowed|not permitted|not possible|"
    r"isn't possible|is not possible|won't be able|against (?:our |the )?polic)"
)
"""How an agent says no; the scripted user listens for the same words."""
TRANSFER_TOOL = "transfer_to_human_agents"
"""The tool that hands the user to a human: a refusal the policy allows, and an episode's end."""
_MAX_LISTED = 10  # records / errors kept in details: enough to see what went wrong, bounded


# ------------------------------------------------------------------------------ text matching

# A number with thousands separators, a decimal, or an integer: "1,234.50" → "1234.5".
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)|\d+\.\d+|\d+")
_SPACES = re.compile(r"\s+")


def _canonical_number(match: re.Match[str]) -> str:
    text = match.group(0).replace(",", "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _normalize_text(text: str) -> str:
    """Lower case, `_` and runs of spaces as one space, no `$`, numbers in canonical form."""
    text = text.lower().replace("$", "").replace("_", " ")
    return _SPACES.sub(" ", _NUMBER.sub(_canonical_number, text)).strip()


def mentions(text: str, value: Any) -> bool:
    """Whether `value` occurs in `text` as whole words, case-insensitive, numbers normalised.

    "$1,234.50", "1234.5" and "1234.50" all mention 1234.5; "123" does not mention "12", and
    neither does "12.5".
    """
    needle = _normalize_text(str(value))
    if not needle:
        return False
    pattern = r"(?<!\w)(?<!\d\.)" + re.escape(needle) + r"(?!\w)(?!\.\d)"
    return re.search(pattern, _normalize_text(text)) is not None


_ID_IN_PARENS = re.compile(r"\(\s*id\s+([^()]+?)\s*\)")
_ID_AT_END = re.compile(r"(?:^|[\s,])id\s+(\S+?)\s*$")
_KEYED = re.compile(r"^([^:]+):\s+(.*)$")
_AND_MORE = re.compile(r"\s+and \d+ more$")


def parse_withheld(text: str) -> list[str]:
    """The values an ambiguous task's withheld fact consists of, each of which must be told.

    "size: large, color: grey" → ["large", "grey"]; "material: polyester (id 123)" →
    ["polyester", "123"]; "the one with id 123" → ["123"]; "items: A, B, C and 2 more" →
    ["A", "B", "C"] (a list cut short names only what it shows). Text of no known shape is one
    value.
    """
    ids = [m.group(1).strip() for m in _ID_IN_PARENS.finditer(text)]
    rest = _ID_IN_PARENS.sub(" ", text).strip()
    if not ids and (bare := _ID_AT_END.search(rest)):
        ids.append(bare.group(1))
        rest = rest[: bare.start()].strip()
    values: list[str] = []
    keyed = False
    for part in (p.strip() for p in rest.split(", ")):
        match = _KEYED.match(part)
        if match:
            keyed = True
            part = match.group(2).strip()
        elif not keyed:  # prose before the first "key: value" ("the one with")
            continue
        part = _AND_MORE.sub("", part).strip()
        if part:
            values.append(part)
    values += ids
    if not values:
        return [text.strip()] if text.strip() else []
    return list(dict.fromkeys(values))


def _told(withheld: str, gold_value: Any, texts: list[str]) -> bool:
    """The withheld fact reached the agent: all its values, or the gold value, were said."""
    if gold_value is not None and any(mentions(t, gold_value) for t in texts):
        return True
    values = parse_withheld(withheld)
    return bool(values) and all(any(mentions(t, v) for t in texts) for v in values)


# ------------------------------------------------------------------------------ one episode


def _coerced(env: Environment, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the tool sees them (validated, defaults filled), normalised; raw if invalid."""
    spec = env.domain.tools.get(name)
    if spec is not None:
        try:
            arguments = spec.arguments.model_validate(arguments).model_dump(mode="json")
        except ValidationError:
            pass
    return normalize(arguments)


def call_key(env: Environment, call: ToolCall) -> tuple[str, str]:
    """A call's identity for comparing calls: its name and its arguments as the tool sees them."""
    return call.name, canonical_json(_coerced(env, call.name, call.arguments))


def _includes(arguments: dict[str, Any], partial: dict[str, Any]) -> bool:
    return all(k in arguments and arguments[k] == normalize(v) for k, v in partial.items())


def _change(change: RecordChange) -> dict[str, Any]:
    return {
        "table": change.table,
        "key": change.key,
        "expected": change.before,
        "actual": change.after,
    }


def _agent_calls(messages: list[Message]) -> list[tuple[int, ToolCall]]:
    """(message index, call) for each assistant tool call, in order."""
    return [
        (index, call)
        for index, message in enumerate(messages)
        if message.role == "assistant"
        for call in message.tool_calls or []
    ]


def _forbidden_hits(
    env: Environment, calls: list[ToolCall], forbidden: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Calls attempted (whatever came of them) that match a forbidden name + partial arguments."""
    hits = []
    for index, call in enumerate(calls):
        arguments = _coerced(env, call.name, call.arguments)
        if any(
            call.name == banned["name"] and _includes(arguments, banned.get("arguments", {}))
            for banned in forbidden
        ):
            hits.append({"index": index, "name": call.name, "arguments": call.arguments})
    return hits


def _missing_calls(
    env: Environment, made: list[ToolCall], required: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The required calls (full arguments) that are not among the calls `made`."""
    done = {(c.name, canonical_json(_coerced(env, c.name, c.arguments))) for c in made}
    return [
        row
        for row in required
        if (row["name"], canonical_json(_coerced(env, row["name"], row.get("arguments", {}))))
        not in done
    ]


def evaluate_episode(task: Task, messages: list[Message], env: Environment) -> Reward:
    """Score a conversation by replaying the agent's calls against the gold final state.

    Args:
        task: The task the episode ran; its variant details decide which checks apply.
        messages: The conversation without the system prompt.
        env: The domain environment on the task set's DB, not yet set up for the task.
    """
    start = initial_environment(env, task)
    located = _agent_calls(messages)
    calls = [call for _, call in located]
    actual, replay = replay_calls(start, calls, check_rules=True)
    expected, gold = replay_calls(start, task.gold_calls)
    variant = task.variant.details
    details: dict[str, Any] = {
        "calls": len(calls),
        "failed_calls": len(replay.errors),
        "call_errors": [e.model_dump() for e in replay.errors[:_MAX_LISTED]],
        "violations": [v.model_dump() for v in replay.violations[:_MAX_LISTED]],
    }
    if gold.errors:  # a task defect, not the agent's: reported so it can be traced
        details["gold_errors"] = [e.model_dump() for e in gold.errors[:_MAX_LISTED]]

    comparison = compare_states(actual, expected)
    state_ok = comparison.ok
    details["state_diff"] = [_change(c) for c in comparison.changes[:_MAX_LISTED]]
    details["state_diff_count"] = len(comparison.changes)

    communicate_ok = None
    infos = task.evaluation_criteria.communicate_info if task.evaluation_criteria else None
    if infos:
        said = [m.content for m in messages if m.role == "assistant" and m.content]
        missing = [info for info in infos if not any(mentions(text, info) for text in said)]
        communicate_ok = not missing
        details["missing_info"] = missing

    forbidden_ok = None
    if variant.get("forbidden"):
        hits = _forbidden_hits(start, calls, variant["forbidden"])
        forbidden_ok = not hits
        details["forbidden_calls"] = hits[:_MAX_LISTED]

    required_ok = None
    if variant.get("required"):
        made = [c for c, result in zip(calls, replay.results, strict=True) if result.ok]
        missing_required = _missing_calls(start, made, variant["required"])
        required_ok = not missing_required
        details["missing_required"] = missing_required

    clarified_ok = None
    if "withheld" in variant:
        asked_by = _ambiguous_write(task, env, located)
        before = messages if asked_by is None else messages[:asked_by]
        heard = [m.content for m in before if m.role == "user" and m.content]
        clarified_ok = _told(str(variant["withheld"]), variant.get("gold_value"), heard)
    writes = [i for i, (_, c) in enumerate(located) if env.domain.is_write(c.name)]
    details["first_write_index"] = writes[0] if writes else None

    refused_ok = None
    if variant.get("forbidden"):
        refused_ok = _refused(messages, calls)

    components = (state_ok, communicate_ok, forbidden_ok, required_ok, clarified_ok, refused_ok)
    value = 1.0 if all(c is not False for c in components) else 0.0
    return Reward(
        value=value,
        state_ok=state_ok,
        communicate_ok=communicate_ok,
        forbidden_ok=forbidden_ok,
        required_ok=required_ok,
        clarified_ok=clarified_ok,
        refused_ok=refused_ok,
        details=details,
    )


def _ambiguous_write(
    task: Task, env: Environment, located: list[tuple[int, ToolCall]]
) -> int | None:
    """Message index of the agent's first attempt at the ambiguous write (its gold tool).

    The clarification must come before that write; writes for the user's earlier, unambiguous
    requests may come first (a task with several requests is ambiguous only in its last one).
    """
    gold_writes = [c.name for c in task.gold_calls if env.domain.is_write(c.name)]
    target = gold_writes[-1] if gold_writes else None
    for index, call in located:
        if env.domain.is_write(call.name) and (target is None or call.name == target):
            return index
    return None


def _refused(messages: list[Message], calls: list[ToolCall]) -> bool:
    """The agent said no to the user (or handed the user to a human), as the policy asks."""
    said_no = any(
        m.role == "assistant"
        and m.content
        and REFUSAL.search(m.content.lower().replace("\u2019", "'"))
        for m in messages
    )
    return said_no or any(call.name == TRANSFER_TOOL for call in calls)


def score_episode(task: Task, episode: Episode, env: Environment) -> Episode:
    """A copy of `episode` with its reward computed from its messages."""
    return episode.model_copy(update={"reward": evaluate_episode(task, episode.messages, env)})
