"""Model settings and `T2T_*` environment overrides, read in one place.

`ModelSettings` says how to call one model (sampling, endpoint, limits, price) and holds no
secrets: API keys come only from the environment (e.g. `OPENAI_API_KEY`), where litellm finds
them, so a settings file or a results folder can be shared as is. Config files are TOML or YAML.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from t2t.core.errors import ConfigError, DataError, config_error

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "ModelSettings",
    "cache_dir",
    "check_settings",
    "chromium_override",
    "configured_models",
    "is_secret_key",
    "load_model_settings",
    "model_timeout_s",
    "read_config_file",
    "results_root",
    "retry_wait_s",
    "sim_latency_s",
]

# a key naming a credential ("azure_ad_token", "aws_secret_access_key"), not "max_tokens"
_SECRET_KEY = re.compile(
    r"api_?key|secret|passw(or)?d|credential|access_key|(^|_)auth|(^|_)token$", re.I
)
_NO_SECRETS = "API keys come only from the environment, e.g. OPENAI_API_KEY"

DEFAULT_MAX_RETRIES = 4
"""Retries after a transient model failure (rate limit, timeout, 5xx) before giving up."""


def is_secret_key(name: str) -> bool:
    """Whether a parameter name holds a credential, so it stays out of files and cache keys."""
    return bool(_SECRET_KEY.search(name))


class ModelSettings(BaseModel):
    """How to call one model: litellm name, sampling, endpoint, limits and price; no secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    api_base: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    """Further litellm parameters (top_p, tool_choice, ...), passed as is."""
    timeout_s: float = Field(default=120, gt=0)
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    concurrency: int = Field(default=32, ge=1)
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        # ConfigError is not a ValueError, so pydantic lets it through unwrapped
        if isinstance(data, dict):
            _reject_secrets(data, prefix="")
            if isinstance(data.get("params"), dict):
                _reject_secrets(data["params"], prefix="params.")
                _reject_reserved(data["params"])
        return data

    def completion_params(self) -> dict[str, Any]:
        """The keyword arguments for `t2t.llm.client.complete` (litellm's names), Nones left out."""
        typed = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "api_base": self.api_base,
        }
        return {
            **{k: v for k, v in typed.items() if v is not None},
            **self.params,
            "timeout": self.timeout_s,
        }


def _reject_secrets(data: dict[str, Any], *, prefix: str) -> None:
    """Refuse credential-named keys at any depth (a bearer token inside `extra_headers` too)."""
    for key, value in data.items():
        if key in ModelSettings.model_fields and not prefix:
            continue  # our own fields hold no secrets ("output_cost_per_token")
        if isinstance(key, str) and is_secret_key(key):
            raise ConfigError(f"{prefix}{key}: not allowed in model settings; {_NO_SECRETS}")
        if isinstance(value, dict) and prefix:
            _reject_secrets(value, prefix=f"{prefix}{key}.")


def _reject_reserved(params: dict[str, Any]) -> None:
    """Keys with a field of their own (or set per call) must not hide in `params`."""
    reserved = set(ModelSettings.model_fields) | {"messages", "tools", "timeout"}
    for key in params:
        if key in reserved:
            raise ConfigError(f"params.{key}: set it as its own setting, not under params")


# ---------------------------------------------------------------------------------- files


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML (.toml) or YAML (.yaml/.yml) file's top-level mapping; errors name the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise DataError("a config file ends in .toml, .yaml or .yml", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("config file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read config file: {exc}", file=str(path)) from None
    data = _parse_toml(text, path) if suffix == ".toml" else _parse_yaml(text, path)
    if not isinstance(data, dict):
        raise DataError(
            f"expected a mapping of settings, found {type(data).__name__}", file=str(path)
        )
    return data


def _parse_toml(text: str, path: Path) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not valid TOML: {exc}", file=str(path)) from None


def _parse_yaml(text: str, path: Path) -> Any:
    import yaml  # ~50 ms, only for YAML files

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DataError(f"not valid YAML: {problem}{where}", file=str(path)) from None


def load_model_settings(data: dict[str, Any] | str, *, where: str) -> ModelSettings:
    """`ModelSettings` from a mapping (or a bare model name); errors name `where` and the field.

    Args:
        data: The settings, or just the litellm model name.
        where: What the user should fix, e.g. the config file or "--model".
    """
    if isinstance(data, str):
        data = {"model": data}
    try:
        return ModelSettings.model_validate(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise config_error(exc, where, default_field="settings") from None


# ---------------------------------------------------------------------------- environment


def _seconds(name: str, default: str) -> float:
    raw = os.environ.get(name, default)
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None


def model_timeout_s() -> float:
    """Seconds one model call may take: `T2T_MODEL_TIMEOUT_S`, else 120."""
    return _seconds("T2T_MODEL_TIMEOUT_S", "120")


def sim_latency_s() -> float:
    """Mean delay of the `t2t/sim-latency` probe: `T2T_SIM_LATENCY_S`, else 1 second."""
    return _seconds("T2T_SIM_LATENCY_S", "1")


def retry_wait_s() -> float:
    """First wait before retrying a failed model call: `T2T_RETRY_WAIT_S`, else 1 (0: no wait)."""
    raw = os.environ.get("T2T_RETRY_WAIT_S", "1")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        raise ConfigError(f"T2T_RETRY_WAIT_S must be a number of seconds >= 0, not {raw!r}")
    return value


def check_settings() -> None:
    """Read every timing setting now, so a malformed one is refused before a run starts (and
    before it takes its results file's lock), not at the first model call.
    """
    model_timeout_s()
    sim_latency_s()
    retry_wait_s()


def cache_dir() -> Path | None:
    """Where model replies are cached when a caller names no cache: `T2T_CACHE_DIR`, else none."""
    raw = os.environ.get("T2T_CACHE_DIR", "").strip()
    return Path(raw).expanduser() if raw else None


def results_root() -> Path | None:
    """Where the notebooks keep their results when set: `T2T_RESULTS`, else none."""
    raw = os.environ.get("T2T_RESULTS", "").strip()
    return Path(raw).expanduser() if raw else None


def configured_models() -> list[str]:
    """Real models to benchmark besides the probes: `T2T_MODELS`, comma-separated (default none)."""
    raw = os.environ.get("T2T_MODELS", "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def chromium_override() -> str | None:
    """A Chromium to use for PNG figures and the browser test: `T2T_CHROMIUM`, else none."""
    return os.environ.get("T2T_CHROMIUM", "").strip() or None
