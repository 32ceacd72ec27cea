"""The contract of a variant kind and the registry of kinds.

Everything that differs between kinds lives behind these hooks, so the scripted user, the probes,
the scorer and the failure taxonomy (later stages, which may not be imported here) ask the task's
kind instead of reading detail keys or branching on names: a new kind is one module plus
`register_kind`. `KindHooks` gives every hook a neutral default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from t2t.core.environment import Domain, Environment
from t2t.core.replay import ReplayResult
from t2t.core.schema import (
    Episode,
    Message,
    Task,
    ToolCall,
    register_variant_kind,
    unregister_variant_kind,
)
from t2t.explore.walk import Walk

__all__ = [
    "INTENT_KINDS",
    "Details",
    "FailureType",
    "IntentKind",
    "KindHooks",
    "ScoreContext",
    "UserScript",
    "details_of",
    "kind_of",
    "register_kind",
    "unregister_kind",
]


class Details(BaseModel):
    """A kind's typed view of `variant.details`; keys it does not name (the structured request,
    `rewrite_rejected`) are kept as extras, so the stored dict round-trips unchanged.
    """

    model_config = ConfigDict(extra="allow")


class FailureType(NamedTuple):
    """A failure type's explanation and rank: lower ranks are more telling (see the taxonomy)."""

    explanation: str
    rank: float


@dataclass
class ScoreContext:
    """What the scorer knows about one episode, for a kind's reward checks.

    `details` is the reward's details dict: a kind may add diagnostics to it.
    """

    task: Task
    env: Environment  # the task set's environment, not set up for the task
    start: Environment  # the task's initial state
    messages: list[Message]
    located: list[tuple[int, ToolCall]]  # (message index, call) of each agent call
    replay: ReplayResult  # the agent's calls replayed from `start`
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def calls(self) -> list[ToolCall]:
        return [call for _, call in self.located]


class UserScript:
    """The kind's part of the scripted user for one episode; `None` lets the generic rules answer.

    The scripted user asks `on_question` first (any agent turn), `on_confirm` when the agent asks
    for a yes (`index` counts confirmations so far) and `on_refusal` when the agent says no.
    """

    def on_question(self, text: str, questions: str) -> str | None:
        return None

    def on_confirm(self, index: int) -> str | None:
        return None

    def on_refusal(self) -> str | None:
        return None


@runtime_checkable
class IntentKind(Protocol):
    # read-only members: a kind sets them as class attributes, each with its own narrower type
    @property
    def name(self) -> str: ...

    @property
    def probe(self) -> str | None: ...  # the flawed probe this kind defeats

    @property
    def strategies(self) -> dict[str, float]: ...

    @property
    def details_model(self) -> type[Details]: ...

    # details that tell two tasks apart beyond their gold
    @property
    def identity_keys(self) -> tuple[str, ...]: ...

    @property
    def feasible(self) -> bool: ...  # False: handing the user to a human is a valid answer

    @property
    def failure_types(self) -> dict[str, FailureType]: ...

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task: ...

    def verify(self, task: Task, env: Environment) -> None: ...

    def user_script(self, task: Task, domain: Domain) -> UserScript: ...

    def probe_plan(
        self,
        probe: str,
        task: Task,
        gold: list[ToolCall],
        writes: frozenset[str],
        switched: bool,
    ) -> list[ToolCall]: ...

    def probe_before_write(self, probe: str, task: Task, messages: list[Message]) -> str | None: ...

    def blind_confirmation(self, probe: str) -> bool: ...

    def probe_closing(self, probe: str, task: Task) -> str | None: ...

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]: ...

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]: ...


class KindHooks:
    """Neutral defaults for every hook: a kind overrides only what it changes."""

    name: ClassVar[str]
    probe: ClassVar[str | None] = None
    details_model: ClassVar[type[Details]] = Details
    identity_keys: ClassVar[tuple[str, ...]] = ()
    feasible: ClassVar[bool] = True
    failure_types: ClassVar[dict[str, FailureType]] = {}

    def details(self, task: Task) -> Any:
        """The task's details, validated by this kind's model."""
        return self.details_model.model_validate(task.variant.details)

    def user_script(self, task: Task, domain: Domain) -> UserScript:
        return UserScript()

    def probe_plan(
        self,
        probe: str,
        task: Task,
        gold: list[ToolCall],
        writes: frozenset[str],
        switched: bool,
    ) -> list[ToolCall]:
        return gold

    def probe_before_write(self, probe: str, task: Task, messages: list[Message]) -> str | None:
        """What a probe says instead of making its next write (e.g. a question), if anything."""
        return None

    def blind_confirmation(self, probe: str) -> bool:
        """Whether `probe` takes any answer to its confirmation question as a yes."""
        return False

    def probe_closing(self, probe: str, task: Task) -> str | None:
        """What a probe says when its plan is done, instead of reporting success."""
        return None

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]:
        """The kind's reward components: `Reward` fields by name, or components of its own."""
        return {}

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]:
        """The kind's failure types that apply to a failed episode (`replay`: of the agent's
        calls, given only when the final state is wrong and the task is known).
        """
        return []


INTENT_KINDS: dict[str, IntentKind] = {}
"""The registered kinds in registration order: every ordering of kinds comes from here."""


def register_kind(kind: IntentKind) -> IntentKind:
    """Make `kind` known to every stage (tasks of its name load, generate, score, classify)."""
    INTENT_KINDS[kind.name] = kind
    register_variant_kind(kind.name)
    return kind


def unregister_kind(name: str) -> None:
    INTENT_KINDS.pop(name, None)
    unregister_variant_kind(name)


def kind_of(task: Task) -> IntentKind:
    return INTENT_KINDS[task.variant.kind]


def details_of(task: Task) -> Any:
    """The task's details, validated by its kind's model."""
    return kind_of(task).details_model.model_validate(task.variant.details)
