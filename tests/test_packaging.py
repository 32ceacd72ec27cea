"""Packaging contracts: conda and pip agree, `import t2t` stays light, layers point down."""

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "t2t"

# The extras that environment.yml installs alongside [project] dependencies.
CONDA_EXTRAS = ("dev", "notebooks", "tau2ref")

# Libraries `import t2t` must not load (STYLE.md, TID253): each costs seconds or pulls a stack.
HEAVY = ("litellm", "plotly", "transformers", "torch", "trl", "ipywidgets", "ray", "pandas")

# STYLE.md "Layers", bottom first: a module may import its own layer or the ones below it.
LAYERS = (
    (
        "schema",
        "errors",
        "files",
        "arithmetic",
        "record_checks",
        "settings",
        "episode_log",
        "processes",
        "hf_models",
    ),  # files: JSON/JSONL I/O of schema models; episode_log: the results JSONL
    ("env", "domains", "calls", "standard_tools", "task_set"),
    ("llm",),
    ("explore", "convert", "intents", "verify"),
    ("users", "agents", "probes", "local_model", "rollout", "rollout_shards", "evaluate"),
    (
        "analysis",
        "widgets",
        "workbench",
        "report",
        "generate",
        "sft",
        "tiny_model",
        "train",
        "compare",
        "tau2",
    ),
    ("cli", "__init__"),
)
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}
TOP_LAYER = len(LAYERS) - 1  # modules STYLE.md does not list (e.g. demo) sit with cli
# The sync, pure layers (schema … domains) never wait on anything.
SYNC_LAYER = LAYER_OF["domains"]
SYNC_BANNED = ("asyncio", "litellm")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, f"unparsable requirement {requirement!r}"
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _conda_pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one `pip:` section"
    return [str(line).strip() for line in sections[0]]


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    pip_side = list(project["dependencies"])
    for extra in CONDA_EXTRAS:
        pip_side += project["optional-dependencies"][extra]
    pip_side = [r.strip() for r in pip_side]

    conda_side = _conda_pip_section(_environment())
    assert "-e ." in conda_side, "environment.yml's pip section must install the package (-e .)"
    conda_side = [r for r in conda_side if r != "-e ."]

    only_pip = sorted(set(pip_side) - set(conda_side))
    only_conda = sorted(set(conda_side) - set(pip_side))
    assert not (only_pip or only_conda), (
        f"pyproject.toml (dependencies + {', '.join(CONDA_EXTRAS)} extras) and environment.yml "
        f"differ. Only in pyproject.toml: {only_pip}; only in environment.yml: {only_conda}"
    )
    for side, requirements in (("pyproject.toml", pip_side), ("environment.yml", conda_side)):
        names = [_name(r) for r in requirements]
        dupes = sorted({n for n in names if names.count(n) > 1})
        assert not dupes, f"{side} lists {dupes} more than once"


def test_environment_yml_python_matches_requires_python():
    env = _environment()
    assert env["name"] == "t2t"
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    requires = _pyproject()["project"]["requires-python"].replace(" ", "")
    assert f"python{requires}" in conda_deps, (
        f"environment.yml should pin python{requires}, as pyproject's requires-python; "
        f"it has {conda_deps}"
    )
    assert "pip" in conda_deps


def test_import_t2t_loads_no_heavy_library():
    code = "import json, sys\nimport t2t\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = sorted({m for m in loaded if m.split(".")[0] in HEAVY})
    assert not heavy, f"`import t2t` loads {heavy}; import them inside the functions that need them"


def test_console_script_declared():
    scripts = _pyproject()["project"].get("scripts", {})
    assert scripts.get("t2t") == "t2t.cli:main", (
        f"[project.scripts] t2t should be t2t.cli:main, got {scripts}"
    )
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body), (
        "t2t/cli.py defines no top-level main()"
    )


def _layer_name(path: Path) -> str:
    """The STYLE.md name a file belongs to: `env` for t2t/env.py, `intents` for t2t/intents/x.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _is_submodule(name: str) -> bool:
    return (PACKAGE / f"{name}.py").exists() or (PACKAGE / name / "__init__.py").exists()


def _t2t_targets(path: Path, tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, shown import, STYLE.md name) for each import of t2t code in the module."""
    package = ["t2t", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "t2t":
                    found.append(
                        (node.lineno, alias.name, parts[1] if len(parts) > 1 else "__init__")
                    )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            parts = module.split(".")
            if parts[0] != "t2t":
                continue
            if len(parts) > 1:
                found.append((node.lineno, module, parts[1]))
                continue
            for alias in node.names:  # `from t2t import x`: a submodule, else the package API
                target = alias.name if _is_submodule(alias.name) else "__init__"
                found.append((node.lineno, f"t2t.{alias.name}", target))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _describe(name: str) -> str:
    if name not in LAYER_OF:
        return f"{name} (not in STYLE.md's layers, so with cli)"
    layer = LAYER_OF[name]
    return f"{name} (layer {layer}: {', '.join(LAYERS[layer])})"


def test_imports_point_down_the_layers():
    problems = []
    for path in _modules():
        rel = path.relative_to(ROOT)
        own = _layer_name(path)
        own_layer = LAYER_OF.get(own, TOP_LAYER)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        for line, shown, target in _t2t_targets(path, tree):
            if LAYER_OF.get(target, TOP_LAYER) > own_layer:
                problems.append(
                    f"{rel}:{line}: {_describe(own)} imports {shown}, from {_describe(target)}"
                )
    assert not problems, "imports must point down STYLE.md's layers:\n" + "\n".join(problems)


def test_sync_layers_import_no_asyncio_or_litellm():
    problems = []
    for path in _modules():
        if LAYER_OF.get(_layer_name(path), TOP_LAYER) > SYNC_LAYER:
            continue
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            problems += [
                f"{rel}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in SYNC_BANNED
            ]
    assert not problems, "schema/errors/env/domains are sync and pure:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from t2t.schema import Task", [(1, "t2t.schema", "schema")]),
        ("import t2t.llm as llm", [(1, "t2t.llm", "llm")]),
        ("import t2t", [(1, "t2t", "__init__")]),
        ("from t2t import env, Task", [(1, "t2t.env", "env"), (1, "t2t.Task", "__init__")]),
        ("from . import schema", [(1, "t2t.schema", "schema")]),
        ("def f():\n    from .cli import main", [(2, "t2t.cli", "cli")]),
        ("import json\nfrom pydantic import BaseModel", []),
    ],
)
def test_layer_check_reads_imports(source, expected):
    assert _t2t_targets(PACKAGE / "env.py", ast.parse(source)) == expected


def test_layer_check_resolves_subpackage_relative_imports():
    path = PACKAGE / "intents" / "ambiguous.py"
    tree = ast.parse(
        "from .. import verify\nfrom .base import VariantKind\nfrom ..env import State"
    )
    assert _t2t_targets(path, tree) == [
        (1, "t2t.verify", "verify"),
        (2, "t2t.intents.base", "intents"),
        (3, "t2t.env", "env"),
    ]
