"""Packaging contracts: conda and pip agree, `import t2t` stays light, imports run one way."""

import ast
import json
import os
import re
import shutil
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


def test_import_contracts_hold():
    """import-linter's contracts (pyproject.toml): stages one way, litellm in llm, no cycles."""
    proc = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/schema.py", "from t2t.benchmark import scoring", "stages import one way"),
        ("domain/loader.py", "import asyncio", "core and domain never wait"),
        ("tasks/convert.py", "import litellm", "only t2t.llm talks to litellm"),
        ("intents/base.py", "import t2t.intents.ambiguous", "no import cycles"),
    ],
)
def test_import_contracts_catch_a_wrong_import(tmp_path, module, line, broken):
    """Each contract fails, naming itself, when one wrong import is added to a copy of t2t."""
    shutil.copytree(PACKAGE, tmp_path / "t2t", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "t2t" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    if module == "intents/base.py":  # and the way back, to close a cycle
        other = tmp_path / "t2t" / "intents" / "ambiguous.py"
        other.write_text(other.read_text(encoding="utf-8") + "\nimport t2t.intents.base\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "BROKEN" in proc.stdout
    assert broken in proc.stdout.split("Broken contracts")[-1]


def _lint_imports() -> str:
    return str(Path(sys.executable).with_name("lint-imports"))


def _t2t_imports(source: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every `from t2t… import name` and `import t2t…`, nested too."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] == "t2t":
                found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.startswith("t2t")]
    return found


def _sources() -> list[tuple[str, str]]:
    """Every place that imports t2t: benchmarks (run by `make run`), tests, notebooks, domains."""
    found = []
    for folder in ("benchmarks", "tests", "environments"):
        found += [(str(p.relative_to(ROOT)), p.read_text()) for p in (ROOT / folder).rglob("*.py")]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        found.append((str(notebook.relative_to(ROOT)), "\n".join(code)))
    return found


def test_every_import_of_t2t_resolves():
    """Moved or renamed names break scripts only when they run (benchmarks: in `make run`)."""
    import importlib

    problems = []
    for where, source in _sources():
        for line, module, name in _t2t_imports(source):
            try:
                imported = importlib.import_module(module)
            except ImportError as exc:
                problems.append(f"{where}:{line}: import {module}: {exc}")
                continue
            if name is None or name == "*" or hasattr(imported, name):
                continue
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                problems.append(f"{where}:{line}: {module} has no {name}")
    assert not problems, "\n".join(problems)


def test_make_lab_opens_the_notebooks_with_this_environment_as_the_kernel():
    """`make lab` is this environment's JupyterLab on notebooks/ (the browser test drives the
    same server and renders the widgets); its python3 kernel runs this interpreter, and the
    ipywidgets and plotly lab extensions are installed."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    launch = [line for line in dry.stdout.splitlines() if " lab " in f"{line} "]
    assert launch and launch[-1].split()[:3] == [
        ".venv/bin/jupyter",
        "lab",
        "--notebook-dir=notebooks",
    ]
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.skip("JupyterLab is not installed (the notebooks extra)")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert Path(command[0]).resolve() == Path(sys.executable).resolve(), (spec.argv, command)
    extensions = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True
    )
    listed = extensions.stdout + extensions.stderr
    assert "@jupyter-widgets/jupyterlab-manager" in listed and "jupyterlab-plotly" in listed
