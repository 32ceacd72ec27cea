"""One episode: the agent greets, the user states its request, then the agent acts until one
side ends it.

Tool calls run on the task's own fork of the DB; a text reply goes to the user. An episode ends
when the user stops or transfers, the agent transfers, a step limit is reached, the agent fails,
or a model call fails for good (an infrastructure error: recorded, never scored). A finished
episode is scored (`benchmark.scoring`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from t2t.benchmark.agent import GREETING, Agent
from t2t.benchmark.config import RunConfig
from t2t.benchmark.probes import is_probe
from t2t.benchmark.scoring import evaluate_episode
from t2t.benchmark.users import OUT_OF_SCOPE, STOP, TRANSFER, User, make_user
from t2t.core.environment import TOOL_ERROR_PREFIX, Environment
from t2t.core.errors import ModelCallError
from t2t.core.replay import initial_environment
from t2t.core.schema import Episode, Message, Task, ToolCall, ToolResult
from t2t.intents.text import TRANSFER_TOOL
from t2t.llm import Completion, raw_arguments
from t2t.llm.hf_local import is_local

__all__ = ["TERMINATION_REASONS", "run_episode", "runs_here", "task_hash"]

TERMINATION_REASONS = (
    "user_stop",
    "transfer",
    "out_of_scope",
    "max_steps",
    "agent_error",
    "infra_error",
)
_MAX_TOOL_ERRORS = 10  # in a row: the agent is stuck in a loop

_T = TypeVar("_T")


def task_hash(task: Task, env: Environment) -> str:
    """The task's content and the DB it runs on: same id, other content → another episode."""
    text = task.model_dump_json() + env.state_hash()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def runs_here(config: RunConfig) -> bool:
    """The agent or user is code in this process (a probe or a local model), not a service."""
    return any(is_probe(model) or is_local(model) for model in (config.agent, config.user))


class _Tally:
    def __init__(self) -> None:
        self.cost_usd = 0.0
        self.tokens = 0
        self.spent_usd = 0.0  # not counting cache hits

    def add(self, completion: Completion | None) -> None:
        if completion is None:
            return
        self.cost_usd += completion.cost_usd
        self.tokens += completion.prompt_tokens + completion.completion_tokens
        if not getattr(completion, "cached", False):
            self.spent_usd += completion.cost_usd


async def run_episode(
    task: Task,
    env: Environment,
    config: RunConfig,
    trial: int,
    *,
    semaphores: dict[str, asyncio.Semaphore] | None = None,
    cache: Any = None,
    agent: Agent | None = None,
) -> tuple[Episode, float]:
    """Play one episode of `task` and score it; returns it with the money actually spent."""
    started = time.perf_counter()
    semaphores = semaphores if semaphores is not None else {}
    state = initial_environment(env, task)
    state = state.fork() if state is env else state
    agent = agent or Agent(config.agent, env.domain, **config.agent_params)
    user = make_user(config.user, task, env.domain, trial=trial, cache=cache, **config.user_params)
    messages = [Message(role="assistant", content=GREETING)]
    tally = _Tally()
    reason, error = await _converse(
        task, state, config, trial, agent, user, messages, tally, semaphores, cache
    )
    episode = Episode(
        task_id=task.id,
        variant=task.variant.kind,
        agent_model=config.agent,
        user_model=config.user,
        trial=trial,
        messages=messages,
        termination_reason=reason,
        cost_usd=round(tally.cost_usd, 8),
        tokens=tally.tokens,
        duration_s=round(time.perf_counter() - started, 4),
        error=error,
        config_hash=config.config_hash(),
        task_hash=task_hash(task, env),
    )
    if reason != "infra_error":
        episode.reward = evaluate_episode(task, messages, env)
    return episode, tally.spent_usd


async def _converse(
    task: Task,
    state: Environment,
    config: RunConfig,
    trial: int,
    agent: Agent,
    user: User,
    messages: list[Message],
    tally: _Tally,
    semaphores: dict[str, asyncio.Semaphore],
    cache: Any,
) -> tuple[str, str | None]:
    """Alternate user and agent turns until one side ends; returns (reason, error)."""
    extra = {"cache": cache}
    try:
        turn = await _limited(semaphores, config.user, user.reply(messages))
        tally.add(turn.completion)
        messages.append(Message(role="user", content=turn.text))
        if (reason := _user_ended(turn.text)) is not None:
            return reason, None
        errors_in_a_row = 0
        for _ in range(config.max_steps):
            completion = await _limited(
                semaphores, config.agent, agent.act(task, messages, trial=trial, **extra)
            )
            tally.add(completion)
            reply = _with_call_ids(completion.message, len(messages))
            reply_index = len(messages)
            messages.append(reply)
            if reply.tool_calls:
                for position, call in enumerate(reply.tool_calls):
                    result = _run_tool(state, call)
                    messages.append(_tool_message(call, result))
                    errors_in_a_row = 0 if result.ok else errors_in_a_row + 1
                    if result.ok and call.name == TRANSFER_TOOL:
                        # calls after the transfer never ran: the record keeps only those that did
                        ran = reply.tool_calls[: position + 1]
                        messages[reply_index] = reply.model_copy(update={"tool_calls": ran})
                        return "transfer", None
                if errors_in_a_row >= _MAX_TOOL_ERRORS:
                    return "agent_error", f"{errors_in_a_row} failed tool calls in a row"
                continue
            if not (reply.content or "").strip():
                return "agent_error", "the agent replied with neither text nor a tool call"
            turn = await _limited(semaphores, config.user, user.reply(messages))
            tally.add(turn.completion)
            messages.append(Message(role="user", content=turn.text))
            if (reason := _user_ended(turn.text)) is not None:
                return reason, None
        return "max_steps", None
    except ModelCallError as exc:
        if exc.handler_error is not None and runs_here(config):
            raise exc.handler_error from None  # a probe's or local model's failure is a bug
        return "infra_error", str(exc)


async def _limited(
    semaphores: dict[str, asyncio.Semaphore], model: str, coroutine: Awaitable[_T]
) -> _T:
    semaphore = semaphores.get(model)
    if semaphore is None:
        return await coroutine
    async with semaphore:
        return await coroutine


def _user_ended(text: str) -> str | None:
    if TRANSFER in text:
        return "transfer"
    if OUT_OF_SCOPE in text:
        return "out_of_scope"
    if STOP in text:
        return "user_stop"
    return None


def _with_call_ids(reply: Message, position: int) -> Message:
    """Give id-less tool calls an id: the tool messages that answer them must name one."""
    if not reply.tool_calls or all(call.id for call in reply.tool_calls):
        return reply
    calls = [
        call if call.id else call.model_copy(update={"id": f"call_{position}_{index}"})
        for index, call in enumerate(reply.tool_calls)
    ]
    return reply.model_copy(update={"tool_calls": calls})


def _run_tool(state: Environment, call: ToolCall) -> ToolResult:
    raw = raw_arguments(call)
    if raw is not None:
        message = f"the arguments of {call.name} are not a JSON object: {raw[:200]}"
        return ToolResult(call_id=call.id, name=call.name, ok=False, content="", error=message)
    return state.run(call)


def _tool_message(call: ToolCall, result: ToolResult) -> Message:
    content = result.content if result.ok else f"{TOOL_ERROR_PREFIX}{result.error}"
    return Message(role="tool", content=content, tool_call_id=call.id)
