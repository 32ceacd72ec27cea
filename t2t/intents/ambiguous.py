"""Ambiguous: the user leaves out what tells two of their records apart; the agent must ask.

Built by swapping one slot of the last write for another value from the user's data: when the
swapped write also keeps to the rules, succeeds and ends in a different state, the two are real
candidates. The user describes the record only by what the candidates share ("one of your
pending orders") and reveals the rest (`withheld`) only when asked. The agent must hear it
before the ambiguous write (`clarified_ok`); the eager probe never asks and guesses another one.
"""

from __future__ import annotations

import random
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator

from t2t.core.environment import Domain, Environment
from t2t.core.replay import ReplayResult
from t2t.core.schema import Episode, Message, Task, ToolCall
from t2t.explore.walk import Candidate, Walk
from t2t.intents.checks import clean_replay, gold_actions
from t2t.intents.kind import (
    Details,
    FailureType,
    KindHooks,
    OrEmptyDict,
    OrEmptyList,
    ScoreContext,
    UserScript,
)
from t2t.intents.slots import (
    Rejected,
    Slot,
    at_step,
    derive_task,
    last_write_index,
    pick_strategy,
    replace_in_call,
    slots_of,
    substitutes,
)
from t2t.intents.sound import contains_value
from t2t.intents.text import first_person, has_internal_id, has_timestamp, mentions
from t2t.tasks import option_phrase, spoken, the_one_with, words
from t2t.tasks.convert import describe_value, name_of, request_text

__all__ = ["CLARIFY_TEXT", "Ambiguous", "AmbiguousDetails", "SlotRef", "parse_withheld"]

CLARIFY_TEXT = "I found more than one that fits your request. Which one do you mean exactly?"
"""The probes' question when a request fits several records."""
_WHICH = re.compile(  # asks which record is meant, not which email is on file
    r"\b(which (?:one|of)|more than one|(?:specify|clarify|tell me) which|"
    r"which \w+ (?:do|did|would) you)\b"
)


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


class SlotRef(BaseModel):
    arg: str | None = None
    element: int | None = None


_ID_TOLD = re.compile(r"\(id [^)]+\)", re.I)  # the "(id X)" `_task` adds to a withheld fact


class AmbiguousDetails(Details):
    """Every field may be missing (a hand-made or imported task): the user, the probes and the
    scorer then do what they do without it, and `verify` rejects the task naming the field.
    """

    strategy: str | None = None
    slot: SlotRef | None = None
    gold_value: Any = None
    candidates: OrEmptyList[Any] = []
    # what only the agent's question brings out
    withheld: Annotated[str | None, BeforeValidator(_as_text)] = None
    # the values of `withheld` the agent must hear (older tasks: parsed from its text)
    withheld_values: OrEmptyList[str] = []
    shared: OrEmptyDict = {}

    @property
    def clarifies(self) -> bool:
        """A withheld fact is recorded: the agent must ask for it."""
        return "withheld" in self.model_fields_set


def _named_before(walk: Walk) -> set[Any]:
    """Values the earlier writes of the walk pass: the user has named them already."""
    named: set[Any] = set()
    for step in walk.steps[:-1]:
        for value in step.candidate.call.arguments.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str | int | float):
                    named.add(item)
    return named


def _shared(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in a.items() if b.get(k) == v}


def _knowable(value: Any) -> bool:
    """A value a person knows and says: no internal id, no timestamp."""
    text = str(value)
    return bool(text) and not (has_internal_id(text) or has_timestamp(text))


_NAMING_KEYS = ("name", "items")  # said as "the Desk Lamp", not "name Desk Lamp"


def _said_values(key: str, value: Any) -> list[str]:
    """The values in an attribute the user must say: each item of "A, B and 2 more"."""
    if key != "items":
        return [str(value)]
    return [_AND_MORE.sub("", part).strip() for part in str(value).split(", ")]


def _attributes_text(keys: list[str], attributes: dict[str, Any]) -> str:
    """Attributes as a person lists them: "the Desk Lamp", "the one with polyester material",
    "the one with the Tent, the Bicycle and 2 other items".
    """
    if keys == ["name"]:
        return f"the {spoken(attributes['name'])}"
    parts: list[str] = []
    for key in keys:
        if key not in _NAMING_KEYS:
            said = spoken(attributes[key])  # a name goes after its key: "nickname Emergency Fund"
            parts.append(f"{words(key)} {said}" if said[:1].isupper() else option_phrase(key, said))
            continue
        parts += [f"the {spoken(name)}" for name in _said_values(key, attributes[key])]
        if more := _AND_MORE.search(str(attributes[key])):
            count = int(more.group(1))
            parts.append(f"{count} other item{'s' if count > 1 else ''}")
    return the_one_with(parts)


def _withheld(
    walk: Walk,
    candidate: Candidate,
    arg: str,
    value: Any,
    attributes: tuple[dict[str, Any], dict[str, Any]],
    fitting: list[Any],
    *,
    said: str,
) -> tuple[str, list[str]]:
    """What tells `value` from the other candidates, as the user says it, and its values.

    The fewest attributes a person knows (no ids, no timestamps) that rule every other candidate
    out, none of which the user already `said` (an order named by its items names the item);
    their own order or reservation number when nothing else does (people know those).

    Raises:
        Rejected: only an internal id tells the candidates apart.
    """
    mine, shared = attributes
    theirs = {v: describe_value(walk, arg, v) for v in fitting}
    usable = [
        k
        for k in mine
        if k not in shared
        and _knowable(mine[k])
        and not any(mentions(said, v) for v in _said_values(k, mine[k]))
    ]

    def rules_out(keys: list[str]) -> bool:
        return all(any(theirs[v].get(k) != mine[k] for k in keys) for v in fitting)

    named = name_of(walk, candidate, arg, value)
    if (
        named
        and _knowable(named)
        and all(name_of(walk, candidate, arg, v) != named for v in fitting)
    ):
        in_name = [k for k in usable if mentions(named, mine[k])]
        if in_name and rules_out(in_name):  # the phrasebook's name tells it apart: "your PayPal"
            return named, [str(mine[k]) for k in in_name]
    chosen: list[str] = []
    for key in usable:
        if rules_out(chosen):
            break
        if all(theirs[v].get(key) == mine[key] for v in fitting):
            continue  # rules nothing out
        chosen.append(key)
    if chosen and rules_out(chosen):
        values = [v for k in chosen for v in _said_values(k, mine[k])]
        return _attributes_text(chosen, mine), values
    if value in walk.profile_values and _knowable(value):
        return f"the one with number {value}", [str(value)]
    raise Rejected("only an internal id tells the candidates apart")


class Ambiguous(KindHooks[AmbiguousDetails]):
    name = "ambiguous"
    probe = "eager"
    strategies = {"record": 0.35, "item": 0.25, "option": 0.2, "detail": 0.2}
    details_model = AmbiguousDetails
    identity_keys = ("candidates",)
    failure_types = {
        "no_clarification": FailureType(
            "the agent acted on an ambiguous request without asking", 42
        ),
    }

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        step = walk.steps[-1]
        gold_call = step.candidate.call
        slots = slots_of(walk, step.candidate)
        with at_step(walk, step) as before:
            named = _named_before(walk)
            for strategy in pick_strategy(self.strategies, {s.strategy for s in slots}, rng):
                for slot in [s for s in slots if s.strategy == strategy]:
                    value = slot.get(gold_call.arguments)
                    if value in named:  # an earlier request names it: nothing left to ask
                        continue
                    others = [
                        v
                        for v, cand in substitutes(walk, step.candidate, slot, rng)
                        if (after := walk.outcome(cand.call, before)) is not None
                        and after.state_hash() != step.after.state_hash()
                        and cand.call.arguments == replace_in_call(gold_call, slot, v).arguments
                    ]
                    if others:
                        return self._task(walk, base, slot, value, others)
        raise Rejected("no second record fits the request with a different outcome")

    def _task(self, walk: Walk, base: Task, slot: Slot, value: Any, others: list[Any]) -> Task:
        mine = describe_value(walk, slot.arg, value)
        shared = _shared(mine, describe_value(walk, slot.arg, others[0]))
        fitting = [v for v in others if _shared(mine, describe_value(walk, slot.arg, v)) == shared]
        step = walk.steps[-1]
        vague_request = request_text(walk, step.candidate, vague={slot.arg: (slot.element, shared)})
        said = " ".join([*base.variant.details["requests"][:-1], vague_request])
        told, values = _withheld(
            walk, step.candidate, slot.arg, value, (mine, shared), fitting, said=said
        )
        noun = re.sub(r"^(?:new|old|from|to)_", "", slot.arg)
        noun = noun.removesuffix("_ids").removesuffix("_id").replace("_", " ")
        return derive_task(
            base,
            "ambiguous",
            keep_ask=False,  # the question would describe the withheld record
            requests=[vague_request],
            instructions=(
                f"You did not say which {noun} you mean. "
                f"Only if the agent asks which one, say that you mean {told}."
            ),
            details=AmbiguousDetails(
                strategy=slot.strategy,
                slot=SlotRef(**slot.to_dict()),
                gold_value=value,
                candidates=[value, *fitting],
                withheld=told,
                withheld_values=values,
                shared=shared,
            ).model_dump(),
        )

    def verify(self, task: Task, env: Environment) -> None:
        details = self.details(task)
        candidates = details.candidates
        if len(candidates) < 2:
            raise Rejected(f"only {len(candidates)} candidate fits: not ambiguous")
        actions = gold_actions(task)
        index = last_write_index(task, env)
        slot = _slot(details)
        if slot is None or details.strategy is None:
            missing = "slot" if slot is None else "strategy"
            raise Rejected(f"malformed variant details: no {missing!r} recorded")
        gold_value = slot.get(actions[index].arguments)
        if gold_value != details.gold_value:
            raise Rejected("the gold write does not use the withheld value")
        gold_hash = clean_replay(env, task, task.gold_calls, "gold").state_hash()
        for value in candidates:
            if value == gold_value:
                continue
            calls = task.gold_calls
            calls[index] = replace_in_call(calls[index], slot, value)
            other = clean_replay(env, task, calls, f"candidate {value}")
            if other.state_hash() == gold_hash:
                raise Rejected(f"candidate {value} ends in the gold state: nothing to clarify")

    # ------------------------------------------------------------------- hooks of later stages

    def user_script(self, task: Task, domain: Domain) -> UserScript:
        return _Reveal(self.details(task).withheld)

    def user_texts(self, task: Task) -> list[str]:
        withheld = self.details(task).withheld
        return [withheld] if withheld else []

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]:
        """The strategy, and whether the withheld fact leaks an internal id, `(id …)` or a time."""
        details = self.details(task)
        withheld = details.withheld or ""
        leaks = has_internal_id(withheld) or has_timestamp(withheld) or _ID_TOLD.search(withheld)
        return {"strategy": details.strategy, "withheld_has_id_or_time": bool(leaks)}

    def probe_plan(
        self,
        probe: str,
        task: Task,
        gold: list[ToolCall],
        writes: frozenset[str],
        switched: bool,
    ) -> list[ToolCall]:
        details = self.details(task)
        return (
            _guessed(gold, details, writes) if probe == self.probe and details.clarifies else gold
        )

    def probe_before_call(
        self, probe: str, task: Task, call: ToolCall, messages: list[Message], *, write: bool
    ) -> str | None:
        """Ask which one is meant before the first write, or before looking up the record the
        user left out (a call that carries the gold value), whichever comes first.
        """
        details = self.details(task)
        asked = any(m.role == "assistant" and m.content == CLARIFY_TEXT for m in messages)
        if probe == self.probe or asked or not details.clarifies:
            return None
        if write or (
            details.gold_value is not None and contains_value(call.arguments, details.gold_value)
        ):
            return CLARIFY_TEXT
        return None

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]:
        details = self.details(task)
        if not details.clarifies:
            return {}
        asked_by = _ambiguous_write(task, context.env, context.located)
        messages = context.messages
        before = messages if asked_by is None else messages[:asked_by]
        heard = [m.content for m in before if m.role == "user" and m.content]
        values = details.withheld_values or parse_withheld(str(details.withheld))
        return {"clarified_ok": _told(values, details.gold_value, heard)}

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]:
        reward = episode.reward
        # it wrote without asking; with no write, it gave up
        if (
            reward
            and reward.clarified_ok is False
            and reward.details.get("first_write_index") is not None
        ):
            return ["no_clarification"]
        return []


class _Reveal(UserScript):
    """The user tells the withheld fact once, when the agent asks which one is meant."""

    def __init__(self, withheld: str | None) -> None:
        self.withheld = withheld
        self.revealed = False

    def on_question(self, text: str, questions: str) -> str | None:
        if self.withheld and not self.revealed and _WHICH.search(questions):
            self.revealed = True
            told = self.withheld  # older tasks hold bare "key: value" facts
            if ":" in told:
                told = f"the one with {told}"
            return f"I mean {first_person(told)}."
        return None


def _slot(details: AmbiguousDetails) -> Slot | None:
    """The ambiguous slot, if the details record its argument."""
    ref = details.slot
    if ref is None or ref.arg is None:
        return None
    return Slot(ref.arg, ref.element, details.strategy or "")


def _guessed(
    gold: list[ToolCall], details: AmbiguousDetails, writes: frozenset[str]
) -> list[ToolCall]:
    """Gold with the ambiguous slot of its last write filled by another candidate."""
    wrong = [c for c in details.candidates if c != details.gold_value]
    indices = [i for i, call in enumerate(gold) if call.name in writes]
    slot = _slot(details)
    if not wrong or not indices or slot is None:
        return gold
    guessed = list(gold)
    guessed[indices[-1]] = replace_in_call(gold[indices[-1]], slot, wrong[0])
    return guessed


_ID_IN_PARENS = re.compile(r"\(\s*id\s+([^()]+?)\s*\)")
_ID_AT_END = re.compile(r"(?:^|[\s,])id\s+(\S+?)\s*$")
_KEYED = re.compile(r"^([^:]+):\s+(.*)$")
_AND_MORE = re.compile(r"\s+and (\d+) more$")


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


def _told(values: list[str], gold_value: Any, texts: list[str]) -> bool:
    """The withheld fact reached the agent: all its values, or the gold value, were said."""
    if gold_value is not None and any(mentions(t, gold_value) for t in texts):
        return True
    return bool(values) and all(any(mentions(t, v) for t in texts) for v in values)


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
