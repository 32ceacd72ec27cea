"""The data model shared by every stage, as pydantic v2 models that round-trip through JSON.

Tasks keep τ²-bench's field names so they export to and import from τ² `tasks.json`; t2t adds
`variant` and `provenance`. Every model forbids unknown fields so a typo in a file is reported
by name instead of silently dropped, except when reading a τ² file (validation context
`TAU2_CONTEXT`): τ² ignores fields it does not know, newer τ² versions and τ²-based pipelines
add some (a task's `issues` list), so the τ²-shaped models keep them in `tau2_extra` and the
export writes them back where they were.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    model_serializer,
    model_validator,
)

__all__ = [
    "SCHEMA_VERSION",
    "TAU2_CONTEXT",
    "Action",
    "Episode",
    "EvaluationCriteria",
    "Message",
    "Provenance",
    "Reward",
    "Task",
    "TaskDescription",
    "ToolCall",
    "ToolResult",
    "Trajectory",
    "UserInstructions",
    "UserScenario",
    "Variant",
    "VariantKind",
    "register_variant_kind",
    "unregister_variant_kind",
    "variant_kinds",
]

SCHEMA_VERSION = 1

_VARIANT_KINDS: dict[str, None] = {}
"""Names of the registered variant kinds, in registration order (`t2t.intents` fills it)."""


def register_variant_kind(name: str) -> None:
    """Let tasks and episodes of kind `name` load; `t2t.intents.register_kind` calls it."""
    _VARIANT_KINDS[name] = None


def unregister_variant_kind(name: str) -> None:
    _VARIANT_KINDS.pop(name, None)


def variant_kinds() -> tuple[str, ...]:
    """The registered kind names, in registration order."""
    return tuple(_VARIANT_KINDS)


_KINDS_PACKAGE = "t2t.intents"
"""Registers the built-in kinds when imported; loaded on the first unknown name, by name, because
core may not import the stages above it."""


def _registered(name: str) -> str:
    if name not in _VARIANT_KINDS:
        importlib.import_module(_KINDS_PACKAGE)  # the built-in kinds, if not registered yet
    if name not in _VARIANT_KINDS:
        known = ", ".join(map(repr, _VARIANT_KINDS))
        raise ValueError(f"unknown variant kind {name!r}; registered kinds: {known}")
    return name


VariantKind = Annotated[str, AfterValidator(_registered)]
"""A variant kind's name, checked against the kinds registered in `t2t.intents` (not a fixed
list, so a new kind needs no edit here)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


TAU2_CONTEXT = {"tau2": True}
"""Context for a τ² file: read with it, fields t2t does not know are kept, not refused; dumped
with it, they are written back where they were."""


class _Tau2Model(_Model):
    """A model τ²'s files carry too: read with `TAU2_CONTEXT`, the fields t2t does not know go
    to `tau2_extra` (kept through t2t's own files and written back by the τ² export).
    """

    tau2_extra: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown_tau2_fields(cls, data: Any, info: ValidationInfo) -> Any:
        if not (isinstance(data, dict) and info.context and info.context.get("tau2")):
            return data
        unknown = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not unknown:
            return data
        known = {k: v for k, v in data.items() if k in cls.model_fields}
        return {**known, "tau2_extra": {**(known.get("tau2_extra") or {}), **unknown}}

    @model_serializer(mode="wrap")
    def _spread_tau2_extra(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if info.context and info.context.get("tau2") and isinstance(data, dict):
            extra = data.pop("tau2_extra", None) or {}
            data.update({k: v for k, v in extra.items() if k not in data})
        return data


class ToolCall(_Model):
    """A request to run one tool with JSON arguments."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ToolResult(_Model):
    """What a tool call returned; `ok=False` carries the error text the model is shown."""

    call_id: str | None = None
    name: str
    ok: bool
    content: str
    error: str | None = None


class Message(_Model):
    """One chat turn, in the OpenAI shape litellm speaks."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class Trajectory(_Model):
    """The output of exploration: a walk through a domain from one real user."""

    id: str
    domain: str
    seed: int
    user_id: str
    calls: list[ToolCall] = Field(default_factory=list)
    results: list[ToolResult] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)

    @property
    def successful_calls(self) -> list[ToolCall]:
        """Only calls that succeeded count as gold."""
        return [call for call, result in zip(self.calls, self.results, strict=False) if result.ok]


class TaskDescription(_Tau2Model):
    """τ²'s free-text description block."""

    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class UserInstructions(_Tau2Model):
    """What the simulated user knows and wants (τ²'s `StructuredUserInstructions`)."""

    domain: str
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str


class UserScenario(_Tau2Model):
    persona: str | None = None
    instructions: UserInstructions | str


class Action(_Tau2Model):
    """A gold tool call (τ²'s `Action`)."""

    action_id: str
    requestor: Literal["assistant", "user"] = "assistant"
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    info: str | None = None
    compare_args: list[str] | None = None

    def to_call(self) -> ToolCall:
        return ToolCall(name=self.name, arguments=self.arguments, id=self.action_id)


class EvaluationCriteria(_Tau2Model):
    actions: list[Action] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None
    env_assertions: list[dict[str, Any]] | None = None
    reward_basis: list[str] | None = None


class Variant(_Model):
    """Which intent a task tests; kind-specific fields go in `details`, so new kinds fit as is."""

    kind: VariantKind = "base"
    parent_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Provenance(_Model):
    """Where a task came from, to rebuild it."""

    trajectory_id: str | None = None
    generator: str = "unknown"
    seed: int | None = None
    judge_scores: dict[str, float] | None = None
    source: str | None = None


class Task(_Tau2Model):
    """A τ²-compatible task plus the t2t intent variant and its provenance."""

    id: str
    domain: str | None = None
    description: TaskDescription | None = None
    user_scenario: UserScenario
    ticket: str | None = None
    initial_state: dict[str, Any] | None = None
    evaluation_criteria: EvaluationCriteria | None = None
    annotations: Any = None
    variant: Variant = Field(default_factory=Variant)
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def domain_name(self) -> str | None:
        """The task's domain: its own field, else the one its τ² instructions name."""
        instructions = self.user_scenario.instructions
        return self.domain or (None if isinstance(instructions, str) else instructions.domain)

    @property
    def gold_calls(self) -> list[ToolCall]:
        """The gold actions the agent is expected to make, in order."""
        criteria = self.evaluation_criteria
        return [action.to_call() for action in (criteria.actions or [])] if criteria else []


class Reward(_Model):
    """Every component is reported, not only the product."""

    value: float
    state_ok: bool | None = None
    communicate_ok: bool | None = None
    forbidden_ok: bool | None = None
    required_ok: bool | None = None
    clarified_ok: bool | None = None
    refused_ok: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def _readable_version(version: int) -> int:
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} was written by a newer t2t (this one reads up to "
            f"{SCHEMA_VERSION}): upgrade t2t to read it"
        )
    return version


class Episode(_Model):
    """One rollout of one task by one agent with one user: a line of a results JSONL."""

    schema_version: Annotated[int, AfterValidator(_readable_version)] = SCHEMA_VERSION
    task_id: str
    variant: VariantKind = "base"
    agent_model: str
    user_model: str
    trial: int = 0
    seed: int | None = None
    messages: list[Message] = Field(default_factory=list)
    termination_reason: str
    reward: Reward | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    duration_s: float = 0.0
    error: str | None = None
    config_hash: str = ""
    task_hash: str = ""  # the task's content and DB: a regenerated task set is not "done"

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The agent's tool calls in order, as they would be replayed."""
        return [call for m in self.messages if m.role == "assistant" for call in m.tool_calls or []]
