"""What a model call returns: one assistant reply with its cost, and the sum over many calls."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from t2t.core.schema import Message, ToolCall

__all__ = ["Completion", "Usage"]


class Completion(BaseModel):
    """One assistant reply, with what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: Message
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str
    finish_reason: str | None = None  # informational only: never decides whether tools were called
    cached: bool = False  # served by a ModelCache: tokens and cost are the original call's

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self.message.tool_calls or [])


class Usage(BaseModel):
    """Model calls summed over an episode or a run; cached calls count their original cost."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, item: Completion | Usage) -> None:
        """Count one completion, or merge another tally."""
        if isinstance(item, Usage):
            calls, cached = item.calls, item.cached_calls
        else:
            calls, cached = 1, int(item.cached)
        self.calls += calls
        self.cached_calls += cached
        self.prompt_tokens += item.prompt_tokens
        self.completion_tokens += item.completion_tokens
        self.cost_usd += item.cost_usd
