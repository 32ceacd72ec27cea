"""An offline stand-in for an LLM explorer: a litellm provider that plays the graph explorer's walk.

`model="t2t-explore/graph"` answers the LLM explorer's prompts with the calls of an offline walk
for the user named in the prompt (one call per turn, a policy justification before each write,
then a closing message), so the whole LLM path (prompt, tool schemas, litellm, tool-call parsing,
justification and rule checks, trajectory → walk) runs without a key, in tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any

from t2t.core.environment import Environment
from t2t.core.schema import Message, ToolCall
from t2t.explore.graph import ToolGraph
from t2t.explore.values import ValuePool
from t2t.explore.walk import explore_offline
from t2t.llm import ProviderRequest, register_provider

__all__ = ["PROBE_EXPLORER", "register_probe_explorer"]

PROBE_EXPLORER = "t2t-explore"
_IDENTITY = re.compile(r"identity information: (\{.*?\})\.", re.S)


def register_probe_explorer(
    env: Environment, graph: ToolGraph, pool: ValuePool, *, latency_s: float = 0.0
) -> str:
    """Register the provider for this environment; returns the model name to pass."""

    async def answer(request: ProviderRequest) -> Message:
        if latency_s:
            await asyncio.sleep(latency_s)
        return _next_turn(env, graph, pool, request.messages)

    register_provider(PROBE_EXPLORER, answer)
    return f"{PROBE_EXPLORER}/graph"


def _user_of(env: Environment, graph: ToolGraph, identity: dict[str, Any]) -> str | None:
    table = env.state[graph.user_table]
    if identity.get(graph.user_key) in table:
        return str(identity[graph.user_key])
    wanted = {str(v) for v in identity.values()}
    for key, record in table.items():
        text = json.dumps(record, ensure_ascii=False)
        if all(f'"{v}"' in text for v in wanted):
            return str(key)
    return None


def _next_turn(
    env: Environment, graph: ToolGraph, pool: ValuePool, messages: list[Message]
) -> Message:
    prompt = next((m.content or "" for m in messages if m.role == "user"), "")
    match = _IDENTITY.search(prompt)
    user = _user_of(env, graph, json.loads(match.group(1))) if match else None
    if user is None:
        return Message(role="assistant", content="I could not identify the customer.")
    seed = int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=6).digest(), "big")
    walk = None
    for attempt in range(8):  # the walk must start from this user: retry seeds until one does
        candidate = explore_offline(env, graph, pool, seed=seed + attempt, user_id=user)
        if candidate is not None:
            walk = candidate
            break
    calls = walk.trajectory("probe").calls if walk else []
    step = sum(1 for m in messages if m.role == "assistant")
    if step >= len(calls):
        return Message(role="assistant", content="Exploration finished.")
    call = calls[step]
    text = None
    if env.domain.is_write(call.name):
        text = (
            f"Justification: the customer is authenticated and the records involved were read; "
            f"the policy allows {call.name} here, so I make this change."
        )
    return Message(
        role="assistant",
        content=text,
        tool_calls=[ToolCall(name=call.name, arguments=call.arguments, id=f"probe_{step}")],
    )
