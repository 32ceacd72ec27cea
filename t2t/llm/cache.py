"""Model replies on disk: a `ModelCache` keyed by request hash plus trial index.

Trials differ but a re-run asks no model; nothing secret reaches the key or the disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from t2t.core.schema import Message
from t2t.core.settings import cache_dir, is_secret_key
from t2t.llm.completion import Completion
from t2t.llm.messages import to_openai_messages

__all__ = ["ModelCache", "cache_key", "open_cache"]

logger = logging.getLogger(__name__)

_NOT_IN_KEY = frozenset(
    {
        "timeout",
        "max_retries",
        "num_retries",
        "stream_timeout",
        "client",
        "headers",
        "extra_headers",
    }
)
_CACHE_KEY_VERSION = 1


def cache_key(
    model: str,
    messages: Sequence[Message] | Sequence[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    trial: int | None = None,
    **params: Any,
) -> str:
    """sha256 of the request's canonical JSON: all that can change the reply, never a secret."""
    kept = {k: v for k, v in params.items() if k not in _NOT_IN_KEY and not is_secret_key(k)}
    request = {
        "v": _CACHE_KEY_VERSION,
        "model": model,
        "messages": to_openai_messages(messages),  # as sent: the provider sees no more
        "tools": tools or [],
        "params": kept,
        "trial": trial,
    }
    text = json.dumps(
        request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_jsonable
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, type) and issubclass(value, BaseModel):  # litellm's response_format=Model
        return value.model_json_schema()
    return repr(value)  # an opaque object: at worst a cache miss


class ModelCache:
    """Replies on disk by `cache_key`; one folder may be shared by threads and processes."""

    def __init__(self, directory: str | Path) -> None:
        import diskcache  # ~120 ms: only when caching

        self.directory = Path(directory).expanduser()
        self._store = diskcache.Cache(str(self.directory))

    def get(self, key: str) -> Completion | None:
        """The stored reply, marked cached; None when absent or unreadable (asked again)."""
        try:
            raw = self._store.get(key)
            if raw is None:
                return None
            return Completion.model_validate_json(raw).model_copy(update={"cached": True})
        except Exception as exc:  # a cache is an optimisation: a bad entry must not fail a run
            logger.warning("model cache %s: unreadable entry (%s)", self.directory, exc)
            return None

    def set(self, key: str, completion: Completion) -> None:
        """Store a reply (as JSON: the request, and so any secret, is not stored)."""
        try:
            self._store.set(key, completion.model_copy(update={"cached": False}).model_dump_json())
        except Exception as exc:  # e.g. a full disk: the run goes on uncached
            logger.warning("model cache %s: cannot store a reply (%s)", self.directory, exc)

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> ModelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CACHES: dict[tuple[int, Path], ModelCache] = {}
_CACHES_LOCK = threading.Lock()


def open_cache(cache: ModelCache | str | Path | Literal[False] | None) -> ModelCache | None:
    """The cache a call uses; a folder opens once per process (sqlite handles do not fork)."""
    if cache is False:
        return None
    if isinstance(cache, ModelCache):
        return cache
    directory = cache_dir() if cache is None else Path(cache)
    if directory is None:
        return None
    slot = (os.getpid(), directory.expanduser().resolve())
    with _CACHES_LOCK:
        if slot not in _CACHES:
            _CACHES[slot] = ModelCache(slot[1])
        return _CACHES[slot]
