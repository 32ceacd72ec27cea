"""Training settings on a CPU, measured side by side on the tiny model and real exported examples.

`t2t train` trains in fp32 without gradient checkpointing when there is no GPU. This measures why:
one optimizer step (forward, backward, Adam) on the same examples under each setting TRL would
otherwise pick, in one run. Also reported: the serving side, tokens per second of greedy
generation through `hf-local/` with a real prompt (policy, tools and the user's request).

    python benchmarks/train.py [--quick]
Writes results/benchmarks/train.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from t2t.benchmark import RunConfig, run_rollouts
from t2t.core.schema import Message
from t2t.finetune.sft import export_sft, read_examples
from t2t.finetune.tiny_model import build_tiny_model, corpus
from t2t.finetune.train import tokenize_examples
from t2t.llm import complete_sync
from t2t.llm.hf_local import register_local_model
from t2t.llm.hf_models import load_causal_lm, load_tokenizer
from t2t.workbench import task_set

OUT = Path("results/benchmarks/train.json")
SETTINGS = {
    "fp32 (t2t on a CPU)": {"bf16": False, "checkpointing": False},
    "fp32 + gradient checkpointing": {"bf16": False, "checkpointing": True},
    "bf16 autocast + checkpointing (TRL's defaults)": {"bf16": True, "checkpointing": True},
}


def step_seconds(model_dir: Path, rows: list[dict], *, bf16: bool, checkpointing: bool) -> float:
    import torch

    model = load_causal_lm(model_dir).train()
    if checkpointing:
        getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    times = []
    for row in rows:
        ids = torch.tensor([row["input_ids"]])
        labels = ids.clone()
        labels[0, [not m for m in row["assistant_masks"]]] = -100
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:] or times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 examples instead of 8")
    args = parser.parse_args()
    n = 3 if args.quick else 8
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tasks, env, folder = task_set("retail", n=16, seed=0, results=work, progress=False)
        runs = work / "oracle.jsonl"
        run_rollouts(tasks, env, RunConfig(agent="t2t/oracle"), runs, progress=False)
        data = work / "sft"
        export_sft([runs], [folder / "tasks.jsonl"], data, per_task=1)
        model_dir = build_tiny_model(work / "tiny", corpus(data))
        tokenizer = load_tokenizer(model_dir)
        rows = tokenize_examples(tokenizer, read_examples(data / "hf" / "train.jsonl")[:n])
        seconds = {name: step_seconds(model_dir, rows, **flags) for name, flags in SETTINGS.items()}
        model = f"hf-local/{model_dir}"
        register_local_model(model)
        example = read_examples(data / "hf" / "train.jsonl")[0]
        messages = [Message(role="system", content=example["messages"][0]["content"])]
        messages.append(Message(role="user", content=example["messages"][2]["content"]))
        complete_sync(model, messages, example["tools"], max_tokens=4, cache=False)  # loads it
        started = time.perf_counter()
        completion = complete_sync(model, messages, example["tools"], max_tokens=64, cache=False)
        serve_s = time.perf_counter() - started
    base = seconds["fp32 (t2t on a CPU)"]
    report = {
        "examples": n,
        "tokens_per_example": round(statistics.mean(len(r["input_ids"]) for r in rows)),
        "step_seconds": {name: round(s, 3) for name, s in seconds.items()},
        "slower_than_fp32": {name: round(s / base, 2) for name, s in seconds.items()},
        "serving": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "seconds": round(serve_s, 2),
        },
        "torch_threads": __import__("torch").get_num_threads(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
