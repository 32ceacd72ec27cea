"""Check a run's models before its first episode: a misspelt provider or an endpoint nobody
answers is one clear error, not a run that exits 0 with every episode an infrastructure error.

Probes, local models (checked when they load), in-process providers and the scripted user need
no check; every other model gets its provider resolved by litellm and one 1-token call with the
run's own parameters (api_base, keys from the environment), not retried and not cached.
"""

from __future__ import annotations

from typing import Any

from t2t.benchmark.config import RunConfig
from t2t.benchmark.probes import is_probe
from t2t.core.errors import ConfigError
from t2t.core.schema import Message
from t2t.llm.backend import load_litellm
from t2t.llm.client import complete_sync
from t2t.llm.hf_local import is_local
from t2t.llm.providers import is_in_process

__all__ = ["preflight_models"]

PREFLIGHT_TIMEOUT_S = 30.0  # a reachable endpoint answers one token well within this
_HINT = "check the name, api_base and API key, or pass --no-preflight"


def preflight_models(config: RunConfig) -> None:
    """Raise `ConfigError` naming the first model of the run that cannot be called."""
    models = [(config.agent, config.agent_params)]
    if config.user != "scripted":
        models.append((config.user, config.user_params))
    for model, params in models:
        if is_probe(model) or is_local(model) or is_in_process(model):
            continue
        _resolve_provider(model)
        _call_once(model, params)


def _resolve_provider(model: str) -> None:
    try:
        load_litellm().get_llm_provider(model)
    except Exception:
        raise ConfigError(
            f"litellm knows no provider for {model!r}: name it as <provider>/<model> "
            "(openai/gpt-4o-mini, hosted_vllm/<name>, …; https://docs.litellm.ai/docs/providers)"
        ) from None


def _call_once(model: str, params: dict[str, Any]) -> None:
    settings = {k: v for k, v in params.items() if k != "max_retries"}
    settings |= {"max_tokens": 1, "timeout": PREFLIGHT_TIMEOUT_S}  # not the run's: 1 token
    try:
        complete_sync(
            model,
            [Message(role="user", content="Reply with OK.")],
            cache=False,
            max_retries=0,
            **settings,
        )
    except Exception as exc:  # whatever the provider says, said once and up front
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot reach {model}: {reason} ({_HINT})") from None
