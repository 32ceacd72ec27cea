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

from t2t.cli_parser import build_parser
from t2t.core.errors import ConfigError, T2TError, validation_problem

__all__ = ["main"]


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


def _db_generate(args: argparse.Namespace) -> None:
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


def _db_check(args: argparse.Namespace) -> int:
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
    from t2t.core.replay import check_task_domains, verify_task
    from t2t.intents import check_variant

    out = prepare_output(args.out, force=args.force) if args.out else None
    tasks = read_tasks(args.tasks)
    _, env = _domain_and_env(args)
    check_task_domains(tasks, env)
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


def _comma_list(value: str | None) -> list[str] | None:
    """A comma-separated flag (`--variants`, `--agents`, ...) as its items; None if not given."""
    if not value:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _flag_error(exc: Any, flags: dict[str, str] | None = None) -> ConfigError:
    """A settings model's first validation error, named by the command-line flag that set it."""
    field, message = validation_problem(exc)
    field = field.split(".")[0]
    flag = (flags or {}).get(field, field).replace("_", "-")
    return ConfigError(f"--{flag}: {message}" if flag else message)


def _generate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from t2t.generate import GenerateConfig, generate_tasks

    try:
        config = GenerateConfig(
            domain=args.domain,
            db_seed=args.db_seed,
            scale=args.scale,
            n=args.n,
            variants=tuple(_comma_list(args.variants) or ()),
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
    from t2t.core.settings import check_settings

    check_settings()  # before the heavy imports and the task set: a bad setting, at once
    from t2t.benchmark.config import load_run_config
    from t2t.benchmark.preflight import preflight_models
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
    variants = _comma_list(args.variants)
    tasks, env = open_task_set(
        args.tasks, db=args.db, domain=args.domain, variants=variants, limit=args.limit
    )
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")
    if not args.no_preflight:
        preflight_models(config)
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
    # both outputs are checked before anything is written: no half-written report
    csv = prepare_output(args.csv, force=args.force) if args.csv is not None else None
    if args.html is not None:
        prepare_output(args.html, force=args.force)
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


def _audit(args: argparse.Namespace) -> int:
    from t2t.core.files import prepare_output, write_json
    from t2t.failures.audit import audit_task_sets, format_audit

    out = prepare_output(args.json, force=args.force) if args.json is not None else None
    report = audit_task_sets(args.tasks, episodes_paths=args.episodes, progress=not args.quiet)
    print(format_audit(report))
    if out is not None:
        write_json(out, report.model_dump(mode="json"))
        print(f"wrote {out}")
    return 0


def _export_dataset(args: argparse.Namespace) -> int:
    from t2t.dataset import export_dataset

    made = export_dataset(
        args.tasks,
        args.out,
        name=args.name,
        test_fraction=args.test_fraction,
        seed=args.seed,
        force=args.force,
        progress=not args.quiet,
    )
    rows = ", ".join(f"{n} {side}" for side, n in made.rows.items())
    print(
        f"wrote {made.out}: {rows} tasks and README.md, the card (datasets.load_dataset reads it)"
    )
    return 0


def _export_sft(args: argparse.Namespace) -> int:
    from t2t.finetune.sft import export_sft

    agents = _comma_list(args.agents)
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
        keep_ungrounded=args.keep_ungrounded,
    )
    if exported.kept_ungrounded:
        ungrounded = f"{exported.ungrounded} ungrounded kept"
    else:
        ungrounded = f"{exported.ungrounded} ungrounded dropped"
    print(
        f"wrote {exported.out}: {exported.examples['train']} training and "
        f"{exported.examples['test']} test examples from {exported.successful} successful of "
        f"{exported.episodes} episodes ({ungrounded}, {exported.duplicates} duplicates "
        f"dropped); {exported.held_out_tasks} tasks held out"
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
        "shared_prefix": args.shared_prefix or None,
        "lora_top_layers": args.lora_top_layers,
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


def _import_gguf(args: argparse.Namespace) -> int:
    from t2t.llm.gguf import import_gguf

    made = import_gguf(args.source, args.out, chat_template=args.chat_template, force=args.force)
    print(
        f"wrote {made.out}: {made.architecture}, {made.parameters / 1e6:.1f} M parameters, "
        f"{made.context_length} tokens of context, in {made.duration_s:.0f} s"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from t2t.llm.serve import serve

    name = args.name or args.folder.name
    print(f"serving {args.folder} as {name!r} on http://{args.host}:{args.port}/v1 (Ctrl-C stops)")
    serve(args.folder, name=name, host=args.host, port=args.port)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from t2t.benchmark.passk import format_table
    from t2t.finetune.compare import compare_table, compare_task_sets

    comparison = compare_task_sets(
        args.model,
        args.tasks,
        args.out,
        domain=args.domain,
        split=args.split,
        unseen=args.unseen or (),
        limit=args.limit,
        trials=args.trials,
        user=args.user,
        max_steps=args.max_steps,
        max_tokens=args.max_tokens,
        baseline=args.baseline,
        progress=not args.quiet,
    )
    print(format_table(compare_table(comparison.frame, intervals=True).reset_index()))
    paired = comparison.paired
    if not paired.empty:
        first = paired.iloc[0]
        print(f"\npass^{first['k']} minus {first['baseline']}'s, paired by task [95% interval]:")
        print(format_table(paired.drop(columns="baseline")))
    print(f"wrote {comparison.csv}, {comparison.paired_csv} and {comparison.figure}")
    return 0


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


_HANDLERS: dict[str, Callable[[argparse.Namespace], int | None]] = {
    "domains": _domains,
    "demo": _demo,
    "generate": _generate,
    "db generate": _db_generate,
    "db check": _db_check,
    "verify": _verify,
    "run": _run,
    "report": _report,
    "audit": _audit,
    "export-dataset": _export_dataset,
    "export-sft": _export_sft,
    "tiny-model": _tiny_model,
    "train": _train,
    "import-gguf": _import_gguf,
    "serve": _serve,
    "compare": _compare,
    "tau2 replay": _tau2_replay,
    "tau2 import": _tau2_import,
    "tau2 export": _tau2_export,
}
"""Each command's handler, named after the command."""


_OUTPUTS = ("out", "csv", "html", "json", "figures")
"""Arguments a command writes to."""
_INPUTS = ("tasks", "results", "db", "data", "source", "folder", "config", "unseen", "episodes")
"""Arguments a command reads from."""


def _refuse_writing_over_inputs(args: argparse.Namespace) -> None:
    """An output that is one of the command's own inputs would destroy it (`t2t report prev.jsonl
    --csv prev.jsonl`): refused outright, whatever --force says.
    """
    inputs = [Path(p) for name in _INPUTS for p in _paths(getattr(args, name, None))]
    for name in _OUTPUTS:
        out = getattr(args, name, None)
        if out is None:
            continue
        clash = next((p for p in inputs if _same_path(Path(out), p)), None)
        if clash is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} {out} is also an input of this command; write it to another path"
            )


def _paths(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _same_path(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        return False
    return a.resolve() == b.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a command; user errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        _refuse_writing_over_inputs(args)
        return int(_HANDLERS[args.command_key](args) or 0)
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
