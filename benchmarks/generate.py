"""Verified tasks per minute of the offline generation pipeline, and the size/cost of the LLM path.

Part 1 (offline): `t2t.generate.generate_tasks` per domain, on one core (workers=1) and on all
cores (workers=os.cpu_count()), side by side in one run. Every run is a fresh subprocess writing
into a fresh temp folder (nothing resumed, nothing cached from an earlier run), which times its
startup (import t2t + build the DB, tool graph and value pool: `t2t.generate._context`) apart from
the generation itself. Reported: end-to-end tasks/min = kept / (startup + generate) * 60, and
steady-state tasks/min = kept / generate * 60 (the startup is paid once per process).

Part 2 (LLM path, simulated): the paper's recipe, LLM explorer (one model call per step) + LLM
rewrite + LLM judge, run through t2t's real code with a registered offline provider that replays
the offline explorer's walks as model tool calls (one call per turn, a justification before each
write, then a final answer) and sleeps a configurable latency per call. At latency 0 this
measures t2t's own overhead (litellm plumbing, environment, conversion, verification) per task;
the model calls and tokens per verified task are counted; a run at a small latency with
concurrency checks the projection

    seconds per task = model calls per task * latency / concurrency + measured overhead per task

which then gives tasks/min for real latencies and the cost per 1,000 tasks from litellm's local
cost map. No network, no API key.

    python benchmarks/generate.py [--quick] [--n N] [--repeats R] [--llm-tasks K] [--out PATH]
Writes results/benchmarks/generate.json (headline: retail).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path("results/benchmarks/generate.json")
DOMAINS = ("retail", "airline", "banking")
TARGET_TASKS_PER_MIN = 1000  # DESIGN §6: offline, on 2 cores

# ---------------------------------------------------------------------------------- part 1


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One generate run in this (fresh) process: startup and generation timed apart."""
    started = time.perf_counter()
    import t2t.generate as generate

    imported = time.perf_counter()
    config = generate.GenerateConfig(domain=spec["domain"], n=spec["n"])
    generate._context(config)  # the per-process startup: DB, tool graph, value pool
    built = time.perf_counter()

    spent = {"write_outputs_s": 0.0, "db_hash_s": 0.0}

    def timed(name: str, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return wrapper

    # time the fixed per-run parts (hash the DB, write tasks + db.json) without changing them
    generate._write_outputs = timed("write_outputs_s", generate._write_outputs)
    generate.db_sha256 = timed("db_hash_s", generate.db_sha256)
    with tempfile.TemporaryDirectory(prefix="t2t-bench-generate-") as tmp:
        # count the chunks computed (also in forked workers, which see this module as patched),
        # used by the run or not: a parallel run computes ahead
        computed = Path(tmp) / "computed"
        chunk = generate._process_chunk

        @functools.wraps(chunk)
        def counted(config, start, *rest):
            rows = chunk(config, start, *rest)
            with computed.open("a") as log:
                log.write(f"{len(rows)}\n")
            return rows

        generate._process_chunk = counted
        t0, cpu0 = time.perf_counter(), _cpu_s()
        report = generate.generate_tasks(
            config, Path(tmp) / "out", workers=spec["workers"], force=True, progress=False
        )
        generate_s = time.perf_counter() - t0
        _reap_workers()  # abandoned chunks still cost CPU: count them once the workers exit
        cpu_s = _cpu_s() - cpu0
        walks_computed = sum(map(int, computed.read_text().split()))
    return {
        "import_s": imported - started,
        "context_s": built - imported,
        "generate_s": generate_s,
        "generate_cpu_s": cpu_s,  # this process + its finished worker processes
        **spent,
        "walks_computed": walks_computed,
        "report": report.model_dump(mode="json"),
    }


def _reap_workers(limit_s: float = 30.0) -> None:
    """Wait for the pool's worker processes to exit, so RUSAGE_CHILDREN includes them."""
    import multiprocessing

    deadline = time.perf_counter() + limit_s
    while multiprocessing.active_children() and time.perf_counter() < deadline:
        time.sleep(0.05)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def run_child(domain: str, n: int, workers: int) -> dict[str, Any]:
    spec = json.dumps({"domain": domain, "n": n, "workers": workers})
    load_before = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, __file__, "--child", spec],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"generate {domain} workers={workers} failed:\n{done.stderr[-3000:]}")
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    report = timing.pop("report")
    kept = sum(report["kept"].values())
    startup = timing["import_s"] + timing["context_s"]
    row = {
        "domain": domain,
        "workers": workers,
        "n": n,
        "kept": kept,
        "walks": report["walks"],
        **{k: round(v, 3) for k, v in timing.items()},  # walks_computed: incl. unused look-ahead
        "startup_s": round(startup, 3),
        "end_to_end_s": round(startup + timing["generate_s"], 3),
        "tasks_per_min": round(kept / (startup + timing["generate_s"]) * 60, 1),
        "steady_tasks_per_min": round(kept / timing["generate_s"] * 60, 1),
        "walks_per_s_steady": round(report["walks"] / timing["generate_s"], 1),
        # CPU seconds of generate_tasks (parent + workers): contention-free efficiency
        "tasks_per_cpu_min": round(kept / timing["generate_cpu_s"] * 60, 1),
        "cpu_utilisation": round(timing["generate_cpu_s"] / timing["generate_s"], 2),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    return {"row": row, "yield": report}


def offline(domains: list[str], n: int, all_cores: int, repeats: int) -> dict[str, Any]:
    """Per domain, 1 core and all cores alternately (`repeats` times each); best run of each."""
    rows, yields, table = [], {}, {}
    for domain in domains:
        best: dict[int, dict[str, Any]] = {}
        for repeat in range(repeats):
            for workers in (1, all_cores):  # side by side, so load on the machine hits both
                run = run_child(domain, n, workers)
                run["row"]["repeat"] = repeat
                rows.append(run["row"])
                if (
                    workers not in best
                    or run["row"]["end_to_end_s"] < best[workers]["row"]["end_to_end_s"]
                ):
                    best[workers] = run
        one, many = best[1]["row"], best[all_cores]["row"]
        yields[domain] = _yield_summary(best[1]["yield"])
        table[domain] = {
            "tasks_per_min_1core": one["tasks_per_min"],
            "tasks_per_min_all": many["tasks_per_min"],
            "speedup": round(many["tasks_per_min"] / one["tasks_per_min"], 2),
            "steady_tasks_per_min_1core": one["steady_tasks_per_min"],
            "steady_tasks_per_min_all": many["steady_tasks_per_min"],
            "steady_speedup": round(many["steady_tasks_per_min"] / one["steady_tasks_per_min"], 2),
            "tasks_per_cpu_min_1core": one["tasks_per_cpu_min"],
            "tasks_per_cpu_min_all": many["tasks_per_cpu_min"],
            # what all cores would give if nothing else ran: workers x CPU efficiency ratio
            "speedup_bound_cores_free": round(
                all_cores * many["tasks_per_cpu_min"] / one["tasks_per_cpu_min"], 2
            ),
            "walks_computed_all": many["walks_computed"],
            "load_avg_1min": [*one["load_avg_1min"], *many["load_avg_1min"]],
            "startup_s": one["startup_s"],
            "kept": one["kept"],
            "walks": one["walks"],
        }
    return {"runs": rows, "per_domain": table, "yield": yields}


def _yield_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The yield report, with kept / verified / walks per kind spelled out."""
    walks = report["walks"]
    per_kind = {
        kind: {
            "built": report["built"].get(kind, 0),
            "verified": report["verified"].get(kind, 0),
            "duplicates": report["duplicates"].get(kind, 0),
            "kept": kept,
            "verified_per_walk": round(report["verified"].get(kind, 0) / walks, 3),
            "dropped": report["dropped"].get(kind, {}),
        }
        for kind, kept in report["kept"].items()
    }
    return {
        "walks": walks,
        "explored": report["explored"],
        "verified_per_walk": round(sum(report["verified"].values()) / walks, 3),
        "per_kind": per_kind,
    }


# ---------------------------------------------------------------------------------- part 2

STEP_BUDGET = 12  # explore_with_llm's default
TOOL_SUBSET = 6  # explore_with_llm's default
TOKEN_MODEL = "gpt-4.1"  # tokenizer used by litellm.token_counter for every count
PRICED_MODELS = ("gpt-4.1-mini", "gpt-4.1")
PROJECT_LATENCIES = (1.0, 2.0, 5.0)
PROJECT_CONCURRENCY = (1, 32)
PAPER_TASKS = 1100  # the paper's LLM pipeline made ~1,100 tasks
JUSTIFICATION = (
    "The customer is authenticated and this record is theirs; the policy allows {tool} for a "
    "record in its current state, and the customer asked for exactly this change, so I make it."
)


class SimulatedModel:
    """An offline model: replays scripted explorations, echoes rewrites, scores 8/8/8.

    Routing is by model name: `sim/explore-<k>` plays script k (turn = assistant messages so
    far), `sim/rewrite` returns the fields it was given, `sim/judge` the scores. Each call
    sleeps latency * U(0.5, 1.5) and is logged for token counting after the timed run.
    """

    def __init__(self, scripts: dict[str, list[list[Any]]], writes: set[str], latency: float):
        self.scripts, self.write_tools, self.latency = scripts, writes, latency
        self.rng = random.Random(0)
        self.log: list[dict[str, Any]] = []

    async def __call__(self, request):
        from t2t.core.schema import Message

        name = request.model
        if name.startswith("explore-"):
            turns = self.scripts[name]
            turn = sum(1 for m in request.messages if m.role == "assistant")
            if turn < len(turns):
                calls = [
                    c.model_copy(update={"id": f"call_{turn}_{i}"})
                    for i, c in enumerate(turns[turn])
                ]
                writes = [c.name for c in calls if c.name in self.write_tools]
                text = JUSTIFICATION.format(tool=writes[0]) if writes else None
                reply = Message(role="assistant", content=text, tool_calls=calls)
            else:
                reply = Message(
                    role="assistant",
                    content="Done: I made the changes the customer asked for, as policy allows.",
                )
        elif name == "rewrite":
            content = next(m.content for m in request.messages if m.role == "user")
            fields, _ = json.JSONDecoder().raw_decode(content)
            reply = Message(role="assistant", content=json.dumps(fields, ensure_ascii=False))
        elif name == "judge":
            scores = {"realism": 8, "necessity": 8, "correctness": 8, "reason": "plausible"}
            reply = Message(role="assistant", content=json.dumps(scores))
        else:
            raise ValueError(f"unknown simulated model {name}")
        self.log.append(
            {"model": name, "messages": request.messages, "tools": request.tools, "reply": reply}
        )
        if self.latency > 0:
            await asyncio.sleep(self.latency * self.rng.uniform(0.5, 1.5))
        return reply


def _turns(calls: list[Any], tools: dict[str, Any]) -> tuple[list[list[Any]], bool]:
    """One call per turn; adjacent reads share a turn only if the walk would not fit the budget."""
    turns = [[call] for call in calls]
    merged = False
    while len(turns) > STEP_BUDGET - 1:  # the last turn is the final text answer
        for i in range(len(turns) - 1):
            if all(not tools[c.name].mutates for c in turns[i] + turns[i + 1]):
                turns[i : i + 2] = [turns[i] + turns[i + 1]]
                merged = True
                break
        else:
            break
    return turns, merged


def _scripts(domain_name: str, count: int) -> dict[str, Any]:
    """`count` offline walks as explorer scripts (+ 2 more as the prompt's example walks)."""
    from t2t.explore.llm_explorer import sample_tools
    from t2t.explore.walk import explore_offline
    from t2t.generate import GenerateConfig, _context, walk_seed

    env, graph, pool = _context(GenerateConfig(domain=domain_name))
    domain = env.domain
    scripts, merged, index = [], 0, 0
    while len(scripts) < count + 2:
        walk = explore_offline(env, graph, pool, seed=walk_seed(0, index))
        index += 1
        if walk is None:
            continue
        trajectory = walk.trajectory(f"{domain_name}-offline-{index}")
        writes = {c.name for c in trajectory.calls if domain.tools[c.name].mutates}
        # an explorer seed whose sampled write tools offer this walk's writes
        seed = next(
            s
            for s in range(10_000)
            if writes <= set(sample_tools(domain, seed=s, size=TOOL_SUBSET))
        )
        turns, was_merged = _turns(trajectory.calls, domain.tools)
        merged += was_merged
        scripts.append(
            {
                "key": f"explore-{len(scripts)}",
                "turns": turns,
                "user_id": walk.user_id,
                "identity": walk.identity,
                "seed": seed,
                "trajectory": trajectory,
                "calls": len(trajectory.calls),
            }
        )
    return {
        "env": env,
        "graph": graph,
        "pool": pool,
        "scripts": scripts[:count],
        "examples": [s["trajectory"] for s in scripts[count:]],
        "walks_tried": index,
        "merged": merged,
    }


async def _pipeline(setup: dict[str, Any], script: dict[str, Any], kinds: tuple[str, ...]):
    """Explore with the model, convert, build + verify the variants, rewrite and judge each."""
    from t2t.explore import walk_from_trajectory
    from t2t.explore.llm_explorer import explore_with_llm_async
    from t2t.generate import walk_seed
    from t2t.intents import INTENT_KINDS, Rejected, check_variant
    from t2t.tasks.convert import convert_walk
    from t2t.tasks.rewrite import judge_task_async, keep_by_judge, rewrite_task_async

    env, graph, pool = setup["env"], setup["graph"], setup["pool"]
    trajectory = await explore_with_llm_async(
        env.domain,
        env,
        model=f"sim/{script['key']}",
        user_id=script["user_id"],
        identity=script["identity"],
        seed=script["seed"],
        examples=setup["examples"],
        step_budget=STEP_BUDGET,
        tool_subset_size=TOOL_SUBSET,
    )
    out = {
        "key": script["key"],
        "calls": len(trajectory.calls),
        "refused": [r.content[:120] for r in trajectory.results if not r.ok],
        "tasks": {},
        "dropped": {},
    }
    walk = walk_from_trajectory(env, graph, pool, trajectory)
    if walk is None:
        out["dropped"] = {kind: "explore: no usable write" for kind in kinds}
        return out
    base = convert_walk(walk, task_id=f"{script['key']}-base", seed=script["seed"])
    for kind in kinds:
        try:
            rng = random.Random(walk_seed(script["seed"], len(kind)))  # as t2t.generate does
            task = INTENT_KINDS[kind].build(walk, base, rng)
        except Rejected as exc:
            out["dropped"][kind] = f"build: {exc}"[:120]
            continue
        check = check_variant(task, env)
        if not check.ok:
            out["dropped"][kind] = f"verify: {check.reason}"[:120]
            continue
        rewritten = await rewrite_task_async(task, trajectory, model="sim/rewrite")
        scores = await judge_task_async(rewritten, model="sim/judge")
        out["tasks"][kind] = {
            "rewrite_rejected": rewritten.variant.details.get("rewrite_rejected"),
            "judge_kept": keep_by_judge(scores),
        }
    return out


def _run_llm(setup, kinds, latency: float, concurrency: int) -> dict[str, Any]:
    from t2t.llm import register_provider, unregister_provider

    scripts = {s["key"]: s["turns"] for s in setup["scripts"]}
    writes = {name for name, tool in setup["env"].domain.tools.items() if tool.mutates}
    model = SimulatedModel(scripts, writes, latency)
    register_provider("sim", model)

    async def main():
        gate = asyncio.Semaphore(concurrency)

        async def one(script):
            async with gate:
                return await _pipeline(setup, script, kinds)

        return await asyncio.gather(*(one(s) for s in setup["scripts"]))

    try:
        started = time.perf_counter()
        cpu = time.process_time()
        results = asyncio.run(main())
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        unregister_provider("sim")
    verified = sum(len(r["tasks"]) for r in results)
    return {
        "kinds": list(kinds),
        "latency_s": latency,
        "concurrency": concurrency,
        "explorations": len(results),
        "model_calls": len(model.log),
        "verified_tasks": verified,
        "wall_s": wall,
        "cpu_s": cpu,
        "results": results,
        "log": model.log,
    }


def _tokens(log: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(model, prompt, completion, cacheable prompt prefix) tokens per call, by litellm's counter.

    The cacheable prefix of an explorer turn is the previous turn's prompt (the chat only grows);
    rewrite/judge share only their system prompt, counted as not cached.
    """
    from t2t.llm import load_litellm, to_openai_messages

    counter = load_litellm().token_counter
    rows, previous = [], {}
    for entry in log:
        messages = to_openai_messages(entry["messages"])
        prompt = counter(model=TOKEN_MODEL, messages=messages, tools=entry["tools"] or None)
        reply = entry["reply"]
        text = reply.content or ""
        text += "".join(
            json.dumps({"name": c.name, "arguments": c.arguments}) for c in reply.tool_calls or []
        )
        completion = counter(model=TOKEN_MODEL, text=text) if text else 0
        key = entry["model"]
        cached = previous.get(key, 0) if key.startswith("explore-") else 0
        previous[key] = prompt
        rows.append((key.split("-")[0], prompt, completion, cached))
    return rows


def _plumbing_ms(log: list[dict[str, Any]]) -> float:
    """Milliseconds per model call spent in t2t.llm.client + litellm alone (no env, no convert): the
    logged calls re-sent, one after another, to a provider that answers instantly."""
    from t2t.llm import complete, register_provider, unregister_provider

    replies = iter([entry["reply"] for entry in log])
    register_provider("instant", lambda request: next(replies))

    async def main():
        for entry in log:
            await complete("instant/x", entry["messages"], tools=entry["tools"] or None)

    try:
        started = time.perf_counter()
        asyncio.run(main())
        return (time.perf_counter() - started) * 1000 / len(log)
    finally:
        unregister_provider("instant")


def _prices() -> dict[str, dict[str, float]]:
    from t2t.llm import load_litellm  # sets LITELLM_LOCAL_MODEL_COST_MAP=True before importing

    costs = load_litellm().model_cost
    return {
        name: {
            "input_per_mtok": costs[name]["input_cost_per_token"] * 1e6,
            "output_per_mtok": costs[name]["output_cost_per_token"] * 1e6,
            "cached_input_per_mtok": (
                costs[name].get("cache_read_input_token_cost")
                or costs[name]["input_cost_per_token"]
            )
            * 1e6,
        }
        for name in PRICED_MODELS
    }


def _per_task(run: dict[str, Any], base_only: bool) -> dict[str, Any]:
    """Model calls and tokens per verified task of one latency-0 run."""
    tokens, plumbing = _tokens(run["log"]), _plumbing_ms(run["log"])
    verified = run["verified_tasks"]
    by_stage: dict[str, dict[str, float]] = {}
    for stage, prompt, completion, cached in tokens:
        row = by_stage.setdefault(stage, {"calls": 0, "prompt": 0, "completion": 0, "cached": 0})
        row["calls"] += 1
        row["prompt"] += prompt
        row["completion"] += completion
        row["cached"] += cached
    total = {
        k: sum(r[k] for r in by_stage.values()) for k in ("calls", "prompt", "completion", "cached")
    }
    refused = [why for r in run["results"] for why in r["refused"]]
    dropped: dict[str, int] = {}
    for r in run["results"]:
        for why in r["dropped"].values():
            dropped[why] = dropped.get(why, 0) + 1
    return {
        "tasks_made_from": "base task only (1 per exploration)" if base_only else "base + variants",
        "explorations": run["explorations"],
        "verified_tasks": verified,
        "verified_per_exploration": round(verified / run["explorations"], 2),
        "model_calls_per_task": round(total["calls"] / verified, 2),
        "explorer_calls_per_exploration": round(
            by_stage["explore"]["calls"] / run["explorations"], 2
        ),
        "prompt_tokens_per_task": round(total["prompt"] / verified),
        "completion_tokens_per_task": round(total["completion"] / verified),
        "cacheable_prompt_tokens_per_task": round(total["cached"] / verified),
        "per_stage_per_task": {
            stage: {k: round(v / verified, 1) for k, v in row.items()}
            for stage, row in by_stage.items()
        },
        "overhead_s_per_task": round(run["wall_s"] / verified, 4),
        "overhead_ms_per_model_call": round(run["wall_s"] / total["calls"] * 1000, 2),
        "llm_plumbing_ms_per_call": round(plumbing, 2),
        "t2t_work_ms_per_task": round(
            (run["wall_s"] - plumbing * total["calls"] / 1000) / verified * 1000, 1
        ),
        "cpu_s": round(run["cpu_s"], 3),
        "wall_s": round(run["wall_s"], 3),
        "refused_calls": len(refused),
        "refusals": sorted(set(refused))[:5],
        "rewrites_rejected": sum(
            1 for r in run["results"] for t in r["tasks"].values() if t["rewrite_rejected"]
        ),
        "judge_dropped": sum(
            1 for r in run["results"] for t in r["tasks"].values() if not t["judge_kept"]
        ),
        "dropped": dropped,
    }


def _project(calls: float, overhead: float, latency: float, concurrency: int) -> float:
    """Tasks/min: seconds per task = calls * latency / concurrency + overhead (CPU, serial)."""
    return 60 / (calls * latency / concurrency + overhead)


def _projection(
    stats: dict[str, Any], prices: dict[str, Any], offline_tpm: float
) -> dict[str, Any]:
    calls, overhead = stats["model_calls_per_task"], stats["overhead_s_per_task"]
    rows = []
    for latency in PROJECT_LATENCIES:
        for concurrency in PROJECT_CONCURRENCY:
            tpm = _project(calls, overhead, latency, concurrency)
            rows.append(
                {
                    "latency_s": latency,
                    "concurrency": concurrency,
                    "tasks_per_min": round(tpm, 1),
                    f"minutes_for_{PAPER_TASKS}_tasks": round(PAPER_TASKS / tpm, 1),
                    "offline_speedup": round(offline_tpm / tpm, 1),
                }
            )
    cost = {}
    for name, price in prices.items():
        prompt, completion = stats["prompt_tokens_per_task"], stats["completion_tokens_per_task"]
        cached = stats["cacheable_prompt_tokens_per_task"]
        plain = (prompt * price["input_per_mtok"] + completion * price["output_per_mtok"]) / 1e6
        with_cache = (
            (prompt - cached) * price["input_per_mtok"]
            + cached * price["cached_input_per_mtok"]
            + completion * price["output_per_mtok"]
        ) / 1e6
        cost[name] = {
            **{k: round(v, 3) for k, v in price.items()},
            "usd_per_1000_tasks": round(plain * 1000, 2),
            "usd_per_1000_tasks_prefix_cached": round(with_cache * 1000, 2),
        }
    return {"throughput": rows, "cost": cost}


def llm_path(domain: str, count: int, check_latency: float, check_concurrency: int, offline_tpm):
    setup = _scripts(domain, count)
    kinds_all = ("base", "ambiguous", "changing", "infeasible")
    _run_llm(setup, ("base",), 0.0, 1)  # warm-up: litellm's first-call imports and caches
    prices = _prices()
    scenarios = {}
    for label, kinds in (("base_only", ("base",)), ("with_variants", kinds_all)):
        run = _run_llm(setup, kinds, 0.0, 1)
        stats = _per_task(run, base_only=kinds == ("base",))
        scenarios[label] = {**stats, "projection": _projection(stats, prices, offline_tpm)}
    # check the formula: a small real latency with concurrency, measured vs projected
    check = _run_llm(setup, kinds_all, check_latency, check_concurrency)
    stats = scenarios["with_variants"]
    projected_s = check["verified_tasks"] * (
        stats["model_calls_per_task"] * check_latency / check_concurrency
        + stats["overhead_s_per_task"]
    )
    walk_calls = [s["calls"] for s in setup["scripts"]]
    return {
        "domain": domain,
        "method": (
            "t2t's LLM explorer (explore_with_llm_async, step_budget 12, 6 write tools offered, "
            "2 example walks) + rewrite_task + judge_task, run unchanged through a registered "
            "offline provider that replays the offline explorer's walks (the calls each base task "
            "relies on, one per model turn, a justification before each write, then a final "
            "answer); rewrite echoes the fields, judge scores 8/8/8. Latency per call "
            "= L * U(0.5, 1.5)."
        ),
        "tokens": (
            f"litellm.token_counter(model={TOKEN_MODEL!r}) on the exact messages + tool schemas "
            "each call sent (prompt) and on the reply text + tool-call JSON (completion); "
            "'prefix cached' prices an explorer turn's previous prompt at the cached-input rate"
        ),
        "fields": {
            "overhead_s_per_task": "wall time at L=0 / verified tasks: everything but the model",
            "llm_plumbing_ms_per_call": "t2t.llm.client + litellm per call (logged calls re-sent)",
            "t2t_work_ms_per_task": "the rest: environment, convert, variants, verify, prompts",
            "cacheable_prompt_tokens_per_task": "explorer prompt prefixes seen the turn before",
        },
        "projection_formula": (
            "seconds per verified task = model_calls_per_task * L / concurrency "
            "+ overhead_s_per_task (t2t + litellm CPU per task, measured at L=0, serial in one "
            "process); tasks/min = 60 / that. Valid while concurrency * overhead < calls * L, "
            "i.e. the process is waiting, not computing; assumes no rate limits."
        ),
        "explorations": count,
        "offline_walks_tried": setup["walks_tried"],
        "walks_needing_merged_reads": setup["merged"],
        "offline_calls_per_walk": {
            "mean": round(statistics.mean(walk_calls), 2),
            "max": max(walk_calls),
        },
        "scenarios": scenarios,
        "check": {
            "latency_s": check_latency,
            "concurrency": check_concurrency,
            "kinds": list(kinds_all),
            "verified_tasks": check["verified_tasks"],
            "measured_wall_s": round(check["wall_s"], 2),
            "projected_wall_s": round(projected_s, 2),
            "measured_over_projected": round(check["wall_s"] / projected_s, 2),
        },
    }


# ---------------------------------------------------------------------------------- main


def _print_offline(result: dict[str, Any]) -> None:
    header = (
        f"{'domain':<8} {'1 core':>8} {'all':>8} {'speed-up':>8} "
        f"{'steady 1':>9} {'steady all':>10} {'per CPU-min 1/all':>18} {'startup':>8}"
    )
    print("offline generate, verified tasks/min (end-to-end incl. startup; steady = after it)")
    print(header)
    for domain, row in result["per_domain"].items():
        print(
            f"{domain:<8} {row['tasks_per_min_1core']:>8,.0f} {row['tasks_per_min_all']:>8,.0f} "
            f"{row['speedup']:>7.2f}x {row['steady_tasks_per_min_1core']:>9,.0f} "
            f"{row['steady_tasks_per_min_all']:>10,.0f} "
            f"{row['tasks_per_cpu_min_1core']:>9,.0f}/{row['tasks_per_cpu_min_all']:<8,.0f} "
            f"{row['startup_s']:>7.1f}s"
        )
    loads = [x for row in result["per_domain"].values() for x in row["load_avg_1min"]]
    print(
        f"load average during the runs {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} "
        "cores; 'per CPU-min' (kept per CPU minute of generate) does not depend on it"
    )


def _print_llm(result: dict[str, Any]) -> None:
    print(
        f"\nLLM path ({result['domain']}, {result['explorations']} explorations, simulated model)"
    )
    for label, s in result["scenarios"].items():
        print(
            f"  {label}: {s['verified_tasks']} verified tasks, {s['model_calls_per_task']} model "
            f"calls/task, {s['prompt_tokens_per_task']:,} prompt + "
            f"{s['completion_tokens_per_task']:,} completion tokens/task, "
            f"overhead {s['overhead_s_per_task'] * 1000:.0f} ms/task "
            f"({s['overhead_ms_per_model_call']} ms/call, of which t2t.llm.client + litellm "
            f"{s['llm_plumbing_ms_per_call']}), {s['refused_calls']} refused calls"
        )
        cells = [
            f"L={r['latency_s']:g}s c={r['concurrency']}: {r['tasks_per_min']:,.1f}"
            for r in s["projection"]["throughput"]
        ]
        print("    tasks/min  " + " | ".join(cells))
        costs = [
            f"{m} ${c['usd_per_1000_tasks']:,.2f} "
            f"(prefix cached ${c['usd_per_1000_tasks_prefix_cached']:,.2f})"
            for m, c in s["projection"]["cost"].items()
        ]
        print("    per 1,000 tasks  " + " | ".join(costs))
    c = result["check"]
    print(
        f"  check L={c['latency_s']}s c={c['concurrency']}: measured {c['measured_wall_s']} s, "
        f"projected {c['projected_wall_s']} s (x{c['measured_over_projected']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=200, retail only (< 60 s)")
    parser.add_argument(
        "--n", type=int, default=None, help="tasks per run (default 1000; 200 quick)"
    )
    parser.add_argument(
        "--llm-tasks", type=int, default=None, help="LLM explorations (20; 10 quick)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternating runs per setting, best kept (1)"
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"result file (default {OUT})")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one timed generate run
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    n = args.n or (200 if args.quick else 1000)
    domains = ["retail"] if args.quick else list(DOMAINS)
    llm_tasks = args.llm_tasks or (10 if args.quick else 20)
    repeats = args.repeats
    all_cores = os.cpu_count() or 1
    started, load = datetime.now(UTC), [round(x, 2) for x in os.getloadavg()]

    offline_result = offline(domains, n, all_cores, repeats)
    _print_offline(offline_result)
    headline = offline_result["per_domain"]["retail"]
    llm = llm_path(
        "retail", llm_tasks, 0.05 if args.quick else 0.1, 5, headline["tasks_per_min_all"]
    )
    _print_llm(llm)

    result = {
        "domain": "retail",
        "n": n,
        "tasks_per_min_1core": headline["tasks_per_min_1core"],
        "tasks_per_min_all": headline["tasks_per_min_all"],
        "speedup": headline["speedup"],
        "speedup_bound_cores_free": headline["speedup_bound_cores_free"],
        "steady_tasks_per_min_1core": headline["steady_tasks_per_min_1core"],
        "steady_tasks_per_min_all": headline["steady_tasks_per_min_all"],
        "startup_s": headline["startup_s"],
        "target_tasks_per_min": TARGET_TASKS_PER_MIN,
        "meets_target": headline["tasks_per_min_all"] >= TARGET_TASKS_PER_MIN,
        "definitions": {
            "tasks_per_min": "kept / (import t2t + _context + generate_tasks) * 60, fresh process",
            "steady_tasks_per_min": "kept / generate_tasks * 60, DB and tool graph already built",
            "startup_s": "import t2t.generate + _context (DB, tool graph, value pool)",
        },
        "per_domain": offline_result["per_domain"],
        "runs": offline_result["runs"],
        "yield": offline_result["yield"],
        "llm_path": llm,
        "machine": {
            "cpu_count": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg_at_start": load,
        },
        "quick": args.quick,
        "repeats": repeats,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
