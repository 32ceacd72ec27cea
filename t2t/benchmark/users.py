"""Simulated users: a scripted one (offline, deterministic) and one played by a language model.

The scripted user is driven by the task's structured scenario and its variant's stages, and reads
the agent's turns by a few keyword patterns: it states its request, confirms, gives what it knows
when asked, accepts a refusal, and ends with `###STOP###` when the agent has nothing left to ask.
What a variant kind adds (reveal a withheld fact, switch goal, insist once) is the kind's
`user_script`, consulted where it applies. It is meant for probes and for cheap, reproducible
runs of real agents; the LLM user is the realistic one.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from t2t.core.environment import Domain
from t2t.core.schema import Message, Task, UserInstructions
from t2t.intents.kind import kind_of
from t2t.intents.text import REFUSAL, first_person
from t2t.llm.client import Completion, complete
from t2t.tasks.phrasing import seeded_choice

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
_ANYTHING_ELSE = re.compile(r"\banything else\b")
_GREETINGS = ("Hi.", "Hello!", "Hi there.", "Hello, good morning.", "Hey, thanks for picking up.")


class ScriptedUser:
    """A deterministic user following the task's scenario and variant stages."""

    name = "scripted"

    def __init__(self, task: Task, domain: Domain) -> None:
        self.task = task
        instructions = task.user_scenario.instructions
        self._instructions = instructions if isinstance(instructions, UserInstructions) else None
        self._script = kind_of(task).user_script(task, domain)
        self._confirmations = 0
        self._told_known = False

    async def reply(self, messages: list[Message]) -> UserTurn:
        if not any(m.role == "user" for m in messages):
            return UserTurn(self._opening())
        return UserTurn(self._respond(_last_agent_text(messages)))

    def _opening(self) -> str:
        if self._instructions is None:
            return first_person(str(self.task.user_scenario.instructions))
        greeting = seeded_choice(_GREETINGS, self.task.id)
        return f"{greeting} {first_person(self._instructions.reason_for_call)}"

    def _respond(self, said: str) -> str:
        text = said.lower().replace("\u2019", "'")
        questions = " ".join(_QUESTION.findall(text))
        if (reply := self._script.on_question(text, questions)) is not None:
            return reply
        if "yes/no" in text or (_CONFIRM.search(questions) and not _IDENTITY.search(questions)):
            return self._confirm()
        if REFUSAL.search(text):
            return self._script.on_refusal() or f"I understand. Thank you. {STOP}"
        if _ANYTHING_ELSE.search(text) or "?" not in text:
            return f"No, that's all. Thank you. {STOP}"
        return self._answer_question()

    def _confirm(self) -> str:
        index = self._confirmations
        self._confirmations += 1
        return self._script.on_confirm(index) or "Yes, please go ahead."

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
