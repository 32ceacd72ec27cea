"""The `t2t` command line's arguments: one sub-parser per command (handlers live in `t2t.cli`).

Each command's parser sets `command_key` ("run", "db generate", ...), the key of its handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from t2t.intents.kind import INTENT_KINDS

__all__ = ["build_parser"]

_SCALES_HELP = "a preset from the domain's generate.py SCALES (e.g. paper, small)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t2t",
        description="Verifiable tool-calling tasks: domains, databases, replay, τ²-bench interop.",
        epilog="Commands that write refuse to overwrite a file unless given --force.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, key: str, help: str, parent: Any = commands) -> Any:
        sub = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(command_key=key)
        sub.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        return sub

    def writes(sub: Any, *, required: bool = True) -> None:
        sub.add_argument("--out", required=required, type=Path, help="output file")
        sub.add_argument("--force", action="store_true", help="overwrite an existing output")

    def on_db(sub: Any, *, db_required: bool = False) -> None:
        sub.add_argument("--domain", required=True, help="built-in name or a domain folder path")
        sub.add_argument(
            "--db", type=Path, required=db_required, help="db.json (default: the domain's own)"
        )

    command("domains", "domains", "list the built-in domains")

    demo = command("demo", "demo", "the offline end-to-end job behind `make run`")
    demo.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true", help="overwrite earlier demo output")

    tasks = command(
        "generate", "generate", "explore a domain and write verified tasks with variants"
    )
    tasks.add_argument("--domain", default="retail", help="built-in name or a domain folder path")
    tasks.add_argument("--db-seed", type=int, default=0, help="seed of the generated database")
    tasks.add_argument("--scale", help=_SCALES_HELP + " (default: the generator's defaults)")
    tasks.add_argument("--n", type=int, default=100, help="tasks to keep, shared over the kinds")
    tasks.add_argument(
        "--variants",
        default=",".join(INTENT_KINDS),
        help="comma-separated kinds (default: all registered)",
    )
    tasks.add_argument("--seed", type=int, default=0, help="exploration seed")
    tasks.add_argument(
        "--explorer", choices=("graph", "llm"), default="graph", help="offline graph walk or LLM"
    )
    tasks.add_argument("--model", help="the LLM explorer's model (offline: t2t-explore/graph)")
    tasks.add_argument("--rewrite-model", help="reword each task's scenario with this model")
    tasks.add_argument("--judge-model", help="keep tasks this model rates ≥ 7 on average")
    tasks.add_argument("--workers", type=int, help="processes (default: all cores)")
    tasks.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    tasks.add_argument("--force", action="store_true", help="replace a task set made differently")

    db = commands.add_parser("db", help="generate or check a domain database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    generate = command("generate", "db generate", "generate a seeded database", db_commands)
    generate.add_argument("--domain", required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--scale", help=_SCALES_HELP)
    generate.add_argument("--set", action="append", metavar="NAME=N", help="a generator size")
    writes(generate)
    check = command("check", "db check", "check a database's consistency", db_commands)
    on_db(check)

    verify = command(
        "verify",
        "verify",
        "replay tasks' gold actions; report failed calls and broken policy rules",
    )
    on_db(verify)
    verify.add_argument("--tasks", required=True, type=Path, help="tasks .jsonl or .json")
    writes(verify, required=False)

    run = command("run", "run", "benchmark an agent on a task set; resumable, appends to --out")
    run.add_argument("--tasks", required=True, type=Path, help="tasks.jsonl from t2t generate")
    run.add_argument("--db", type=Path, help="the tasks' DB (default: db.json beside --tasks)")
    run.add_argument("--domain", help="default: the tasks' own domain")
    run.add_argument("--agent", help="litellm model, or a probe: t2t/oracle, t2t/eager, …")
    run.add_argument("--user", help="scripted (default) or a litellm model")
    run.add_argument("--config", type=Path, help="TOML/YAML with [agent], [user] and run keys")
    run.add_argument("--trials", type=int, help="trials per task (default 1)")
    run.add_argument("--concurrency", type=int, help="episodes at once (default 32)")
    run.add_argument("--max-steps", type=int, help="agent turns per episode (default 30)")
    run.add_argument("--variants", help="comma-separated kinds to run (default: all)")
    run.add_argument("--limit", type=int, help="only the first N tasks")
    run.add_argument("--cache", type=Path, help="model-call cache folder (default $T2T_CACHE_DIR)")
    run.add_argument("--workers", type=int, default=1, help="processes to shard episodes over")
    run.add_argument("--backend", choices=("local", "ray"), default="local")
    run.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the 1-token call that checks each model before the run",
    )
    run.add_argument(
        "--retry-errors", action="store_true", help="re-run episodes that hit an infra error"
    )
    run.add_argument("--out", type=Path, required=True, help="results .jsonl (resumed if present)")

    report = command("report", "report", "pass^k and reward components of results files")
    report.add_argument("results", nargs="+", type=Path, help="results .jsonl files")
    report.add_argument("--k", type=int, help="largest k for pass^k (default: fewest trials)")
    report.add_argument("--csv", type=Path, help="also write the table as CSV")
    report.add_argument("--html", type=Path, help="also write an HTML page with tables + figures")
    report.add_argument(
        "--tasks",
        type=Path,
        action="append",
        help="the task set (tasks.jsonl) each results file ran, for the failure types; "
        "once for all files or once per file",
    )
    report.add_argument("--figures", type=Path, help="with --html: each figure as HTML (+ PNG)")
    report.add_argument("--force", action="store_true", help="overwrite an existing --csv/--html")

    dataset = command(
        "export-dataset",
        "export-dataset",
        "task sets as a dataset folder `datasets.load_dataset` reads, with a dataset card",
    )
    dataset.add_argument("tasks", nargs="+", type=Path, help="tasks.jsonl files (db.json beside)")
    dataset.add_argument("--out", type=Path, required=True, help="output folder")
    dataset.add_argument("--name", default="t2t tool-calling tasks", help="the card's title")
    dataset.add_argument(
        "--test-fraction", type=float, default=0.2, help="task families held out for test"
    )
    dataset.add_argument("--seed", type=int, default=0, help="which families are held out")
    dataset.add_argument("--force", action="store_true", help="replace an existing folder")

    audit = command(
        "audit", "audit", "how natural and sound a task set is (and how grounded agents' calls are)"
    )
    audit.add_argument("tasks", nargs="+", type=Path, help="tasks.jsonl files (db.json beside)")
    audit.add_argument(
        "--episodes", nargs="+", type=Path, default=[], help="results .jsonl: grounded share"
    )
    audit.add_argument("--json", type=Path, help="also write the report as JSON")
    audit.add_argument("--force", action="store_true", help="overwrite an existing --json")

    export = command(
        "export-sft", "export-sft", "successful episodes as chat SFT data (OpenAI and HF JSONL)"
    )
    export.add_argument("results", nargs="+", type=Path, help="results .jsonl files")
    export.add_argument(
        "--tasks",
        type=Path,
        action="append",
        required=True,
        help="a task set the results ran (tasks.jsonl); once per domain",
    )
    export.add_argument(
        "--agents", help="comma-separated agents whose successes count (default: all)"
    )
    export.add_argument(
        "--per-task", type=int, help="distinct conversations kept per task (default: all)"
    )
    export.add_argument("--test-fraction", type=float, default=0.2, help="task families held out")
    export.add_argument("--seed", type=int, default=0, help="seed of the split")
    export.add_argument("--split", type=Path, help="keep the split.json of an earlier export")
    export.add_argument("--tokenizer", help="count tokens with this HF tokenizer (default chars/4)")
    export.add_argument("--domain", help="for task files whose tasks name no domain (τ² imports)")
    export.add_argument("--out", type=Path, required=True, help="output folder")
    export.add_argument("--force", action="store_true", help="replace an earlier export")
    export.add_argument(
        "--keep-ungrounded",
        action="store_true",
        help="keep successful episodes with a tool argument nobody gave the agent (default: drop)",
    )

    tiny = command(
        "tiny-model", "tiny-model", "build a tiny random Qwen3-shaped model to train offline"
    )
    tiny.add_argument("--data", type=Path, required=True, help="a t2t export-sft folder")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--out", type=Path, required=True, help="model folder")
    tiny.add_argument("--force", action="store_true", help="replace a model in --out")

    train = command("train", "train", "fine-tune a HF causal LM on exported SFT data (TRL)")
    train.add_argument("--base", required=True, help="HF model id or folder (e.g. Qwen/Qwen3-0.6B)")
    train.add_argument("--data", type=Path, required=True, help="a t2t export-sft folder")
    train.add_argument(
        "--lora", action="store_true", help="LoRA (merged when saved) instead of full"
    )
    train.add_argument("--epochs", type=float, help="default 3")
    train.add_argument("--lr", type=float, help="learning rate (default 1e-5)")
    train.add_argument("--batch-size", type=int, help="per device (default 1)")
    train.add_argument("--grad-accum", type=int, help="gradient accumulation steps (default 1)")
    train.add_argument("--max-length", type=int, help="cut examples to this many tokens")
    train.add_argument("--max-examples", type=int, help="train on the first N examples only")
    train.add_argument(
        "--shared-prefix",
        action="store_true",
        help="encode the examples' shared prompt once a step (LoRA; fast on a CPU)",
    )
    train.add_argument("--lora-top-layers", type=int, help="LoRA on the last N layers only")
    train.add_argument("--seed", type=int)
    train.add_argument("--out", type=Path, required=True, help="model folder (resumes checkpoints)")
    train.add_argument("--force", action="store_true", help="train again into a finished --out")

    gguf = command("import-gguf", "import-gguf", "convert a GGUF model into an HF model folder")
    gguf.add_argument("source", help="a .gguf file, or an installed package that ships one")
    gguf.add_argument("--out", type=Path, required=True, help="model folder to write")
    gguf.add_argument(
        "--chat-template",
        choices=("auto", "keep", "qwen2_5", "qwen3"),
        default="auto",
        help="tool calling for a ChatML template without it (auto: Qwen2.5's, with a notice)",
    )
    gguf.add_argument("--force", action="store_true", help="replace a model in --out")

    serve = command("serve", "serve", "a local model behind an OpenAI-compatible API")
    serve.add_argument("folder", type=Path, help="HF model folder (e.g. models/smollm2-135m)")
    serve.add_argument("--name", help="the model name clients send (default: the folder's name)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    compare = command(
        "compare", "compare", "before/after: models on the same tasks and user, pass^k per variant"
    )
    compare.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="LABEL=MODEL",
        help="e.g. base=hf-local/models/tiny; give it once per model",
    )
    compare.add_argument("--tasks", type=Path, required=True, help="the training domain's tasks")
    compare.add_argument("--split", type=Path, help="split.json: play only its test side")
    compare.add_argument("--domain", help="for a --tasks file whose tasks name no domain")
    compare.add_argument("--unseen", type=Path, action="append", help="tasks of an unseen domain")
    compare.add_argument("--limit", type=int, help="only the first N tasks of each set")
    compare.add_argument("--trials", type=int, default=1)
    compare.add_argument("--user", default="scripted", help="scripted (default) or a litellm model")
    compare.add_argument("--max-steps", type=int, default=30, help="agent turns per episode")
    compare.add_argument("--max-tokens", type=int, help="tokens per agent reply")
    compare.add_argument(
        "--baseline", metavar="LABEL", help="paired differences against it (default: first model)"
    )
    compare.add_argument("--out", type=Path, required=True, help="folder (results resume)")

    tau2 = commands.add_parser("tau2", help="τ²-bench interop")
    tau2_commands = tau2.add_subparsers(dest="tau2_command", required=True, metavar="COMMAND")
    replay = command(
        "replay", "tau2 replay", "replay τ² tasks; one hash line per task", tau2_commands
    )
    on_db(replay, db_required=True)
    replay.add_argument("--tasks", required=True, type=Path, help="τ² tasks.json")
    writes(replay)
    imported = command("import", "tau2 import", "τ² tasks.json → t2t tasks JSONL", tau2_commands)
    imported.add_argument("--tasks", required=True, type=Path)
    writes(imported)
    exported = command("export", "tau2 export", "t2t tasks → τ² tasks.json", tau2_commands)
    exported.add_argument("--tasks", required=True, type=Path)
    writes(exported)
    return parser
