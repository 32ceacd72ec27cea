"""Worker processes that never outlive the run that started them."""

from __future__ import annotations

import os
import select
import threading
import time

__all__ = ["exit_with", "exit_with_parent"]

_WATCHED: set[int] = set()
_WATCHED_LOCK = threading.Lock()


def exit_with(pid: int) -> None:
    """Exit this process as soon as process `pid` has ended (kill -9 included); idempotent.

    So no worker goes on working (appending to a results file, say) after its run was killed (a
    resumed run would then repeat its work). A fork server's child cannot watch its parent (that
    is the server, which outlives the run while any child holds its pipe), and a Ray worker's
    parent is Ray's: they watch the run's process itself. Watched through a pidfd where there is
    one (no pid reuse race), else by polling.
    """
    with _WATCHED_LOCK:
        if pid in _WATCHED:
            return
        _WATCHED.add(pid)

    def watch() -> None:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):  # no pidfd here (not Linux, or an old kernel)
            while _alive(pid):
                time.sleep(0.5)
            os._exit(1)
        select.select([handle], [], [])  # readable once the process has ended
        os._exit(1)

    threading.Thread(target=watch, name="t2t-run-watch", daemon=True).start()


def exit_with_parent() -> None:
    """In a worker (a pool's initializer): exit when the parent dies, as `exit_with` does."""
    exit_with(os.getppid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
