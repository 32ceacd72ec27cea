"""The paper's LLM explorer: a model walks a domain for one real user and only good calls count.

The model gets the policy, the user's identity, every read tool plus a seeded sample of write tools,
and up to two example walks. Every call runs on a fork of the environment. Before a write runs, the
explorer refuses it if the model did not justify it in plain text first, or if it breaks a policy
rule; the refusal goes back to the model as a failed tool result and the walk goes on, as it does
after a malformed or unknown call. The trajectory keeps every call with its result, so
`successful_calls` are the ones a task can be built from.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from typing import Any

from t2t.core.environment import Domain, Environment
from t2t.core.schema import Message, ToolCall, ToolResult, Trajectory
from t2t.llm import complete, raw_arguments, run_sync

__all__ = [
    "MIN_JUSTIFICATION_CHARS",
    "explore_with_llm",
    "explore_with_llm_async",
    "exploration_prompt",
    "sample_tools",
]

logger = logging.getLogger(__name__)

MIN_JUSTIFICATION_CHARS = 20
"""Shorter assistant text before a write does not count as a justification."""

_MAX_EXAMPLES = 2
_INSTRUCTIONS = """\
# Your task
You are exploring this business system on behalf of one real customer, to discover realistic
things such a customer could ask for. You act as the support agent; the customer's identity is
given below, so you never need to ask them anything.

1. Authenticate the customer first, using their identity information with the lookup tools.
2. Read before you write: look up the customer's records before changing anything.
3. Make 1 to 3 meaningful changes (write calls) that the policy above allows for this customer.
4. Before EACH write, state in plain text, in the same message as the write call, a one-paragraph
   justification that cites the policy rule allowing it. A write without one is refused.
5. A refused or failed call is an answer, not a dead end: read the message and adjust.
6. When you are done, reply with a short summary and no tool call.
"""


def sample_tools(domain: Domain, *, seed: int, size: int) -> list[str]:
    """The tools offered to the model: every read tool plus `size` write tools sampled by `seed`.

    Reads are all kept because authentication and look-ups need them; sampling the writes makes
    different seeds explore different actions. Names keep the domain's order.
    """
    reads = [name for name, spec in domain.tools.items() if spec.kind == "read"]
    writes = [name for name, spec in domain.tools.items() if spec.kind == "write"]
    chosen = set(random.Random(seed).sample(writes, min(max(size, 0), len(writes))))
    return [name for name in domain.tools if name in chosen or name in reads]


def _render_example(trajectory: Trajectory) -> str:
    calls = trajectory.successful_calls or trajectory.calls
    lines = [f"- {c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in calls]
    return "\n".join(lines) or "- (no calls)"


def exploration_prompt(
    domain: Domain, *, examples: Sequence[Trajectory] = (), rng: random.Random | None = None
) -> str:
    """The system prompt: the domain policy, the exploration instructions, example walks."""
    parts = [domain.policy.strip(), _INSTRUCTIONS]
    chosen = list(examples)
    if len(chosen) > _MAX_EXAMPLES:
        chosen = (rng or random.Random(0)).sample(chosen, _MAX_EXAMPLES)
    for index, example in enumerate(chosen, 1):
        parts.append(f"# Example exploration {index} (calls in order)\n{_render_example(example)}")
    return "\n\n".join(part for part in parts if part)


def _user_message(user_id: str, identity: dict[str, Any]) -> str:
    details = json.dumps(identity, ensure_ascii=False, sort_keys=True)
    return (
        f"You are acting for the customer with this identity information: {details}. "
        "Authenticate them, explore their records and make the changes the policy allows."
    )


def _justified(text: str | None) -> bool:
    return text is not None and len(text.strip()) >= MIN_JUSTIFICATION_CHARS


class _Walk:
    """The state of one exploration: the chat, calls and results, the environment fork."""

    def __init__(self, domain: Domain, env: Environment, offered: list[str]) -> None:
        self.domain, self.env, self.offered = domain, env, set(offered)
        self.calls: list[ToolCall] = []
        self.results: list[ToolResult] = []
        self.messages: list[Message] = []

    def answer(self, call: ToolCall, justification: bool) -> ToolResult:
        """Run one call, or refuse it with the reason the model is told."""
        raw = raw_arguments(call)
        if raw is not None:
            return _refuse(call, f"Error: the arguments are not a JSON object: {raw[:200]}")
        if call.name not in self.offered:
            return _refuse(call, f"Error: Tool '{call.name}' not found.")
        if self.domain.is_write(call.name):
            if not justification:
                return _refuse(
                    call,
                    "Refused: before each write, state in plain text a one-paragraph "
                    "justification citing the policy, in the same message as the call. "
                    "Then make the call again.",
                )
            broken = self.env.check_rules(call)
            if broken:
                return _refuse(call, "; ".join(f"Policy rule {r}: {why}" for r, why in broken))
        return self.env.run(call)

    def record(self, call: ToolCall, result: ToolResult) -> None:
        self.calls.append(call)
        self.results.append(result)
        self.messages.append(Message(role="tool", content=result.content, tool_call_id=call.id))


def _refuse(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, ok=False, content=message, error=message)


async def explore_with_llm_async(
    domain: Domain,
    env: Environment,
    *,
    model: str,
    user_id: str,
    identity: dict[str, Any],
    seed: int,
    examples: Sequence[Trajectory] = (),
    step_budget: int = 12,
    tool_subset_size: int = 6,
    trajectory_id: str | None = None,
) -> Trajectory:
    """Let `model` explore `domain` for one user; `env` itself is never changed.

    Args:
        domain: The domain (policy, tools, rules).
        env: The starting state; calls run on a fork of it.
        model: A litellm model name.
        user_id: The user explored for (recorded in the trajectory, never shown to the model).
        identity: What the user would tell an agent to be found (e.g. their email).
        seed: Samples the write tools and the examples shown.
        examples: Earlier trajectories; up to two are shown as hints.
        step_budget: Most model calls made.
        tool_subset_size: How many write tools are offered.
        trajectory_id: Defaults to "<domain>-llm-<user_id>-<seed>".
    """
    rng = random.Random(seed)
    offered = sample_tools(domain, seed=seed, size=tool_subset_size)
    schemas = [domain.tools[name].openai_schema() for name in offered]
    walk = _Walk(domain, env.fork(), offered)
    walk.messages += [
        Message(role="system", content=exploration_prompt(domain, examples=examples, rng=rng)),
        Message(role="user", content=_user_message(user_id, identity)),
    ]
    previous_text: str | None = None  # a justification may precede its write by one message
    for step in range(step_budget):
        reply = (await complete(model, walk.messages, tools=schemas)).message
        calls = [
            call if call.id else call.model_copy(update={"id": f"call_{step}_{index}"})
            for index, call in enumerate(reply.tool_calls or [])
        ]
        walk.messages.append(reply.model_copy(update={"tool_calls": calls or None}))
        if not calls:
            break
        justification = _justified(reply.content) or _justified(previous_text)
        for call in calls:
            walk.record(call, walk.answer(call, justification))
        wrote = any(domain.is_write(c.name) for c in calls)
        previous_text = None if wrote else reply.content
    else:
        logger.debug(
            "exploration of %s for %s spent its %d steps", domain.name, user_id, step_budget
        )
    return Trajectory(
        id=trajectory_id or f"{domain.name}-llm-{user_id}-{seed}",
        domain=domain.name,
        seed=seed,
        user_id=user_id,
        calls=walk.calls,
        results=walk.results,
        messages=walk.messages,
    )


def explore_with_llm(
    domain: Domain,
    env: Environment,
    *,
    model: str,
    user_id: str,
    identity: dict[str, Any],
    seed: int,
    examples: Sequence[Trajectory] = (),
    step_budget: int = 12,
    tool_subset_size: int = 6,
    trajectory_id: str | None = None,
) -> Trajectory:
    """`explore_with_llm_async` for sync callers (safe in Jupyter)."""
    return run_sync(
        explore_with_llm_async(
            domain,
            env,
            model=model,
            user_id=user_id,
            identity=identity,
            seed=seed,
            examples=examples,
            step_budget=step_budget,
            tool_subset_size=tool_subset_size,
            trajectory_id=trajectory_id,
        )
    )
