"""Worker processes that never outlive the run that started them."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]


def exit_with_parent() -> None:
    """In a worker: exit when the parent dies (kill -9 leaves no orphans behind)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="t2t-parent-watch", daemon=True).start()
