"""Find, load and validate domains: a folder of `tools.py`, `policy.md` and data, by name or path.

The contract (README, "Bring your own domain"): a folder holding

- `tools.py`: functions marked `@t2t.tool(kind=...)`, first parameter the `State`;
- `policy.md`: the written policy, shown to agents as their system prompt;
- `db.json` and/or `generate.py` (`generate_db(seed, **sizes) -> dict`, optional `SCALES` presets);
- optional `rules.py` (`@t2t.rule(...)` checks), `data_model.py` (a pydantic `DB` model validating
  `db.json`), `checks.py` (`check_db(db) -> list[str]`, consistency problems).

Built-in domains live in `environments/` (shipped as `t2t.environments`); any other folder loads by
path, with no registry to edit. A broken file is reported by name, never as a bare traceback.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any, overload

from pydantic import BaseModel, ValidationError

from t2t.core.environment import Domain
from t2t.core.errors import ConfigError, DataError, DomainError, data_error
from t2t.core.files import read_json
from t2t.core.tools import make_rule, make_tool

__all__ = [
    "builtin_domains",
    "builtin_root",
    "check_db_shape",
    "domain_module",
    "load_domain",
    "read_db",
    "register_domain",
    "scale_sizes",
]

_REGISTRY: dict[str, Domain] = {}


def builtin_root() -> Path:
    """Where the built-in domain folders live (the repo's `environments/`, installed as data)."""
    spec = importlib.util.find_spec("t2t.environments")
    if spec is None or not spec.submodule_search_locations:
        return Path(__file__).resolve().parents[2] / "environments"
    return Path(next(iter(spec.submodule_search_locations)))


def builtin_domains() -> list[str]:
    """Names of the built-in domains."""
    return sorted(p.name for p in builtin_root().iterdir() if (p / "tools.py").is_file())


def register_domain(domain: Domain) -> None:
    """Make a domain built in Python (not from a folder) loadable by name."""
    _REGISTRY[domain.name] = domain


def load_domain(name_or_path: str | Path) -> Domain:
    """A built-in domain by name, a registered one, or a domain folder by path."""
    key = str(name_or_path)
    if key in _REGISTRY:
        return _REGISTRY[key]
    is_path = isinstance(name_or_path, Path) or "/" in key or key.startswith(".")
    folder = Path(key) if is_path else builtin_root() / key
    if not is_path and not (folder / "tools.py").is_file():
        if Path(key).is_dir():  # a bare folder name that is not a built-in domain
            folder = Path(key)
        else:
            known = ", ".join(builtin_domains() + sorted(_REGISTRY))
            raise DomainError(f"unknown domain {key!r}; known: {known} (or pass a folder path)")
    folder = folder.resolve()
    cache_key = str(folder)  # relative paths mean different folders from different places
    if cache_key not in _REGISTRY:
        _REGISTRY[cache_key] = _load_folder(folder)
    return _REGISTRY[cache_key]


def _load_folder(folder: Path) -> Domain:
    if not folder.is_dir():
        raise DomainError(f"{folder}: domain folder not found")
    if not (folder / "tools.py").is_file():
        raise DomainError(f"{folder}: a domain folder needs a tools.py")
    package = _package_for(folder)
    tools_module = _import(package, folder, "tools")
    try:
        tools = {
            f.__name__: make_tool(f)
            for f in vars(tools_module).values()
            if callable(f) and hasattr(f, "__t2t_tool__")
        }
    except Exception as exc:  # an annotation or docstring the schema cannot be built from
        raise DomainError(f"{folder / 'tools.py'}: bad tool signature: {exc}") from exc
    if not tools:
        raise DomainError(f"{folder / 'tools.py'}: no functions marked with @tool")
    rules_module = _import(package, folder, "rules", optional=True)
    rules = [
        make_rule(f)
        for f in vars(rules_module or types.ModuleType("none")).values()
        if callable(f) and hasattr(f, "__t2t_rule__")
    ]
    policy_file = folder / "policy.md"
    try:
        policy = policy_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DomainError(f"{policy_file}: missing (the policy agents are given)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainError(f"{policy_file}: cannot be read: {exc}") from None
    model = getattr(_import(package, folder, "data_model", optional=True), "DB", None)
    generator = _import(package, folder, "generate", optional=True)
    generate = getattr(generator, "generate_db", None)
    check = getattr(_import(package, folder, "checks", optional=True), "check_db", None)
    db_file = folder / "db.json"
    if not db_file.is_file() and generate is None:
        raise DomainError(f"{folder}: needs a db.json or a generate.py with generate_db()")

    def default_db() -> dict[str, Any]:
        return read_db(domain, db_file) if db_file.is_file() else generate(seed=0)  # type: ignore[misc]

    domain = Domain(
        name=folder.name,
        tools=tools,
        policy=policy,
        rules=rules,
        validate_db=_validator(model) if model is not None else None,
        check_db=check,
        generate_db=generate,
        scales=dict(getattr(generator, "SCALES", {})),
        default_db=default_db,
        folder=str(folder),
        user_table=getattr(tools_module, "USER_TABLE", None),
    )
    return domain


@overload
def domain_module(domain: Domain, name: str) -> types.ModuleType: ...
@overload
def domain_module(domain: Domain, name: str, *, optional: bool) -> types.ModuleType | None: ...
def domain_module(domain: Domain, name: str, *, optional: bool = False) -> types.ModuleType | None:
    """A module of a folder domain (e.g. its `generate` for `TRAIN_SEED`), as the loader sees it;
    None for a missing `optional` one (a phrasebook).
    """
    if domain.folder is None:
        raise DomainError(f"domain {domain.name!r} was not loaded from a folder")
    folder = Path(domain.folder)
    module: types.ModuleType | None = _import(_package_for(folder), folder, name, optional=optional)
    return module


def _package_for(folder: Path) -> str:
    """Register the folder as a package so its modules can import each other relatively."""
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]  # a/b_c and a/b/c differ
    name = f"t2t_domain_{folder.name if folder.name.isidentifier() else 'x'}_{digest}"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    return name


def _import(package: str, folder: Path, module: str, *, optional: bool = False) -> Any:
    path = folder / f"{module}.py"
    if not path.is_file():
        if optional:
            return None
        raise DomainError(f"{path}: missing")
    try:
        return importlib.import_module(f"{package}.{module}")
    except Exception as exc:  # a user's file: report which one broke, and how
        raise DomainError(f"{path}: cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _validator(model: type[BaseModel]) -> Any:
    def validate(db: dict[str, Any]) -> None:
        model.model_validate(db)

    return validate


def read_db(domain: Domain, path: str | Path) -> dict[str, Any]:
    """Load a `db.json` for `domain` unchanged, validating it against the domain's data model."""
    db: dict[str, Any] = read_json(path, what="database")
    check_db_shape(domain, db, source=str(path))
    return db


def check_db_shape(domain: Domain, db: Any, *, source: str = "database") -> None:
    """Raise `DataError` naming the first bad field if `db` does not fit the domain's layout."""
    if not isinstance(db, dict) or not all(isinstance(t, dict) for t in db.values()):
        raise DataError("must be a JSON object of tables, each an object keyed by id", file=source)
    if domain.validate_db is None:
        return
    try:
        domain.validate_db(db)
    except ValidationError as exc:
        raise data_error(exc, file=source) from None


def scale_sizes(domain: Domain, scale: str | None) -> dict[str, int]:
    """The generator sizes of a named preset from `SCALES`; None means the generator's defaults."""
    if scale is None:
        return {}
    if scale not in domain.scales:
        known = ", ".join(sorted(domain.scales)) or "none"
        raise ConfigError(f"domain {domain.name} has no scale {scale!r}; known: {known}")
    return dict(domain.scales[scale])
