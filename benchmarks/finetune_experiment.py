"""The paper's comparison in miniature: SmolLM2-135M before and after fine-tuning, on 2 CPU cores.

- Teacher data: the oracle's grounded, successful episodes on retail tasks from the training
  seed's DB (all four kinds).
- Models: base SmolLM2-135M-Instruct; "general", fine-tuned on base tasks only; "3I", fine-tuned
  on base + ambiguous + changing + infeasible, with the same number of examples and steps.
- Evaluation: retail tasks from the evaluation seed's DB, per kind, and banking (never trained
  on), with the same scripted user, trials and limits for every model; pass^1 with 95% bootstrap
  intervals over tasks, paired differences against the base model, the failure taxonomy.

The budget (2 h on 2 cores) shapes the design, each choice measured in the README:
- Tasks whose reference conversation is short (the oracle's, after the shared policy and tool
  prompt, at most `--suffix-limit` tokens), in training and evaluation alike: a 7,600-token
  conversation costs minutes per training step and per episode here.
- LoRA on the last `--top-layers` layers, the shared prompt encoded once per optimizer step
  (`t2t.finetune.prefix_train`): the same rendering as serving, through the same template.
- Serving through `hf-local/`, whose engine reuses the prompt's KV cache and batches replies.

Every stage writes its result and is skipped when it is there, so a killed run resumes:

    python benchmarks/finetune_experiment.py [--out results/experiment] [--quick]

Writes docs/finetune_experiment.json and docs/finetune_experiment.png (unless --quick).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from t2t.benchmark.results import read_episodes
from t2t.core.schema import Episode, Task
from t2t.domain.loader import load_domain
from t2t.failures.taxonomy import classify_failures
from t2t.finetune.compare import (
    compare_figure,
    compare_frame,
    paired_differences,
    play_models,
    results_path,
)
from t2t.finetune.sft import choose_episodes, hf_example, successful_episodes
from t2t.finetune.train import TrainConfig, read_train_result, train_sft
from t2t.llm.hf_models import load_tokenizer
from t2t.workbench import benchmark, task_set

KINDS = ("base", "ambiguous", "changing", "infeasible")
MODEL = Path("models/smollm2-135m")
TRAIN_SEED, EVAL_SEED = 1, 2
ORACLE = ["t2t/oracle"]  # the teacher, and the reference a task's length is read from


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/experiment"))
    parser.add_argument("--base", type=Path, default=MODEL, help="the base model's folder")
    parser.add_argument("--train-examples", type=int, default=32, help="per fine-tuned model")
    parser.add_argument("--eval-per-kind", type=int, default=4, help="retail tasks per kind")
    parser.add_argument("--banking-per-kind", type=int, default=2)
    parser.add_argument("--suffix-limit", type=int, default=2200, help="tokens after the prompt")
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=4, help="examples per optimizer step")
    parser.add_argument("--top-layers", type=int, default=10, help="LoRA on the last N layers")
    parser.add_argument("--max-steps", type=int, default=8, help="agent turns per episode")
    parser.add_argument("--max-tokens", type=int, default=96, help="tokens per agent reply")
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a few tasks: check the pipeline")
    parser.add_argument(
        "--report-only", action="store_true", help="report the episodes played so far; play none"
    )
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    return parser.parse_args()


def suffix_tokens(tokenizer: Any, example: dict[str, Any]) -> int:
    """Tokens of the conversation after the system prompt (tools are in the shared prompt)."""
    rendered = tokenizer.apply_chat_template(example["messages"][1:], tokenize=False)
    return len(tokenizer(rendered, add_special_tokens=False)["input_ids"])


def short_tasks(
    tasks: Sequence[Task], episodes: list[Episode], domain: Any, tokenizer: Any, limit: int
) -> dict[str, list[tuple[Task, dict[str, Any]]]]:
    """Per kind, the tasks whose oracle conversation is within `limit` tokens, with its example."""
    by_id = {task.id: task for task in tasks}
    chosen: dict[str, list[tuple[Task, dict[str, Any]]]] = {kind: [] for kind in KINDS}
    for episode in choose_episodes(successful_episodes(episodes), per_task=1):
        task = by_id.get(episode.task_id)
        if task is None or task.variant.kind not in chosen:
            continue
        example = hf_example(episode, domain)
        if suffix_tokens(tokenizer, example) <= limit:
            chosen[task.variant.kind].append((task, example))
    return chosen


def write_data(folder: Path, examples: list[dict[str, Any]]) -> Path:
    (folder / "hf").mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)
    (folder / "hf" / "train.jsonl").write_text(lines, encoding="utf-8")
    return folder


def train(name: str, data: Path, args: argparse.Namespace) -> Path:
    out = args.out / "models" / name
    if (out / "t2t_train.json").exists():
        print(f"{name}: trained already ({read_train_result(out).duration_s:.0f} s)")
        return out
    config = TrainConfig(
        base=str(args.base),
        data=str(data),
        method="lora",
        epochs=args.epochs,
        learning_rate=args.lr,
        batch_size=args.batch,
        shared_prefix=True,
        lora_top_layers=args.top_layers,
    )
    result = train_sft(config, out, force=True)
    print(
        f"{name}: {result.steps} steps in {result.duration_s:.0f} s, loss "
        f"{result.losses[0]:.3f} -> {result.losses[-1]:.3f}"
    )
    return out


def failures(played: dict[tuple[str, str], list[Episode]], sets: dict[str, Any]) -> dict:
    """Failure types per model and task set (an episode can have several)."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for (label, set_name), episodes in played.items():
        tasks, env = sets[set_name]
        by_id = {task.id: task for task in tasks}
        tally = counts.setdefault(label, {}).setdefault(set_name, {})
        for episode in episodes:
            for failure in classify_failures(episode, by_id.get(episode.task_id), env):
                tally[failure] = tally.get(failure, 0) + 1
    return counts


def main() -> None:
    args = parse()
    if args.quick:
        args.train_examples, args.eval_per_kind, args.banking_per_kind = 4, 1, 1
        args.epochs, args.max_steps = 1, 4
    started = time.perf_counter()
    tokenizer = load_tokenizer(args.base)
    retail = load_domain("retail")

    # 1. teacher data: the oracle on the training seed's tasks; short conversations only
    train_tasks, train_env, folder = task_set("retail", n=320, seed=TRAIN_SEED, results=args.out)
    teacher = benchmark(train_tasks, train_env, folder / "oracle.jsonl", agents=ORACLE, trials=1)
    pool = short_tasks(train_tasks, teacher, retail, tokenizer, args.suffix_limit)
    per_kind = args.train_examples // len(KINDS)
    general = [example for _, example in pool["base"][: args.train_examples]]
    mixed = [example for kind in KINDS for _, example in pool[kind][:per_kind]]
    counts = {kind: len(items) for kind, items in pool.items()}
    print(f"teacher: {len(teacher)} oracle episodes; within the limit per kind: {counts}")
    if len(general) < args.train_examples or len(mixed) < args.train_examples:
        raise SystemExit(f"too few short teacher episodes: {len(general)} base, {len(mixed)} 3I")

    # 2. two fine-tuned models, same number of examples and steps
    args.train_data = {
        "general": {"base": len(general)},
        "3I": {kind: min(per_kind, len(pool[kind])) for kind in KINDS},
    }
    tuned_general = train("general", write_data(args.out / "sft_general", general), args)
    tuned_3i = train("3I", write_data(args.out / "sft_3i", mixed), args)
    models = {
        "base": f"hf-local/{args.base}",
        "general": f"hf-local/{tuned_general}",
        "3I": f"hf-local/{tuned_3i}",
    }

    # 3. held-out evaluation: the evaluation seed's retail tasks per kind, and banking
    sets = {}
    for name, domain, n, k in (
        ("retail (held out)", "retail", 120, args.eval_per_kind),
        ("banking (unseen)", "banking", 60, args.banking_per_kind),
    ):
        tasks, env, where = task_set(domain, n=n, seed=EVAL_SEED, results=args.out)
        reference = benchmark(tasks, env, where / "oracle.jsonl", agents=ORACLE, trials=1)
        short = short_tasks(tasks, reference, load_domain(domain), tokenizer, args.suffix_limit)
        chosen = [task for kind in KINDS for task, _ in short[kind][:k]]
        sets[name] = (chosen, env)
    if args.report_only:
        played = episodes_so_far(models, sets, args.out / "compare")
        report(args, models, played, sets, time.perf_counter() - started)
        return
    played = play_models(
        models,
        sets,
        args.out / "compare",
        trials=args.trials,
        max_steps=args.max_steps,
        agent_params={"max_tokens": args.max_tokens},
        concurrency=8,
    )
    report(args, models, played, sets, time.perf_counter() - started)


def episodes_so_far(models: dict[str, str], sets: dict[str, Any], folder: Path) -> dict:
    """What `play_models` returns, from the results files only (a run cut short)."""
    played = {}
    for set_name, (tasks, _) in sets.items():
        path = results_path(folder, set_name)
        episodes = read_episodes(path) if path.exists() else []
        wanted = {task.id for task in tasks}
        for label, model in models.items():
            mine = [e for e in episodes if e.agent_model == model and e.task_id in wanted]
            if mine:
                played[label, set_name] = mine
    return played


def report(args, models, played, sets, seconds: float) -> None:
    frame = compare_frame(played, models)
    paired = paired_differences(played, baseline="base")
    summary = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "duration_s": round(seconds, 1),
        "training": {
            label: read_train_result(model.removeprefix("hf-local/")).model_dump(
                exclude={"losses"}, mode="json"
            )
            for label, model in models.items()
            if label != "base"
        },
        "train_data": args.train_data,
        "pass": json.loads(frame.to_json(orient="records")),
        "paired": json.loads(paired.to_json(orient="records")),
        "failures": failures(played, sets),
    }
    out = args.out if args.quick else args.docs
    out.mkdir(parents=True, exist_ok=True)
    (out / "finetune_experiment.json").write_text(json.dumps(summary, indent=1) + "\n")
    try:
        compare_figure(frame).write_image(out / "finetune_experiment.png", width=1100, height=500)
    except Exception as exc:  # kaleido needs a browser; the JSON is the result
        print(f"no PNG: {exc}")
    table = markdown_table(frame, paired)
    (out / "finetune_experiment.md").write_text(table)
    print(table)
    print(f"done in {seconds / 60:.1f} min -> {out}")


def markdown_table(frame: Any, paired: Any) -> str:
    """pass^1 [95% CI] per task set × kind and model, and 3I − base paired, as a README table."""
    from t2t.benchmark.uncertainty import format_interval

    ones = frame[frame["k"] == 1]
    models = list(dict.fromkeys(ones["model"]))
    head = ["task set", "kind (tasks)", *[f"{m} pass^1" for m in models], "3I − base (paired)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    point = ["pass_hat_k", "pass_hat_k_lo", "pass_hat_k_hi"]
    for (set_name, variant), rows in ones.groupby(["task_set", "variant"], sort=False):
        cells = [
            format_interval(*rows[rows["model"] == m][point].iloc[0])
            if (rows["model"] == m).any()
            else "not played"
            for m in models
        ]
        diff = paired[
            (paired["model"] == "3I")
            & (paired["task_set"] == set_name)
            & (paired["variant"] == variant)
        ]
        change = ["difference", "difference_lo", "difference_hi"]
        cells.append(format_interval(*diff[change].iloc[0]) if len(diff) else "-")
        tasks = int(rows["episodes"].iloc[0]) // max(int(rows["k"].max()), 1)
        lines.append(f"| {set_name} | {variant} ({tasks}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
