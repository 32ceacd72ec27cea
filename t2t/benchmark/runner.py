"""The rollout engine: agents talk to simulated users and the tools, episodes go to a JSONL file.

One episode: the agent greets, the user states its request, then the agent acts (tool calls run
on the task's own fork of the DB; a text reply goes to the user) until the user stops or
transfers, the agent transfers, a step limit is reached, the agent fails, or a model call fails
for good (an infrastructure error: recorded, counted, never scored). Each finished episode is
scored (`benchmark.scoring`) and appended at once, so a killed run resumes where it stopped: keys
already in the file are skipped, and a cut last line is dropped first.

Concurrency: `concurrency` episodes run at once on one event loop, with a semaphore per model (the
agent and an LLM user share one when they are the same model); `workers > 1` shards the episodes
over local processes, and `backend="ray"` over Ray workers, all appending to the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from t2t.benchmark.agent import GREETING, Agent
from t2t.benchmark.probes import check_probe, is_probe, register_probes, register_tasks
from t2t.benchmark.results import (
    EpisodeKey,
    append_episodes,
    episode_key,
    open_results,
    read_episodes,
)
from t2t.benchmark.scoring import TRANSFER_TOOL, evaluate_episode
from t2t.benchmark.users import OUT_OF_SCOPE, STOP, TRANSFER, make_user
from t2t.core.environment import TOOL_ERROR_PREFIX, Environment
from t2t.core.errors import ConfigError, ModelCallError
from t2t.core.replay import initial_environment
from t2t.core.schema import SCHEMA_VERSION, Episode, Message, Task, ToolCall, ToolResult
from t2t.core.settings import ModelSettings, is_secret_key, load_model_settings, read_config_file
from t2t.llm.client import Completion, raw_arguments, register_model, run_sync
from t2t.llm.hf_local import (
    check_local_model,
    is_local,
    model_fingerprint,
    register_local_model,
)

__all__ = [
    "TERMINATION_REASONS",
    "RunConfig",
    "load_run_config",
    "RunStats",
    "pending_keys",
    "run_keys",
    "task_hash",
    "run_episode",
    "run_rollouts",
    "run_rollouts_async",
]

logger = logging.getLogger(__name__)

TERMINATION_REASONS = (
    "user_stop",
    "transfer",
    "out_of_scope",
    "max_steps",
    "agent_error",
    "infra_error",
)
_MAX_TOOL_ERRORS = 10  # in a row: the agent is stuck in a loop


class RunConfig(BaseModel):
    """What decides an episode's content (hashed) and how fast episodes run (not hashed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str
    user: str = "scripted"
    trials: int = Field(1, ge=1)
    max_steps: int = Field(30, ge=1, description="agent turns (model calls) per episode")
    agent_params: dict[str, Any] = Field(default_factory=dict)
    user_params: dict[str, Any] = Field(default_factory=dict)
    concurrency: int = Field(32, ge=1)
    user_concurrency: int | None = Field(None, ge=1)
    cache_dir: str | None = Field(None, description="model-call cache; None: T2T_CACHE_DIR")
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="model → (input, output) USD per token"
    )

    def config_hash(self) -> str:
        """Hash of what changes an episode; trials, concurrency and the cache do not."""
        content = self.model_dump(include={"agent", "user", "max_steps"})
        content["agent_params"] = _public(self.agent_params)
        content["user_params"] = _public(self.user_params)
        content["schema_version"] = SCHEMA_VERSION
        weights = {m: model_fingerprint(m) for m in (self.agent, self.user) if is_local(m)}
        if weights:  # a local model retrained in place is another model
            content["weights"] = weights
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _public(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters that can change a reply: no secrets, no transport settings."""
    transport = {"timeout", "max_retries", "retry_wait_s", "metadata"}
    return {k: v for k, v in params.items() if not is_secret_key(k) and k not in transport}


_RUN_KEYS = {"agent", "user", "trials", "max_steps", "cache_dir", "concurrency"}


def load_run_config(path: str | Path | None = None, **overrides: Any) -> RunConfig:
    """A `RunConfig` from a TOML/YAML file (`[agent]`, `[user]` model settings, run keys at the
    top) with `overrides` (e.g. CLI flags; None values are ignored) applied on top.

    `agent` and `user` are a model name or a table of `ModelSettings` (temperature, max_tokens,
    api_base, timeout_s, max_retries, concurrency, prices, params); keys come from the environment.
    """
    data: dict[str, Any] = dict(read_config_file(path)) if path is not None else {}
    where = str(path) if path is not None else "settings"
    unknown = sorted(set(data) - _RUN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; known: {sorted(_RUN_KEYS)}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("agent", "user") and isinstance(data.get(key), dict) and value != "scripted":
            # a flag names the model and keeps the file's settings, but not its prices
            kept = {k: v for k, v in data[key].items() if not k.endswith("cost_per_token")}
            data[key] = {**(kept if value != data[key].get("model") else data[key]), "model": value}
        else:
            data[key] = value
    if "agent" not in data:
        raise ConfigError("no agent model: pass --agent MODEL or set agent in the config file")
    agent = load_model_settings(data.pop("agent"), where=f"{where}: agent")
    user_data = data.pop("user", "scripted")
    user = (
        None if user_data == "scripted" else load_model_settings(user_data, where=f"{where}: user")
    )
    fields: dict[str, Any] = {
        "agent": agent.model,
        "agent_params": _call_params(agent),
        "concurrency": data.pop("concurrency", agent.concurrency),
        "prices": _prices(agent, user),
        **data,
    }
    if user is not None:
        fields.update(user=user.model, user_params=_call_params(user))
        fields["user_concurrency"] = user.concurrency
    try:
        return RunConfig(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {field}: {first['msg']}") from None


def _call_params(settings: ModelSettings) -> dict[str, Any]:
    return {**settings.completion_params(), "max_retries": settings.max_retries}


def _prices(*settings: ModelSettings | None) -> dict[str, tuple[float, float]]:
    return {
        s.model: (s.input_cost_per_token, s.output_cost_per_token)
        for s in settings
        if s is not None
        and s.input_cost_per_token is not None
        and s.output_cost_per_token is not None
    }


class RunStats(BaseModel):
    """What a call of `run_rollouts` did."""

    out: str
    planned: int
    skipped: int
    ran: int
    infra_errors: int
    cost_usd: float
    duration_s: float


# ------------------------------------------------------------------------------------- episode


class _Tally:
    def __init__(self) -> None:
        self.cost_usd = 0.0
        self.tokens = 0
        self.spent_usd = 0.0  # not counting cache hits

    def add(self, completion: Completion | None) -> None:
        if completion is None:
            return
        self.cost_usd += completion.cost_usd
        self.tokens += completion.prompt_tokens + completion.completion_tokens
        if not getattr(completion, "cached", False):
            self.spent_usd += completion.cost_usd


async def run_episode(
    task: Task,
    env: Environment,
    config: RunConfig,
    trial: int,
    *,
    semaphores: dict[str, asyncio.Semaphore] | None = None,
    cache: Any = None,
    agent: Agent | None = None,
) -> tuple[Episode, float]:
    """Play one episode of `task` and score it; returns it with the money actually spent."""
    started = time.perf_counter()
    semaphores = semaphores if semaphores is not None else {}
    state = initial_environment(env, task)
    state = state.fork() if state is env else state
    agent = agent or Agent(config.agent, env.domain, **config.agent_params)
    user = make_user(config.user, task, env.domain, trial=trial, cache=cache, **config.user_params)
    messages = [Message(role="assistant", content=GREETING)]
    tally = _Tally()
    reason, error = await _converse(
        task, state, config, trial, agent, user, messages, tally, semaphores, cache
    )
    episode = Episode(
        task_id=task.id,
        variant=task.variant.kind,
        agent_model=config.agent,
        user_model=config.user,
        trial=trial,
        messages=messages,
        termination_reason=reason,
        cost_usd=round(tally.cost_usd, 8),
        tokens=tally.tokens,
        duration_s=round(time.perf_counter() - started, 4),
        error=error,
        config_hash=config.config_hash(),
        task_hash=task_hash(task, env),
    )
    if reason != "infra_error":
        episode.reward = evaluate_episode(task, messages, env)
    return episode, tally.spent_usd


async def _converse(task, state, config, trial, agent, user, messages, tally, semaphores, cache):
    """Alternate user and agent turns until one side ends; returns (reason, error)."""
    extra = {"cache": cache}
    try:
        turn = await _limited(semaphores, config.user, user.reply(messages))
        tally.add(turn.completion)
        messages.append(Message(role="user", content=turn.text))
        if (reason := _user_ended(turn.text)) is not None:
            return reason, None
        errors_in_a_row = 0
        for _ in range(config.max_steps):
            completion = await _limited(
                semaphores, config.agent, agent.act(task, messages, trial=trial, **extra)
            )
            tally.add(completion)
            reply = _with_call_ids(completion.message, len(messages))
            reply_index = len(messages)
            messages.append(reply)
            if reply.tool_calls:
                for position, call in enumerate(reply.tool_calls):
                    result = _run_tool(state, call)
                    messages.append(_tool_message(call, result))
                    errors_in_a_row = 0 if result.ok else errors_in_a_row + 1
                    if result.ok and call.name == TRANSFER_TOOL:
                        # calls after the transfer never ran: the record keeps only those that did
                        ran = reply.tool_calls[: position + 1]
                        messages[reply_index] = reply.model_copy(update={"tool_calls": ran})
                        return "transfer", None
                if errors_in_a_row >= _MAX_TOOL_ERRORS:
                    return "agent_error", f"{errors_in_a_row} failed tool calls in a row"
                continue
            if not (reply.content or "").strip():
                return "agent_error", "the agent replied with neither text nor a tool call"
            turn = await _limited(semaphores, config.user, user.reply(messages))
            tally.add(turn.completion)
            messages.append(Message(role="user", content=turn.text))
            if (reason := _user_ended(turn.text)) is not None:
                return reason, None
        return "max_steps", None
    except ModelCallError as exc:
        if exc.handler_error is not None and _runs_here(config):
            raise exc.handler_error from None  # a probe's or local model's failure is a bug
        return "infra_error", str(exc)


async def _limited(semaphores: dict[str, asyncio.Semaphore], model: str, coroutine):
    semaphore = semaphores.get(model)
    if semaphore is None:
        return await coroutine
    async with semaphore:
        return await coroutine


def _user_ended(text: str) -> str | None:
    if TRANSFER in text:
        return "transfer"
    if OUT_OF_SCOPE in text:
        return "out_of_scope"
    if STOP in text:
        return "user_stop"
    return None


def _with_call_ids(reply: Message, position: int) -> Message:
    """Give id-less tool calls an id: the tool messages that answer them must name one."""
    if not reply.tool_calls or all(call.id for call in reply.tool_calls):
        return reply
    calls = [
        call if call.id else call.model_copy(update={"id": f"call_{position}_{index}"})
        for index, call in enumerate(reply.tool_calls)
    ]
    return reply.model_copy(update={"tool_calls": calls})


def _run_tool(state: Environment, call: ToolCall) -> ToolResult:
    raw = raw_arguments(call)
    if raw is not None:
        message = f"the arguments of {call.name} are not a JSON object: {raw[:200]}"
        return ToolResult(call_id=call.id, name=call.name, ok=False, content="", error=message)
    return state.run(call)


def _tool_message(call: ToolCall, result: ToolResult) -> Message:
    content = result.content if result.ok else f"{TOOL_ERROR_PREFIX}{result.error}"
    return Message(role="tool", content=content, tool_call_id=call.id)


# ----------------------------------------------------------------------------------------- run


def task_hash(task: Task, env: Environment) -> str:
    """The task's content and the DB it runs on: same id, other content → another episode."""
    text = task.model_dump_json() + env.state_hash()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pending_keys(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    retry_errors: bool = False,
) -> tuple[list[tuple[Task, int]], int]:
    """(task, trial) pairs still to run, and how many are already in `out`."""
    done: set[EpisodeKey] = set()
    for episode in read_episodes(out):
        if retry_errors and episode.termination_reason == "infra_error":
            continue
        done.add(episode_key(episode))
    todo, skipped = [], 0
    for task, trial, key in run_keys(tasks, env, config):
        if key in done:
            skipped += 1
        else:
            todo.append((task, trial))
    return todo, skipped


def run_keys(
    tasks: Sequence[Task], env: Environment, config: RunConfig
) -> Iterator[tuple[Task, int, EpisodeKey]]:
    """Each (task, trial) of a run with the key its episode carries (`episode_log.episode_key`)."""
    digest = config.config_hash()
    for task in tasks:
        content = task_hash(task, env)
        for trial in range(config.trials):
            key = (task.id, task.variant.kind, config.agent, config.user, trial, digest, content)
            yield task, trial, key


def _runs_here(config: RunConfig) -> bool:
    """The agent or user is code in this process (a probe or a local model), not a service."""
    return any(is_probe(model) or is_local(model) for model in (config.agent, config.user))


def _check_run(tasks: Sequence[Task], env: Environment, config: RunConfig) -> None:
    for model in (config.agent, config.user):
        check_probe(model)
        check_local_model(model)
    ids = [task.id for task in tasks]
    if len(set(ids)) != len(ids):
        twice = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
        raise ConfigError(f"task ids must be unique; repeated: {', '.join(twice[:3])}")
    domains = {task.domain for task in tasks if task.domain}
    if domains - {env.domain.name}:
        raise ConfigError(
            f"tasks are for {', '.join(sorted(domains))} but the environment is "
            f"{env.domain.name}: run one domain at a time"
        )


def _prepare(tasks: Sequence[Task], env: Environment, config: RunConfig) -> None:
    """Register prices and what the probes need, in this process (each worker calls it)."""
    for model, (input_cost, output_cost) in config.prices.items():
        register_model(model, input_cost_per_token=input_cost, output_cost_per_token=output_cost)
    for model in {config.agent, config.user}:
        if is_local(model):
            register_local_model(model, load=True)
    if is_probe(config.agent) or is_probe(config.user):
        register_probes()
        register_tasks(list(tasks), env.domain, env.to_dict() if "random" in config.agent else None)


async def run_rollouts_async(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    progress: bool = True,
    retry_errors: bool = False,
) -> RunStats:
    """Run every (task, trial) not yet in `out`, `config.concurrency` at a time, appending each."""
    _check_run(tasks, env, config)
    with open_results(out) as out:
        todo, skipped = pending_keys(tasks, env, config, out, retry_errors=retry_errors)
        _prepare(tasks, env, config)
        stats = await _run_pending(todo, env, config, out, progress=progress)
    return stats.model_copy(update={"planned": len(todo) + skipped, "skipped": skipped})


async def _run_pending(todo, env, config: RunConfig, out: Path, *, progress: bool) -> RunStats:
    started = time.perf_counter()
    semaphores = {config.agent: asyncio.Semaphore(config.concurrency)}
    if config.user != "scripted":
        limit = config.user_concurrency or config.concurrency
        semaphores.setdefault(config.user, asyncio.Semaphore(limit))
    cache = _open_cache(config)
    agent = Agent(config.agent, env.domain, **config.agent_params)
    queue: asyncio.Queue = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    bar = _bar(len(todo), progress)
    totals = {"ran": 0, "infra": 0, "spent": 0.0}

    async def work() -> None:
        while True:
            try:
                task, trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            episode, spent = await run_episode(
                task, env, config, trial, semaphores=semaphores, cache=cache, agent=agent
            )
            append_episodes(out, [episode])
            totals["ran"] += 1
            totals["infra"] += episode.termination_reason == "infra_error"
            totals["spent"] += spent
            if bar is not None:
                bar.update(1)
                bar.set_postfix(cost=f"${totals['spent']:.4f}", errors=totals["infra"])

    try:
        workers = min(config.concurrency, max(len(todo), 1))
        with _collector_for_a_run():
            await asyncio.gather(*(work() for _ in range(workers)))
    finally:
        if bar is not None:
            bar.close()
    return RunStats(
        out=str(out),
        planned=len(todo),
        skipped=0,
        ran=totals["ran"],
        infra_errors=totals["infra"],
        cost_usd=round(totals["spent"], 6),
        duration_s=round(time.perf_counter() - started, 3),
    )


@contextlib.contextmanager
def _collector_for_a_run() -> Iterator[None]:
    """Keep the garbage collector off what lives for the whole run (DB, tasks, libraries).

    Episodes live for many seconds, so their objects reach the oldest generation, and every full
    collection walked the whole DB again: about a millisecond per model call, more than half of
    t2t's cost over a bare litellm loop. Frozen and with a higher threshold, about 0.1 ms.
    """
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(20_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _open_cache(config: RunConfig) -> Any:
    """The cache argument of every model call: none for probes (free; it would measure disk)
    nor for local models (a cached reply is not keyed by the folder's weights).
    """
    models = (config.agent, config.user)
    if any(is_local(m) for m in models):
        return False
    if all(m == "scripted" or is_probe(m) for m in models):
        return False
    return config.cache_dir  # None: T2T_CACHE_DIR, if set


def _bar(total: int, progress: bool) -> Any:
    if not progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="episodes", unit="ep", smoothing=0.05)


def run_rollouts(
    tasks: Sequence[Task],
    env: Environment,
    config: RunConfig,
    out: str | Path,
    *,
    progress: bool = True,
    retry_errors: bool = False,
    workers: int = 1,
    backend: Literal["local", "ray"] = "local",
) -> RunStats:
    """Sync entry point (safe in Jupyter); `workers > 1` shards episodes over processes."""
    if workers <= 1 and backend == "local":
        return run_sync(
            run_rollouts_async(
                tasks, env, config, out, progress=progress, retry_errors=retry_errors
            )
        )
    from t2t.benchmark.shards import run_sharded

    return run_sharded(
        tasks,
        env,
        config,
        out,
        workers=workers,
        backend=backend,
        progress=progress,
        retry_errors=retry_errors,
    )
