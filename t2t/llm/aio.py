"""Sync calls into async model code: one long-lived event loop in a background thread."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even when a loop already runs here (Jupyter).

    Every sync call runs on one long-lived event loop in a background thread, so litellm's
    per-loop state (its logging worker, HTTP clients) lives as long as the process instead of
    being rebuilt, and leaked, on a fresh loop per call.
    """
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise RuntimeError("run_sync called from inside t2t's model loop; await instead")
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


_LOOP: tuple[int, asyncio.AbstractEventLoop] | None = None
_LOOP_LOCK = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process's model loop; a forked worker process starts its own (threads do not fork)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP[0] != os.getpid() or _LOOP[1].is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="t2t-model-loop", daemon=True)
            thread.start()
            _LOOP = (os.getpid(), loop)
        return _LOOP[1]
