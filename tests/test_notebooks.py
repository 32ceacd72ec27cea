"""The notebooks as committed: clean, parameterised, numbered 01…06 (nbmake runs them)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_six_steps_are_there():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_explore",
        "02_tasks",
        "03_intents",
        "04_benchmark",
        "05_failures",
        "06_finetune",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameters_cell_first(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell: parameters"
    assert "os.environ" in "".join(code[0]["source"]), "defaults overridable by env variables"
    for cell in code:
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
            f"{path.name} has outputs: strip them (nbstripout or clear outputs)"
        )
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


PUBLIC = re.compile(
    r"^(t2t|t2t\.(core|domain|llm|explore|tasks|intents|benchmark|failures|finetune)|t2t\.workbench)$"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_only_public_names(path):
    """A notebook imports `t2t`, a stage package or the workbench, never a module inside a stage."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    modules = re.findall(r"^\s*(?:from|import)\s+(t2t[\w.]*)", source, flags=re.M)
    assert modules, f"{path.name} imports nothing from t2t"
    private = sorted({m for m in modules if not PUBLIC.match(m)})
    assert not private, f"{path.name} imports {private}: use the stage package's public names"
