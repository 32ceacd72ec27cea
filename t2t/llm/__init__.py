"""The one door to language models: litellm behind a typed API, and local Hugging Face models.

One job per module: `client` (complete, retries), `messages` (t2t ↔ OpenAI ↔ HF chat shapes),
`completion` (what a call returns), `cache` (replies on disk), `providers` (offline models as
litellm custom providers), `aio` (sync calls on a background loop), `backend` (the lazy litellm
import); local models: `hf_local` (the `hf-local/` provider), `local_engine` (prefix KV reuse and
batched decoding), `hf_models`, `chat_templates`, `gguf` (GGUF files into HF folders) and `serve`
(an OpenAI-compatible HTTP server). Only this package imports litellm, and only when a model is
really called.
"""

from t2t.core.settings import model_timeout_s
from t2t.llm.aio import run_sync
from t2t.llm.backend import load_litellm, preload
from t2t.llm.cache import ModelCache, cache_key
from t2t.llm.client import complete, complete_sync
from t2t.llm.completion import Completion, Usage
from t2t.llm.hf_local import EngineOptions, engine_stats, set_engine_options
from t2t.llm.messages import RAW_ARGUMENTS_KEY, hf_messages, raw_arguments, to_openai_messages
from t2t.llm.providers import (
    ProviderHandler,
    ProviderRequest,
    register_model,
    register_provider,
    unregister_provider,
)

__all__ = [
    "RAW_ARGUMENTS_KEY",
    "Completion",
    "EngineOptions",
    "ModelCache",
    "ProviderHandler",
    "ProviderRequest",
    "Usage",
    "cache_key",
    "complete",
    "complete_sync",
    "engine_stats",
    "hf_messages",
    "load_litellm",
    "model_timeout_s",
    "preload",
    "raw_arguments",
    "register_model",
    "register_provider",
    "run_sync",
    "set_engine_options",
    "to_openai_messages",
    "unregister_provider",
]
