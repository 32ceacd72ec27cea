"""The contract of a variant kind and the registry of kinds.

Everything that differs between kinds lives behind these hooks, so the scripted user, the probes,
the scorer and the failure taxonomy (later stages, which may not be imported here) ask the task's
kind instead of reading detail keys or branching on names: a new kind is one module plus
`register_kind`. `KindHooks` gives every hook a neutral default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    NamedTuple,
    Protocol,
    TypeVar,
    runtime_checkable,
)

from pydantic import BaseModel, BeforeValidator, ConfigDict

from t2t.core.environment import Domain, Environment
from t2t.core.errors import ConfigError
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
    "OrEmptyDict",
    "OrEmptyList",
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


def _empty_list_if_none(value: Any) -> Any:
    return [] if value is None else value


def _empty_dict_if_none(value: Any) -> Any:
    return {} if value is None else value


T = TypeVar("T")
OrEmptyList = Annotated[list[T], BeforeValidator(_empty_list_if_none)]
"""A details list where a stored `null` reads as empty (as `details.get(key) or []` did)."""
OrEmptyDict = Annotated[dict[str, Any], BeforeValidator(_empty_dict_if_none)]
"""A details dict where a stored `null` reads as empty."""

D = TypeVar("D", bound=Details)


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

    # the kind's probe takes any answer to its confirmation questions as a yes, on every task
    @property
    def probe_confirms_blindly(self) -> bool: ...

    @property
    def strategies(self) -> dict[str, float]: ...

    @property
    def details_model(self) -> type[Details]: ...

    def details(self, task: Task) -> Details: ...  # the task's details, validated by the model

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

    def probe_before_call(
        self, probe: str, task: Task, call: ToolCall, messages: list[Message], *, write: bool
    ) -> str | None: ...

    def probe_closing(self, probe: str, task: Task) -> str | None: ...

    def score(self, task: Task, context: ScoreContext) -> dict[str, bool | None]: ...

    def user_texts(self, task: Task) -> list[str]: ...

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]: ...

    def classify(
        self,
        episode: Episode,
        task: Task | None,
        env: Environment | None,
        replay: ReplayResult | None,
    ) -> list[str]: ...


class KindHooks(Generic[D]):
    """Neutral defaults for every hook: a kind overrides only what it changes.

    Generic over the kind's details model (`class Mine(KindHooks[MyDetails])` with
    `details_model = MyDetails`), so `details(task)` is typed.
    """

    name: ClassVar[str]
    probe: ClassVar[str | None] = None
    probe_confirms_blindly: ClassVar[bool] = False
    details_model: type[D]
    identity_keys: ClassVar[tuple[str, ...]] = ()
    feasible: ClassVar[bool] = True
    failure_types: ClassVar[dict[str, FailureType]] = {}

    def details(self, task: Task) -> D:
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

    def probe_before_call(
        self, probe: str, task: Task, call: ToolCall, messages: list[Message], *, write: bool
    ) -> str | None:
        """What a probe says instead of making its next call `call` (e.g. a question), if
        anything; `write`: the call changes the DB.
        """
        return None

    def probe_closing(self, probe: str, task: Task) -> str | None:
        """What a probe says when its plan is done, instead of reporting success."""
        return None

    def user_texts(self, task: Task) -> list[str]:
        """The kind's own user-facing texts beyond the scenario (audited like the scenario)."""
        return []

    def soundness(self, task: Task, env: Environment | None) -> dict[str, Any]:
        """The kind's soundness facts for `t2t audit` (`TaskAudit` field → value); without
        `env` (the task's DB) the ones that need a replay are left out.
        """
        return {}

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


_PROTOCOL_MEMBERS = sorted(
    name for name in dir(IntentKind) if not name.startswith("_") and name not in dir(Protocol)
)

INTENT_KINDS: dict[str, IntentKind] = {}
"""The registered kinds in registration order: every ordering of kinds comes from here."""


RESERVED_NAMES = frozenset({"all"})
"""Names a kind cannot take: "all" is the summary row of pass^k tables."""


def register_kind(kind: IntentKind, *, replace: bool = False) -> IntentKind:
    """Make `kind` known to every stage (tasks of its name load, generate, score, classify).

    Raises `ConfigError` when `kind` does not implement `IntentKind`, its name is reserved, or a
    kind of that name is registered already (unless `replace`).
    """
    given: object = kind  # typed callers may still pass anything
    if not isinstance(given, IntentKind):
        missing = [m for m in _PROTOCOL_MEMBERS if not hasattr(kind, m)]
        raise ConfigError(
            f"{kind!r} is not a variant kind: it lacks {', '.join(missing)} (see IntentKind)"
        )
    name: object = kind.name
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a variant kind needs a non-empty name, not {name!r}")
    if name in RESERVED_NAMES:
        raise ConfigError(f"a variant kind cannot be named {name!r}: the name is reserved")
    if name in INTENT_KINDS and not replace:
        raise ConfigError(
            f"a variant kind named {name!r} is registered already: pass replace=True to replace "
            "it, or unregister_kind it first"
        )
    INTENT_KINDS[name] = kind
    register_variant_kind(kind.name)
    return kind


def unregister_kind(name: str) -> None:
    INTENT_KINDS.pop(name, None)
    unregister_variant_kind(name)


def kind_of(task: Task) -> IntentKind:
    return INTENT_KINDS[task.variant.kind]


def details_of(task: Task) -> Details:
    """The task's details, validated by its kind's model (`kind_of(task).details(task)`)."""
    return kind_of(task).details(task)
