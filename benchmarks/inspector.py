"""The trajectory inspector on 10,000 episodes: a filter change and a selection, against a naive
inspector that filters by looping over the episode objects, measured side by side in one run.

The ratio compares how the episodes matching the filters are found: pandas masks over
`episode_frame` vs a Python loop over the `Episode` objects. Also reported: a whole filter change
as the user sees it (list rebuilt, first match rendered), a selection (rendering one episode,
with its replays), and classification per episode (`episode_frame`, with replays).

    python benchmarks/inspector.py [--quick] [--episodes N]
Writes results/benchmarks/inspector.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from t2t.benchmark import RunConfig, run_rollouts
from t2t.benchmark.results import read_episodes
from t2t.failures.inspector import TrajectoryInspector
from t2t.failures.taxonomy import episode_frame
from t2t.workbench import per_kind, task_set

OUT = Path("results/benchmarks/inspector.json")
FILTERS = [
    ("outcome", "fail"),
    ("model", "t2t/eager"),
    ("variant", "ambiguous"),
    ("outcome", "all"),
    ("model", "all"),
    ("variant", "all"),
]


def probe_episodes(n: int, workdir: Path):
    """Every probe on 5 retail tasks per kind, 2 trials, repeated (as more trials) up to n."""
    tasks, env, _ = task_set("retail", n=40, seed=0, results=workdir, progress=False)
    out = workdir / "runs.jsonl"
    for probe in ("oracle", "eager", "stubborn", "reckless", "random"):
        config = RunConfig(agent=f"t2t/{probe}", trials=2)
        run_rollouts(per_kind(tasks, 5), env, config, out, progress=False)
    return tasks, env, read_episodes(out)


def naive_matches(episodes, wanted: dict[str, str]) -> list[int]:
    """What an inspector without a table does: read every episode at each filter change."""
    found = []
    for i, e in enumerate(episodes):
        outcome = "pass" if e.reward is not None and e.reward.value == 1.0 else "fail"
        if all(
            value == "all"
            or value == {"model": e.agent_model, "variant": e.variant}.get(k, outcome)
            for k, value in wanted.items()
        ):
            found.append(i)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 episodes")
    parser.add_argument("--episodes", type=int, default=10_000)
    args = parser.parse_args()
    n = 2_000 if args.quick else args.episodes
    with tempfile.TemporaryDirectory() as tmp:
        tasks, env, seed = probe_episodes(n, Path(tmp))
    started = time.perf_counter()
    seed_frame = episode_frame(seed, tasks, env)
    classify_ms = (time.perf_counter() - started) / len(seed) * 1000
    copies = n // len(seed) + 1
    episodes = [
        e.model_copy(update={"trial": e.trial + 2 * copy}) for copy in range(copies) for e in seed
    ][:n]
    frame = pd.concat([seed_frame] * copies, ignore_index=True).iloc[:n]
    frame["trial"] = [e.trial for e in episodes]

    inspector = TrajectoryInspector(episodes, tasks, env, frame=frame)
    change_ms, mask_ms, naive_ms, wanted = [], [], [], {}
    for name, value in FILTERS * 3:
        started = time.perf_counter()
        getattr(inspector, name).value = value  # filter, rebuild the list, render if new
        change_ms.append((time.perf_counter() - started) * 1000)
        wanted[name] = value
        started = time.perf_counter()
        matched = frame[inspector._mask()]
        mask_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        naive = naive_matches(episodes, wanted)
        naive_ms.append((time.perf_counter() - started) * 1000)
        assert naive == list(matched.index) == list(inspector.filtered.index), (name, value)
    select_ms = []
    for index in inspector.shown[:20]:
        started = time.perf_counter()
        inspector.select(index)  # renders: conversation, replays for calls and DB diff
        select_ms.append((time.perf_counter() - started) * 1000)

    median = statistics.median
    result = {
        "episodes": n,
        "filter_change_ms": round(median(change_ms), 1),
        "select_ms": round(median(select_ms), 1),
        "matching_ms_t2t": round(median(mask_ms), 2),
        "matching_ms_naive_loop": round(median(naive_ms), 2),
        "naive_over_t2t": round(median(naive_ms) / median(mask_ms), 1),
        "classify_ms_per_episode": round(classify_ms, 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
