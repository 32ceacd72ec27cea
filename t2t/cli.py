"""The `t2t` command line: thin wrappers over the Python API, one line per user error, exit code 2.

Every command that writes refuses to overwrite an existing file unless `--force` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from t2t.core.errors import ConfigError, T2TError, validation_problem

__all__ = ["main"]

_SCALES_HELP = "a preset from the domain's generate.py SCALES (e.g. paper, small)"


def _domain_and_env(args: argparse.Namespace) -> tuple[Any, Any]:
    from t2t.domain.loader import check_db_shape, load_domain, read_db

    domain = load_domain(args.domain)
    if getattr(args, "db", None):
        db = read_db(domain, args.db)
    elif domain.default_db is not None:
        db = domain.default_db()
        check_db_shape(domain, db, source=f"{domain.name} default database")
    else:  # pragma: no cover - every loaded domain has a default
        raise ConfigError("pass --db")
    return domain, domain.environment(db)


def _generate(args: argparse.Namespace) -> None:
    from t2t.core.files import prepare_output, write_json
    from t2t.domain.loader import load_domain, scale_sizes

    domain = load_domain(args.domain)
    if domain.generate_db is None:
        raise ConfigError(f"domain {domain.name!r} has no generator (generate.py)")
    sizes = scale_sizes(domain, args.scale)
    for item in args.set or []:
        name, _, value = item.partition("=")
        try:
            sizes[name] = int(value)
        except ValueError:
            raise ConfigError(f"--set expects NAME=INTEGER, got {item!r}") from None
    out = prepare_output(args.out, force=args.force)
    try:
        db = domain.generate_db(seed=args.seed, **sizes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad size for the {domain.name} generator: {exc}") from None
    write_json(out, db)
    counts = ", ".join(f"{len(records)} {table}" for table, records in db.items())
    print(f"wrote {out}: {counts} (seed {args.seed})")


def _check(args: argparse.Namespace) -> int:
    domain, env = _domain_and_env(args)
    if domain.check_db is None:
        print(f"{domain.name} has no consistency checker (checks.py); the layout is valid")
        return 0
    problems = domain.check_db(env.to_dict())
    for problem in problems:
        print(problem)
    print(f"{len(problems)} consistency problems")
    return 1 if problems else 0


def _verify(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from t2t.core.files import prepare_output, read_tasks, write_jsonl
    from t2t.core.replay import verify_task
    from t2t.intents import check_variant

    out = prepare_output(args.out, force=args.force) if args.out else None
    tasks = read_tasks(args.tasks)
    _, env = _domain_and_env(args)
    verdicts = [verify_task(task, env) for task in tqdm(tasks, desc="verify", disable=args.quiet)]
    variant_checks = [check_variant(task, env) for task in tasks]
    if out:
        write_jsonl(out, verdicts)
    failed = [v for v in verdicts if not v.ok]
    for check in variant_checks:
        if not check.ok:
            print(f"task {check.task_id}: {check.kind} variant rejected: {check.reason}")
    for verdict in failed[:20]:
        for error in verdict.errors[:1]:
            print(f"task {verdict.task_id}: call {error.index} {error.name}: {error.error}")
        for broken in verdict.violations[:1]:
            print(
                f"task {verdict.task_id}: call {broken.index} {broken.name} breaks "
                f"{broken.rule}: {broken.reason}"
            )
    if len(failed) > 20:
        print(f"… and {len(failed) - 20} more (see --out)")
    print(f"{len(verdicts) - len(failed)}/{len(verdicts)} tasks replay cleanly within the policy")
    bad_variants = sum(not c.ok for c in variant_checks)
    if bad_variants:
        print(f"{bad_variants}/{len(tasks)} tasks fail their variant's checks")
    return 1 if failed or bad_variants else 0


def _tau2_replay(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm

    from t2t.core.files import prepare_output, write_jsonl
    from t2t.tasks.tau2 import read_tau2_tasks, replay_tau2_tasks

    out = prepare_output(args.out, force=args.force)
    tasks = read_tau2_tasks(args.tasks)
    _, env = _domain_and_env(args)
    lines = list(tqdm(replay_tau2_tasks(env, tasks), total=len(tasks), disable=args.quiet))
    write_jsonl(out, lines)
    with_errors = sum(bool(line.errors) for line in lines)
    print(f"wrote {out}: {len(lines)} tasks, {with_errors} with failed gold calls")


def _tau2_import(args: argparse.Namespace) -> None:
    from t2t.core.files import prepare_output, write_jsonl
    from t2t.tasks.tau2 import read_tau2_tasks

    out = prepare_output(args.out, force=args.force)
    count = write_jsonl(out, read_tau2_tasks(args.tasks))
    print(f"wrote {out}: {count} tasks")


def _tau2_export(args: argparse.Namespace) -> None:
    from t2t.core.files import prepare_output, read_tasks
    from t2t.tasks.tau2 import write_tau2_tasks

    out = prepare_output(args.out, force=args.force)
    tasks = read_tasks(args.tasks)
    write_tau2_tasks(tasks, out)
    print(f"wrote {out}: {len(tasks)} tasks in τ² format")


def _flag_error(exc: Any, flags: dict[str, str] | None = None) -> ConfigError:
    """A settings model's first validation error, named by the command-line flag that set it."""
    field, message = validation_problem(exc)
    field = field.split(".")[0]
    flag = (flags or {}).get(field, field).replace("_", "-")
    return ConfigError(f"--{flag}: {message}" if flag else message)


def _generate_tasks(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from t2t.generate import GenerateConfig, generate_tasks

    try:
        config = GenerateConfig(
            domain=args.domain,
            db_seed=args.db_seed,
            scale=args.scale,
            n=args.n,
            variants=tuple(v.strip() for v in args.variants.split(",") if v.strip()),
            seed=args.seed,
            explorer=args.explorer,
            model=args.model,
            rewrite_model=args.rewrite_model,
            judge_model=args.judge_model,
        )
    except ValidationError as exc:
        raise _flag_error(exc) from None
    report = generate_tasks(
        config, args.out, workers=args.workers, force=args.force, progress=not args.quiet
    )
    print(f"wrote {args.out}/tasks.jsonl: {report.total_kept} tasks ({report.walks} walks)")
    for kind in config.variants:
        reasons = report.dropped.get(kind, {})
        top = "; ".join(f"{count}× {reason}" for reason, count in list(reasons.items())[:2])
        twins = report.duplicates.get(kind, 0)
        print(
            f"  {kind:<11} verified {report.verified.get(kind, 0):>5}  "
            f"kept {report.kept.get(kind, 0):>5}"
            + (f"  duplicates {twins}" if twins else "")
            + (f"  dropped: {top}" if top else "")
        )
    return 0 if report.total_kept >= config.n else 1


def _run(args: argparse.Namespace) -> int:
    from t2t.benchmark.config import load_run_config
    from t2t.benchmark.runner import run_rollouts
    from t2t.tasks.task_set import open_task_set

    config = load_run_config(
        args.config,
        agent=args.agent,
        user=args.user,
        trials=args.trials,
        concurrency=args.concurrency,
        max_steps=args.max_steps,
        cache_dir=None if args.cache is None else str(args.cache),
    )
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    tasks, env = open_task_set(
        args.tasks, db=args.db, domain=args.domain, variants=variants, limit=args.limit
    )
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")
    stats = run_rollouts(
        tasks,
        env,
        config,
        args.out,
        progress=not args.quiet,
        retry_errors=args.retry_errors,
        workers=args.workers,
        backend=args.backend,
    )
    print(
        f"wrote {stats.out}: {stats.ran} episodes run, {stats.skipped} already there "
        f"({stats.infra_errors} infrastructure errors), ${stats.cost_usd:.4f}, "
        f"{stats.duration_s:.1f} s"
    )
    if not args.quiet:
        _print_report([args.out], max_k=None, agent=config.agent)
    return 0


def _report(args: argparse.Namespace) -> int:
    from t2t.core.files import prepare_output

    if args.k is not None and args.k < 1:
        raise ConfigError(f"--k must be at least 1, not {args.k}")
    if args.html is None and (args.tasks or args.figures):
        raise ConfigError("--tasks and --figures go with --html (the HTML report)")
    csv = prepare_output(args.csv, force=True) if args.csv is not None else None
    _print_report(args.results, max_k=args.k, csv=csv)
    if args.html is not None:
        _html_report(args)
    return 0


def _html_report(args: argparse.Namespace) -> None:
    from t2t.failures.report import load_section, write_report

    tasks = args.tasks or [None]
    if len(tasks) == 1:
        tasks = tasks * len(args.results)
    if len(tasks) != len(args.results):
        raise ConfigError(
            f"give --tasks once for all results files or once per file ({len(args.results)}), "
            f"not {len(args.tasks)} times"
        )
    sections = [load_section(r, t) for r, t in zip(args.results, tasks, strict=True)]
    path = write_report(sections, args.html, figures_dir=args.figures, max_k=args.k)
    print(f"wrote {path}" + (f" and figures under {args.figures}" if args.figures else ""))


def _print_report(
    paths: Sequence[Path], *, max_k: int | None, agent: str | None = None, csv: Path | None = None
) -> None:
    from t2t.benchmark.passk import format_table, summarize
    from t2t.benchmark.results import read_episodes

    episodes = []
    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such results file")
        episodes += read_episodes(path)
    if agent is not None:
        episodes = [e for e in episodes if e.agent_model == agent]
    if not episodes:
        raise ConfigError(f"{', '.join(map(str, paths))}: no episodes yet")
    table = summarize(episodes, max_k=max_k)
    print(format_table(table))
    if csv is not None:
        try:
            table.to_csv(csv, index=False)
        except OSError as exc:
            raise ConfigError(f"cannot write {csv}: {exc.strerror or exc}") from None
        print(f"wrote {csv}")


def _export_sft(args: argparse.Namespace) -> int:
    from t2t.finetune.sft import export_sft

    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None
    exported = export_sft(
        args.results,
        args.tasks,
        args.out,
        agents=agents,
        per_task=args.per_task,
        test_fraction=args.test_fraction,
        seed=args.seed,
        split=args.split,
        tokenizer=args.tokenizer,
        domain=args.domain,
        force=args.force,
    )
    print(
        f"wrote {exported.out}: {exported.examples['train']} training and "
        f"{exported.examples['test']} test examples from {exported.successful} successful of "
        f"{exported.episodes} episodes ({exported.duplicates} duplicates dropped); "
        f"{exported.held_out_tasks} tasks held out"
    )
    if exported.invalid:
        print(f"  skipped {exported.invalid} conversations no fine-tuning API would take, e.g.:")
        for reason in exported.invalid_reasons[:3]:
            print(f"    {reason}")
    for side in ("train", "test"):
        variants = ", ".join(f"{v} {n}" for v, n in exported.per_variant[side].items()) or "none"
        tokens = exported.tokens[side]
        print(
            f"  {side}: {variants}; tokens ({exported.tokenizer}) total {tokens['total']:.0f}, "
            f"mean {tokens['mean']:.0f}, max {tokens['max']:.0f}"
        )
    return 0


def _tiny_model(args: argparse.Namespace) -> int:
    from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model, corpus

    config = TinyModelConfig(seed=args.seed)
    path = build_tiny_model(args.out, corpus(args.data), config, force=args.force)
    print(f"wrote {path}: a random {config.layers}-layer Qwen3-shaped model and its tokenizer")
    return 0


def _train(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from t2t.finetune.train import TrainConfig, train_sft

    settings = {
        "base": args.base,
        "data": str(args.data),
        "method": "lora" if args.lora else "full",
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "gradient_accumulation": args.grad_accum,
        "max_length": args.max_length,
        "max_examples": args.max_examples,
        "seed": args.seed,
    }
    try:
        config = TrainConfig(**{k: v for k, v in settings.items() if v is not None})
    except ValidationError as exc:
        raise _flag_error(
            exc, {"learning_rate": "lr", "gradient_accumulation": "grad-accum"}
        ) from None
    result = train_sft(config, args.out, force=args.force, progress=not args.quiet)
    first, last = result.losses[0], result.losses[-1]
    print(
        f"wrote {result.out}: {result.steps} steps on {result.train_examples} examples "
        f"({result.trained_tokens} assistant tokens) in {result.duration_s:.0f} s; "
        f"training loss {first:.3f} -> {last:.3f}"
    )
    if result.test_loss_before is not None:
        print(f"  test loss {result.test_loss_before:.3f} -> {result.test_loss_after:.3f}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from t2t.benchmark.passk import format_table
    from t2t.finetune.compare import compare_models, compare_table
    from t2t.finetune.sft import read_split
    from t2t.tasks.task_set import open_task_set

    for flag, value in (("--limit", args.limit), ("--max-tokens", args.max_tokens)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1, not {value}")
    models: dict[str, str] = {}
    for item in args.model:
        label, _, model = item.partition("=")
        if not model or not label:
            raise ConfigError(f"--model expects LABEL=MODEL, got {item!r}")
        if label in models:
            raise ConfigError(f"--model label {label!r} is given twice")
        models[label] = model
    tasks, env = open_task_set(args.tasks, domain=args.domain)
    name = env.domain.name
    if args.split is not None:
        split = read_split(args.split)
        tasks = [t for t in tasks if split.side(t.id) == "test"]
        if not tasks:
            raise ConfigError(f"{args.split}: no task of {args.tasks} is on the test side")
        name = f"{name} (held out)"
    task_sets = {name: (tasks[: args.limit], env)}
    for path in args.unseen or []:
        unseen, unseen_env = open_task_set(path, limit=args.limit)
        unseen_name = f"{unseen_env.domain.name} (unseen)"
        if unseen_name in task_sets:
            raise ConfigError(f"two task sets of {unseen_env.domain.name}: give --unseen once each")
        task_sets[unseen_name] = (unseen, unseen_env)
    params = {"max_tokens": args.max_tokens} if args.max_tokens else {}
    frame = compare_models(
        models,
        task_sets,
        args.out,
        trials=args.trials,
        user=args.user,
        max_steps=args.max_steps,
        agent_params=params,
        progress=not args.quiet,
    )
    print(format_table(compare_table(frame).reset_index()))
    frame.to_csv(Path(args.out) / "compare.csv", index=False)
    written = _compare_figure(frame, Path(args.out))
    print(f"wrote {Path(args.out) / 'compare.csv'} and {written}")
    return 0


def _compare_figure(frame: Any, out: Path) -> Path:
    from t2t.failures.figures import save_figures
    from t2t.finetune.compare import compare_figure

    return save_figures({"compare": compare_figure(frame)}, out)[0]


def _domains(args: argparse.Namespace) -> None:
    from t2t.domain.loader import builtin_domains, load_domain

    for name in builtin_domains():
        domain = load_domain(name)
        writes = len(domain.write_tools)
        print(f"{name}: {len(domain.tools)} tools ({writes} write), {len(domain.rules)} rules")


def _demo(args: argparse.Namespace) -> None:
    from t2t.benchmark.passk import pass_k_matrix, summarize
    from t2t.benchmark.results import read_episodes
    from t2t.demo import run_demo

    summary = run_demo(args.out, seed=args.seed, force=args.force, progress=not args.quiet)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    for name, parts in summary["domains"].items():
        matrix = pass_k_matrix(summarize(read_episodes(parts["probes"]["path"])))
        print(f"\n{name}: probe agents with the scripted user, {matrix.attrs['title']}")
        print(matrix.to_string())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="t2t",
        description="Verifiable tool-calling tasks: domains, databases, replay, τ²-bench interop.",
        epilog="Commands that write refuse to overwrite a file unless given --force.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[..., Any], help: str, parent: Any = commands) -> Any:
        sub = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
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

    command("domains", _domains, "list the built-in domains")

    demo = command("demo", _demo, "the offline end-to-end job behind `make run`")
    demo.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true", help="overwrite earlier demo output")

    tasks = command(
        "generate", _generate_tasks, "explore a domain and write verified tasks with variants"
    )
    tasks.add_argument("--domain", default="retail", help="built-in name or a domain folder path")
    tasks.add_argument("--db-seed", type=int, default=0, help="seed of the generated database")
    tasks.add_argument("--scale", help=_SCALES_HELP + " (default: the generator's defaults)")
    tasks.add_argument("--n", type=int, default=100, help="tasks to keep, shared over the kinds")
    tasks.add_argument(
        "--variants",
        default="base,ambiguous,changing,infeasible",
        help="comma-separated kinds (default: all four)",
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
    generate = command("generate", _generate, "generate a seeded database", db_commands)
    generate.add_argument("--domain", required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--scale", help=_SCALES_HELP)
    generate.add_argument("--set", action="append", metavar="NAME=N", help="a generator size")
    writes(generate)
    check = command("check", _check, "check a database's consistency", db_commands)
    on_db(check)

    verify = command(
        "verify", _verify, "replay tasks' gold actions; report failed calls and broken policy rules"
    )
    on_db(verify)
    verify.add_argument("--tasks", required=True, type=Path, help="tasks .jsonl or .json")
    writes(verify, required=False)

    run = command("run", _run, "benchmark an agent on a task set; resumable, appends to --out")
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
        "--retry-errors", action="store_true", help="re-run episodes that hit an infra error"
    )
    run.add_argument("--out", type=Path, required=True, help="results .jsonl (resumed if present)")

    report = command("report", _report, "pass^k and reward components of results files")
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

    export = command(
        "export-sft", _export_sft, "successful episodes as chat SFT data (OpenAI and HF JSONL)"
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

    tiny = command(
        "tiny-model", _tiny_model, "build a tiny random Qwen3-shaped model to train offline"
    )
    tiny.add_argument("--data", type=Path, required=True, help="a t2t export-sft folder")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--out", type=Path, required=True, help="model folder")
    tiny.add_argument("--force", action="store_true", help="replace a model in --out")

    train = command("train", _train, "fine-tune a HF causal LM on exported SFT data (TRL)")
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
    train.add_argument("--seed", type=int)
    train.add_argument("--out", type=Path, required=True, help="model folder (resumes checkpoints)")
    train.add_argument("--force", action="store_true", help="train again into a finished --out")

    compare = command(
        "compare", _compare, "before/after: models on the same tasks and user, pass^k per variant"
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
    compare.add_argument("--out", type=Path, required=True, help="folder (results resume)")

    tau2 = commands.add_parser("tau2", help="τ²-bench interop")
    tau2_commands = tau2.add_subparsers(dest="tau2_command", required=True, metavar="COMMAND")
    replay = command(
        "replay", _tau2_replay, "replay τ² tasks; one hash line per task", tau2_commands
    )
    on_db(replay, db_required=True)
    replay.add_argument("--tasks", required=True, type=Path, help="τ² tasks.json")
    writes(replay)
    imported = command("import", _tau2_import, "τ² tasks.json → t2t tasks JSONL", tau2_commands)
    imported.add_argument("--tasks", required=True, type=Path)
    writes(imported)
    exported = command("export", _tau2_export, "t2t tasks → τ² tasks.json", tau2_commands)
    exported.add_argument("--tasks", required=True, type=Path)
    writes(exported)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a command; user errors print one line and exit 2."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except T2TError as exc:
        print(f"t2t: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("t2t: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
