"""Local inference: episodes per hour for SmolLM2-135M on retail tasks, two engines, one run.

Both runs play the same retail tasks at concurrency 8 through `hf-local/models/smollm2-135m`,
greedy, with the scripted user, in this process:

(a) plain: what `hf-local` did before: every request encodes its whole prompt (policy, tools and
    conversation: ≈ 4,600+ tokens) and requests are answered one at a time;
(b) engine: the KV cache of the longest cached prefix is reused (the shared policy and tools,
    the episode's conversation so far) and greedy replies are decoded as one running batch,
    which requests join and leave between steps.

16 tasks by default: the shared prompt's one full encoding (≈ 12 s) is paid once per run, so a
run of 8 tasks measures mostly that (4.45× there), a long run much less.

Reported: wall time, episodes per hour, model calls, share of prompt tokens read from cache,
batch sizes, and whether the two runs' episodes are identical (greedy replies must not change).

    python benchmarks/local_inference.py [--tasks N] [--max-steps S] [--max-tokens T]

Needs `make model`. Writes results/benchmarks/local_inference.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from t2t.benchmark import RunConfig, run_rollouts
from t2t.benchmark.results import read_episodes
from t2t.llm.hf_local import EngineOptions, engine_stats, register_local_model, set_engine_options
from t2t.workbench import task_set

MODEL = "hf-local/models/smollm2-135m"
OUT = Path("results/benchmarks/local_inference.json")


def play(name: str, options: EngineOptions, tasks, env, args, folder: Path) -> dict:
    set_engine_options(options)
    config = RunConfig(
        agent=MODEL,
        concurrency=8,
        max_steps=args.max_steps,
        agent_params={"max_tokens": args.max_tokens},
    )
    out = folder / f"{name}.jsonl"
    started = time.perf_counter()
    run_rollouts(tasks, env, config, out, progress=False)
    seconds = time.perf_counter() - started
    episodes = read_episodes(out)
    stats = engine_stats(MODEL)
    calls = sum(sum(m.role == "assistant" for m in e.messages) - 1 for e in episodes)
    return {
        "seconds": round(seconds, 1),
        "episodes": len(episodes),
        "episodes_per_hour": round(len(episodes) / seconds * 3600, 1),
        "model_calls": calls,
        "seconds_per_call": round(seconds / max(calls, 1), 2),
        "prompt_tokens_reused": round(stats.reuse, 3) if stats else None,
        "mean_batch": round(stats.mean_batch, 2) if stats else None,
        "conversations": {e.task_id: [m.model_dump() for m in e.messages] for e in episodes},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    tasks, env, _ = task_set("retail", n=40, seed=0, progress=False)
    tasks = tasks[: args.tasks]
    register_local_model(MODEL, load=True)  # load once, outside the timed runs
    plain = EngineOptions(reuse=False, max_batch=1)
    with tempfile.TemporaryDirectory() as folder:
        runs = {
            "plain": play("plain", plain, tasks, env, args, Path(folder)),
            "engine": play("engine", EngineOptions(), tasks, env, args, Path(folder)),
        }
    identical = runs["plain"].pop("conversations") == runs["engine"].pop("conversations")
    result = {
        "model": MODEL,
        "tasks": len(tasks),
        "concurrency": 8,
        "max_steps": args.max_steps,
        "max_tokens": args.max_tokens,
        **runs,
        "speedup": round(
            runs["engine"]["episodes_per_hour"] / runs["plain"]["episodes_per_hour"], 2
        ),
        "identical_episodes": identical,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
