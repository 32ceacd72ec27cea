"""Sync calls into async model code: one long-lived event loop in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["dispatch_on_loop", "run_sync"]

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
            loop.set_default_executor(_LoopExecutor(thread_name_prefix="t2t-model-loop-pool"))
            thread = threading.Thread(target=loop.run_forever, name="t2t-model-loop", daemon=True)
            thread.start()
            _LOOP = (os.getpid(), loop)
        return _LOOP[1]


# ------------------------------------------------------------------------------ inline dispatch

_DISPATCH_ON_LOOP: ContextVar[bool] = ContextVar("t2t_dispatch_on_loop", default=False)


@contextlib.contextmanager
def dispatch_on_loop(enabled: bool) -> Iterator[None]:
    """Let the next hand-off to the model loop's executor, in this task, run on the loop itself.

    `litellm.acompletion` hands each call's dispatch to the loop's default executor, because
    some providers block in it. A provider served in this process (a litellm custom handler)
    only builds a coroutine there, and the hop to a pool thread and back costs more than that:
    with a CPU-bound worker per core, each hop can wake a thread on the other core and leave
    this one idle (sharded workers were 10% idle from it). One hand-off only: whatever the
    handler itself sends to the executor later (`asyncio.to_thread`) still goes to a thread.
    """
    token = _DISPATCH_ON_LOOP.set(enabled)
    try:
        yield
    finally:
        _DISPATCH_ON_LOOP.reset(token)


class _LoopExecutor(ThreadPoolExecutor):
    """The model loop's default executor: a thread pool, except for a `dispatch_on_loop` call."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        if not _DISPATCH_ON_LOOP.get():
            return super().submit(fn, *args, **kwargs)
        _DISPATCH_ON_LOOP.set(False)  # in the calling task's context: once per call
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller's await raises it, as from a thread
            future.set_exception(exc)
        return future
