"""The agent under test: any litellm model, given the domain policy and its tools.

Probe agents (`t2t/oracle`, …) are models like any other here: they are litellm providers, so
the agent code, the cache and the accounting are exactly the ones real models go through.
"""

from __future__ import annotations

from typing import Any

from t2t.core.environment import Domain
from t2t.core.schema import Message, Task
from t2t.llm import Completion, complete

__all__ = ["GREETING", "Agent", "agent_system_prompt"]

GREETING = "Hi! How can I help you today?"

_PREAMBLE = """You are a customer-service agent. Help the user with their request by following the
policy below and using the tools you are given. Ask the user for any information you need and
never make up ids or values. Make at most one tool call per message, and before any action that
changes the database, describe it and get an explicit "yes" from the user.

# Policy
"""


def agent_system_prompt(domain: Domain) -> str:
    return _PREAMBLE + (domain.policy or "(no written policy)")


class Agent:
    """One agent model bound to a domain: policy as system prompt, tools as function schemas."""

    def __init__(self, model: str, domain: Domain, **params: Any) -> None:
        self.model = model
        self.params = params
        self._system = Message(role="system", content=agent_system_prompt(domain))
        self._tools = domain.tool_schemas()

    async def act(
        self, task: Task, messages: list[Message], *, trial: int, **extra: Any
    ) -> Completion:
        """The agent's next turn; tool calls are read from the reply's `tool_calls` only."""
        metadata = {"t2t_task_id": task.id, "t2t_trial": trial}
        completion: Completion = await complete(
            self.model,
            [self._system, *messages],
            self._tools,
            trial=trial,
            metadata=metadata,
            **{**self.params, **extra},
        )
        return completion
