"""litellm, imported on first use: the only module of t2t that imports it (~seconds)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_litellm", "preload"]


def load_litellm() -> Any:
    """litellm, imported on first use with the bundled cost map (no network at import)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its banners go to stdout; we report errors ourselves
    return litellm


def preload() -> None:
    """Import litellm now (a worker about to run episodes), not in the middle of the first call."""
    load_litellm()
