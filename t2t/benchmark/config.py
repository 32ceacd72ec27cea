"""What a rollout run is: `RunConfig` (read from a TOML/YAML file by `load_run_config`), and
`RunStats`, what a run did.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from t2t.core.errors import ConfigError, config_error
from t2t.core.schema import SCHEMA_VERSION
from t2t.core.settings import ModelSettings, is_secret_key, load_model_settings, read_config_file
from t2t.llm.hf_local import is_local, model_fingerprint

__all__ = ["RunConfig", "RunStats", "load_run_config"]


class RunConfig(BaseModel):
    """What decides an episode's content (hashed) and how fast episodes run (not hashed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str
    user: str = "scripted"
    trials: int = Field(1, ge=1)
    max_steps: int = Field(30, ge=1, description="agent turns (model calls) per episode")
    agent_params: dict[str, Any] = Field(default_factory=dict)
    user_params: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(32, ge=1)
    user_concurrency: int | None = Field(None, ge=1)
    cache_dir: str | None = Field(None, description="model-call cache; None: T2T_CACHE_DIR")
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="model → (input, output) USD per token"
    )

    def config_hash(self) -> str:
        """Hash of what changes an episode; trials, concurrency and the cache do not."""
        content = self.model_dump(include={"agent", "user", "max_steps"})
        content["agent_params"] = _public(self.agent_params)
        content["user_params"] = _public(self.user_params)
        content["schema_version"] = SCHEMA_VERSION
        weights = {m: model_fingerprint(m) for m in (self.agent, self.user) if is_local(m)}
        if weights:  # a local model retrained in place is another model
            content["weights"] = weights
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _public(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters that can change a reply: no secrets, no transport settings."""
    transport = {"timeout", "max_retries", "retry_wait_s", "metadata"}
    return {k: v for k, v in params.items() if not is_secret_key(k) and k not in transport}


_RUN_KEYS = {"agent", "user", "trials", "max_steps", "cache_dir", "concurrency"}


def load_run_config(path: str | Path | None = None, **overrides: Any) -> RunConfig:
    """A `RunConfig` from a TOML/YAML file (`[agent]`, `[user]` model settings, run keys at the
    top) with `overrides` (e.g. CLI flags; None values are ignored) applied on top.

    `agent` and `user` are a model name or a table of `ModelSettings` (temperature, max_tokens,
    api_base, timeout_s, max_retries, concurrency, prices, params); keys come from the environment.
    """
    data: dict[str, Any] = dict(read_config_file(path)) if path is not None else {}
    where = str(path) if path is not None else "settings"
    unknown = sorted(set(data) - _RUN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; known: {sorted(_RUN_KEYS)}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("agent", "user") and isinstance(data.get(key), dict) and value != "scripted":
            # a flag names the model and keeps the file's settings, but not its prices
            kept = {k: v for k, v in data[key].items() if not k.endswith("cost_per_token")}
            data[key] = {**(kept if value != data[key].get("model") else data[key]), "model": value}
        else:
            data[key] = value
    if "agent" not in data:
        raise ConfigError("no agent model: pass --agent MODEL or set agent in the config file")
    agent = load_model_settings(data.pop("agent"), where=f"{where}: agent")
    user_data = data.pop("user", "scripted")
    user = (
        None if user_data == "scripted" else load_model_settings(user_data, where=f"{where}: user")
    )
    fields: dict[str, Any] = {
        "agent": agent.model,
        "agent_params": _call_params(agent),
        "concurrency": data.pop("concurrency", agent.concurrency),
        "prices": _prices(agent, user),
        **data,
    }
    if user is not None:
        fields.update(user=user.model, user_params=_call_params(user))
        fields["user_concurrency"] = user.concurrency
    try:
        return RunConfig(**fields)
    except ValidationError as exc:
        raise config_error(exc, where) from None


def _call_params(settings: ModelSettings) -> dict[str, Any]:
    return {**settings.completion_params(), "max_retries": settings.max_retries}


def _prices(*settings: ModelSettings | None) -> dict[str, tuple[float, float]]:
    return {
        s.model: (s.input_cost_per_token, s.output_cost_per_token)
        for s in settings
        if s is not None
        and s.input_cost_per_token is not None
        and s.output_cost_per_token is not None
    }


class RunStats(BaseModel):
    """What a call of `run_rollouts` did."""

    out: str
    planned: int
    skipped: int
    ran: int
    infra_errors: int
    cost_usd: float
    duration_s: float
