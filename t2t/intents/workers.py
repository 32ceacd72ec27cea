"""Kinds registered at run time, carried to worker processes.

Workers (`--workers`, Ray, `generate`'s pool) import t2t afresh and know only the built-in kinds;
`ship_kinds` packs the others in the parent, `install_kinds` registers them in the worker.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import sys
from dataclasses import dataclass

from t2t.core.errors import ConfigError
from t2t.intents.kind import INTENT_KINDS, register_kind

__all__ = ["KindShipment", "install_kinds", "ship_kinds"]

_BUILT_IN_PACKAGE = "t2t.intents"


@dataclass(frozen=True)
class KindShipment:
    """The kinds registered at runtime, for worker processes (which import t2t afresh and know
    only the built-in kinds): the modules that define them, the import path to find those in, and
    each kind object, pickled, registered in the worker when importing its module did not.
    """

    modules: tuple[str, ...] = ()
    kinds: tuple[bytes, ...] = ()
    path: tuple[str, ...] = ()


def ship_kinds() -> KindShipment:
    """The registered kinds that are not built in, for a run or generation with workers.

    Raises `ConfigError` when a kind's class cannot be imported by name in another process (it is
    defined in `__main__` or in no importable module).
    """
    modules: dict[str, None] = {}
    kinds: list[bytes] = []
    for kind in INTENT_KINDS.values():
        module = type(kind).__module__
        if module == _BUILT_IN_PACKAGE or module.startswith(_BUILT_IN_PACKAGE + "."):
            continue
        if module == "__main__" or not _importable(module):
            raise ConfigError(
                f"variant kind {kind.name!r} is defined in {module!r}, which worker processes "
                "cannot import: kinds used with workers > 1 must live in an importable module "
                "(or run with workers=1)"
            )
        modules[module] = None
        try:
            kinds.append(pickle.dumps(kind))
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same
            raise ConfigError(
                f"variant kind {kind.name!r} cannot be sent to worker processes: {exc}"
            ) from None
    if not modules:
        return KindShipment()
    return KindShipment(tuple(modules), tuple(kinds), tuple(p for p in sys.path if p))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec
        return False


def install_kinds(shipment: KindShipment) -> None:
    """In a worker, before anything else: import the shipped kinds' modules and register the
    kinds that importing them did not register.
    """
    importlib.import_module(_BUILT_IN_PACKAGE)
    if not shipment.modules:
        return
    sys.path.extend(p for p in shipment.path if p not in sys.path)
    for module in shipment.modules:
        importlib.import_module(module)
    for blob in shipment.kinds:
        kind = pickle.loads(blob)  # noqa: S301 - made by ship_kinds in the parent process
        if kind.name not in INTENT_KINDS:
            register_kind(kind)
