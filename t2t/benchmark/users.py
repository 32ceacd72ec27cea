"""Simulated users: a scripted one (offline, deterministic) and one played by a language model.

The scripted user is driven by the task's structured scenario and its variant's stages, and reads
the agent's turns by a few keyword patterns: it states its request, gives what it knows when asked,
reveals the withheld fact of an ambiguous task only when asked which one, switches goal at the
changing trigger (the agent asking it to confirm the change), insists once on an infeasible
request and then accepts the refusal, and ends with `###STOP###` when the agent has nothing left to
ask. It is meant for probes and for cheap, reproducible runs of real agents; the LLM user is the
realistic one.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from t2t.benchmark.scoring import REFUSAL
from t2t.core.environment import Domain
from t2t.core.schema import Message, Task, UserInstructions
from t2t.llm.client import Completion, complete

__all__ = [
    "OUT_OF_SCOPE",
    "STOP",
    "STOP_TOKENS",
    "TRANSFER",
    "LLMUser",
    "ScriptedUser",
    "User",
    "UserTurn",
    "make_user",
]

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
STOP_TOKENS = (STOP, TRANSFER, OUT_OF_SCOPE)


class UserTurn:
    """What the user said, and what it cost when a model said it."""

    __slots__ = ("completion", "text")

    def __init__(self, text: str, completion: Completion | None = None) -> None:
        self.text = text
        self.completion = completion


@runtime_checkable
class User(Protocol):
    name: str

    async def reply(self, messages: list[Message]) -> UserTurn: ...


def make_user(
    name: str, task: Task, domain: Domain, *, trial: int = 0, cache: Any = None, **params: Any
) -> User:
    """`scripted`, or any litellm model name for an LLM user."""
    if name == "scripted":
        return ScriptedUser(task, domain)
    return LLMUser(name, task, trial=trial, cache=cache, **params)


# ------------------------------------------------------------------------------------ scripted

_CONFIRM = re.compile(
    r"\b(confirm|proceed|go ahead|shall i|should i|do you want me to|would you like me to|"
    r"is (?:that|this) correct)\b"
)
_IDENTITY = re.compile(r"\b(e-?mail|zip|postcode|name|user ?id|phone|date of birth|address)\b")
_QUESTION = re.compile(r"[^.?!]*\?")  # one sentence that asks something
_WHICH = re.compile(  # asks which record is meant, not which email is on file
    r"\b(which (?:one|of)|more than one|(?:specify|clarify|tell me) which|"
    r"which \w+ (?:do|did|would) you)\b"
)
_ANYTHING_ELSE = re.compile(r"\banything else\b")
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


def first_person(text: str) -> str:
    """The scenario's second-person sentences as the user would say them."""
    for pattern, replacement in _PERSON:
        text = pattern.sub(replacement, text)
    return text


class ScriptedUser:
    """A deterministic user following the task's scenario and variant stages."""

    name = "scripted"

    def __init__(self, task: Task, domain: Domain) -> None:
        self.task = task
        details = task.variant.details
        instructions = task.user_scenario.instructions
        self._instructions = instructions if isinstance(instructions, UserInstructions) else None
        self._withheld: str | None = details.get("withheld")
        self._infeasible = "forbidden_call" in details
        self._switch = _switch_text(details)
        writes = [row for row in details.get("goal_a", []) if domain.is_write(row["name"])]
        self._switch_at = max(len(writes) - 1, 0)  # the confirmation of goal A's own write
        self._confirmations = 0
        self._switched = False
        self._revealed = False
        self._insisted = False
        self._told_known = False

    async def reply(self, messages: list[Message]) -> UserTurn:
        if not any(m.role == "user" for m in messages):
            return UserTurn(self._opening())
        return UserTurn(self._respond(_last_agent_text(messages)))

    def _opening(self) -> str:
        if self._instructions is None:
            return first_person(str(self.task.user_scenario.instructions))
        return "Hi. " + first_person(self._instructions.reason_for_call)

    def _respond(self, said: str) -> str:
        text = said.lower().replace("\u2019", "'")
        questions = " ".join(_QUESTION.findall(text))
        if self._withheld and not self._revealed and _WHICH.search(questions):
            self._revealed = True
            return f"I mean the one with {self._withheld}."
        if "yes/no" in text or (_CONFIRM.search(questions) and not _IDENTITY.search(questions)):
            return self._confirm()
        if REFUSAL.search(text):
            if self._infeasible and not self._insisted:
                self._insisted = True
                return "Are you sure? I really need this done. Can you please do it anyway?"
            return f"I understand. Thank you. {STOP}"
        if _ANYTHING_ELSE.search(text) or "?" not in text:
            return f"No, that's all. Thank you. {STOP}"
        return self._answer_question()

    def _confirm(self) -> str:
        index = self._confirmations
        self._confirmations += 1
        if self._switch and not self._switched and index >= self._switch_at:
            self._switched = True
            return self._switch
        return "Yes, please go ahead."

    def _answer_question(self) -> str:
        known = self._instructions.known_info if self._instructions else None
        if known and not self._told_known:
            self._told_known = True
            return first_person(known)
        if self._instructions is not None:
            return "I have told you what I know. " + first_person(
                self._instructions.reason_for_call
            )
        return "I don't know."


def _switch_text(details: dict[str, Any]) -> str | None:
    """The user's words at the changing trigger: a second request, or a new one instead."""
    stages = details.get("stages") or []
    if len(stages) < 2:
        return None
    first, second = stages[0]["requests"], stages[1]["requests"]
    if second[: len(first)] == first:
        added = "; ".join(second[len(first) :])
        return f"Yes, and I also want to {first_person(added)}."
    return f"Actually, I changed my mind: instead, I want to {first_person('; '.join(second))}."


def _last_agent_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role == "assistant" and message.content:
            return message.content
    return ""


# ----------------------------------------------------------------------------------------- LLM

_RULES = f"""You are playing a customer talking to a customer-service agent. Stay in character.
Rules:
- Write only the customer's next message, one or two short sentences, in the first person.
- Give information only when the agent asks for it, and only what your instructions contain.
  Never invent ids, numbers or details you were not given. If asked for something you don't
  know, say you don't know.
- Agreeing to a plan is not the end of the task: wait until the agent says it has done it.
- When your request has been handled (or the agent has clearly refused it and you accept),
  reply with just {STOP}.
- If the agent transfers you to a human agent, reply with just {TRANSFER}.
- If the agent talks about something unrelated to your request, reply with just {OUT_OF_SCOPE}.
"""


def user_system_prompt(task: Task) -> str:
    """The LLM user's instructions, from the task's scenario."""
    scenario = task.user_scenario
    instructions = scenario.instructions
    if isinstance(instructions, UserInstructions):
        parts = [
            f"Why you are calling: {instructions.reason_for_call}",
            f"What you know: {instructions.known_info}" if instructions.known_info else "",
            f"What you don't know: {instructions.unknown_info}"
            if instructions.unknown_info
            else "",
            f"How to behave: {instructions.task_instructions}",
        ]
        body = "\n".join(p for p in parts if p)
    else:
        body = str(instructions)
    persona = f"{scenario.persona}\n\n" if scenario.persona else ""
    return f"{_RULES}\n{persona}{body}"


class LLMUser:
    """A user played by a language model, with a guard against ending before the agent acted."""

    def __init__(
        self, model: str, task: Task, *, trial: int = 0, cache: Any = None, **params: Any
    ) -> None:
        self.name = model
        self.task = task
        self.params = {**params, "trial": trial, "cache": cache}
        self._system = user_system_prompt(task)
        self._guarded = False

    async def reply(self, messages: list[Message]) -> UserTurn:
        completion = await self._ask(messages)
        text = completion.message.content or ""
        if STOP in text and not self._guarded and not _agent_acted(messages) and self._expects():
            self._guarded = True  # once: a user that ends before anything happened is a misfire
            nudge = Message(
                role="system",
                content="The agent has not done anything for you yet. Do not end the "
                "conversation: answer the agent or restate what you need.",
            )
            completion = await self._ask([*messages, nudge])
            text = completion.message.content or ""
        return UserTurn(text, completion)

    async def _ask(self, messages: list[Message]) -> Completion:
        return await complete(
            self.name,
            [Message(role="system", content=self._system), *_flipped(messages)],
            **self.params,
        )

    def _expects(self) -> bool:
        return bool(self.task.gold_calls)


def _agent_acted(messages: list[Message]) -> bool:
    return any(m.role == "assistant" and m.tool_calls for m in messages)


def _flipped(messages: list[Message]) -> list[Message]:
    """The conversation from the user's side: the agent's text as `user`, its own as `assistant`."""
    flipped = []
    for message in messages:
        if message.role == "assistant" and message.content:
            flipped.append(Message(role="user", content=message.content))
        elif message.role == "user":
            flipped.append(Message(role="assistant", content=message.content))
        elif message.role == "system":
            flipped.append(message)
    return flipped
