"""Successful rollouts as chat SFT data: OpenAI fine-tuning JSONL and HF `messages` JSONL.

An episode becomes one example: the agent's system prompt (the domain policy), the conversation
up to the agent's last turn, and the domain's tools. Only episodes with reward 1 are kept, at most
`per_task` distinct conversations per task (shortest first), duplicates dropped. A successful
episode whose agent passed a tool a value nobody gave it (`t2t.benchmark.grounding`) is dropped
too, unless `keep_ungrounded`: it would teach a model to invent ids that happened to be right.

The split is by task *family*: a variant and the base task it was made from share their user,
records and gold calls, so they always land on the same side. No test task, nor any variant of
it, is in the training data. `split.json` names both sides; `t2t compare` evaluates on its test
side, and a later export given the same split keeps it.

Files under `out/`: `openai/{train,test}.jsonl` (arguments as JSON strings, `tools`,
`parallel_tool_calls: false`), `hf/{train,test}.jsonl` (arguments as objects, tool messages with
their `name`: what `tokenizer.apply_chat_template(messages, tools=tools)` takes, plus `meta`: the
task, variant, agent and trial each example came from), `split.json`, `stats.json`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from t2t.benchmark.agent import agent_system_prompt
from t2t.benchmark.grounding import episode_grounded
from t2t.benchmark.passk import is_infra_error
from t2t.benchmark.results import read_episodes
from t2t.core.environment import Domain
from t2t.core.errors import ConfigError, DataError, data_error
from t2t.core.files import read_json, write_json, write_jsonl
from t2t.core.schema import Episode, Message, Task
from t2t.llm import hf_messages, to_openai_messages
from t2t.tasks.task_set import open_task_set

__all__ = [
    "SPLITS",
    "OpenAIExample",
    "SftExport",
    "Split",
    "choose_episodes",
    "export_sft",
    "hf_example",
    "openai_example",
    "read_examples",
    "read_split",
    "split_tasks",
    "successful_episodes",
    "task_family",
]

SPLITS = ("train", "test")
SplitName = Literal["train", "test"]


# ----------------------------------------------------------------------------- OpenAI format


class _Function(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    arguments: str

    @model_validator(mode="after")
    def _json_object(self) -> _Function:
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments of {self.name} are not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"arguments of {self.name} are not a JSON object")
        return self


class _ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    type: Literal["function"]
    function: _Function


class _OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


class OpenAIExample(BaseModel):
    """One line of an OpenAI chat fine-tuning file with tools, checked the way the API checks it."""

    model_config = ConfigDict(extra="forbid")
    messages: list[_OpenAIMessage] = Field(min_length=2)
    tools: list[dict[str, Any]] = Field(min_length=1)
    parallel_tool_calls: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> OpenAIExample:
        names = {tool["function"]["name"] for tool in self.tools}
        open_calls: set[str] = set()
        for index, message in enumerate(self.messages):
            where = f"message {index} ({message.role})"
            if message.role == "tool":
                if message.tool_call_id not in open_calls:
                    raise ValueError(f"{where} answers no earlier tool call")
                open_calls.discard(message.tool_call_id)
            elif message.tool_calls:
                if message.role != "assistant":
                    raise ValueError(f"{where} has tool calls")
                for call in message.tool_calls:
                    if call.function.name not in names:
                        raise ValueError(f"{where} calls {call.function.name}, not in tools")
                    open_calls.add(call.id)
            elif message.content is None:
                raise ValueError(f"{where} has neither content nor tool calls")
        if self.messages[-1].role != "assistant":
            raise ValueError("the last message is not the assistant's")
        return self


# ----------------------------------------------------------------------------- examples


def _acted(message: Message) -> bool:
    return message.role == "assistant" and bool(
        message.tool_calls or (message.content or "").strip()
    )


def _conversation(episode: Episode) -> list[Message]:
    """The messages up to the agent's last non-empty turn (what comes after teaches nothing)."""
    last = max((i for i, m in enumerate(episode.messages) if _acted(m)), default=-1)
    return episode.messages[: last + 1]


def openai_example(episode: Episode, domain: Domain) -> dict[str, Any]:
    """The episode in OpenAI's fine-tuning format (tool-call arguments as JSON strings)."""
    system = Message(role="system", content=agent_system_prompt(domain))
    conversation = _conversation(episode)
    messages = to_openai_messages([system, *conversation])
    parallel = any(len(m.tool_calls or []) > 1 for m in conversation)
    return {"messages": messages, "tools": domain.tool_schemas(), "parallel_tool_calls": parallel}


def hf_example(episode: Episode, domain: Domain) -> dict[str, Any]:
    """The episode as HF chat-template input: arguments as objects, tool messages named."""
    messages = hf_messages(openai_example(episode, domain)["messages"])
    return {"messages": messages, "tools": domain.tool_schemas()}


def _fingerprint(messages: list[Any]) -> str:
    """What makes two conversations the same: their messages, as canonical JSON."""
    plain = [m.model_dump() if isinstance(m, Message) else m for m in messages]
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------- selection


def successful_episodes(
    episodes: Iterable[Episode], *, agents: Sequence[str] | None = None
) -> list[Episode]:
    """Episodes with reward 1 (of `agents`, if given) in which the agent said or did something.

    The runner's greeting (the first message) is not the agent's doing and does not count.
    """
    wanted = set(agents) if agents else None
    return [
        episode
        for episode in episodes
        if not is_infra_error(episode)
        and episode.reward is not None
        and episode.reward.value == 1.0
        and (wanted is None or episode.agent_model in wanted)
        and any(_acted(m) for m in episode.messages[1:])
    ]


def choose_episodes(episodes: Iterable[Episode], *, per_task: int | None = None) -> list[Episode]:
    """At most `per_task` distinct conversations per task, shortest first, in task-id order.

    Identical conversations (an agent's repeated trials, or two agents that agree) count once.
    """
    if per_task is not None and per_task < 1:
        raise ConfigError(f"--per-task must be at least 1, not {per_task}")
    by_task: dict[str, list[Episode]] = {}
    for episode in episodes:
        by_task.setdefault(episode.task_id, []).append(episode)
    chosen = []
    for task_id in sorted(by_task):
        seen: set[str] = set()
        ranked = sorted(by_task[task_id], key=lambda e: (len(e.messages), e.agent_model, e.trial))
        for episode in ranked:
            digest = _fingerprint(_conversation(episode))
            if digest in seen:
                continue
            seen.add(digest)
            chosen.append(episode)
            if per_task is not None and len(seen) == per_task:
                break
    return chosen


# ----------------------------------------------------------------------------- split


def task_family(task: Task) -> str:
    """The base task a variant was made from (a base task is its own family)."""
    return task.variant.parent_id or task.id


class Split(BaseModel):
    """Which tasks may be trained on and which are held out, by task family."""

    model_config = ConfigDict(extra="forbid")
    seed: int
    test_fraction: float
    train: list[str]
    test: list[str]
    _sides: dict[str, SplitName] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: Any) -> None:
        self._sides = {task_id: "train" for task_id in self.train}
        self._sides.update({task_id: "test" for task_id in self.test})

    def side(self, task_id: str) -> SplitName | None:
        return self._sides.get(task_id)


def split_tasks(tasks: Sequence[Task], *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Hold out `test_fraction` of the task families (at least one when there are two or more).

    Families are ordered by a seeded hash of their id, so the split is stable when tasks are
    added and does not depend on file order.
    """
    if not 0 <= test_fraction < 1:
        raise ConfigError(f"--test-fraction must be in [0, 1), not {test_fraction}")
    families = sorted({task_family(task) for task in tasks})

    def rank(family: str) -> str:
        return hashlib.sha256(f"{seed}/{family}".encode()).hexdigest()

    held = math.ceil(test_fraction * len(families)) if test_fraction > 0 else 0
    if test_fraction > 0 and len(families) >= 2:
        held = min(max(held, 1), len(families) - 1)
    test_families = set(sorted(families, key=rank)[:held])
    test = sorted(task.id for task in tasks if task_family(task) in test_families)
    train = sorted(task.id for task in tasks if task_family(task) not in test_families)
    return Split(seed=seed, test_fraction=test_fraction, train=train, test=test)


def read_split(path: str | Path) -> Split:
    """A `split.json` written by `export_sft`."""
    try:
        return Split.model_validate(read_json(path, what="split file"))
    except ValidationError as exc:
        raise data_error(exc, file=str(path), prefix="not a split file: ") from None


def _extend_split(split: Split, tasks: Sequence[Task]) -> Split:
    """A saved split with tasks it does not name yet placed by their family (new families train)."""
    sides = {task_family(t): split.side(t.id) for t in tasks if split.side(t.id) is not None}
    train, test = set(split.train), set(split.test)
    for task in tasks:
        if split.side(task.id) is None:
            side = sides.get(task_family(task)) or "train"
            (test if side == "test" else train).add(task.id)
    return split.model_copy(update={"train": sorted(train), "test": sorted(test)})


def _check_no_leak(split: Split, tasks: Sequence[Task]) -> None:
    sides: dict[str, set[str]] = {}
    for task in tasks:
        sides.setdefault(task_family(task), set()).add(split.side(task.id) or "?")
    mixed = sorted(family for family, seen in sides.items() if len(seen) > 1)
    if mixed or set(split.train) & set(split.test):
        raise ConfigError(
            f"the split puts variants of one task on both sides: {', '.join(mixed[:3])}"
        )


# ----------------------------------------------------------------------------- export


class SftExport(BaseModel):
    """What `export_sft` wrote and what is in it."""

    model_config = ConfigDict(extra="forbid")
    out: str
    episodes: int = Field(description="episodes read")
    successful: int = Field(description="reward-1 episodes of the chosen agents")
    ungrounded: int = Field(
        0, description="successful episodes with a tool argument nobody gave the agent (dropped)"
    )
    kept_ungrounded: bool = Field(False, description="ungrounded episodes were kept")
    duplicates: int = Field(description="successful conversations dropped as repeats")
    over_per_task: int = Field(description="distinct conversations beyond --per-task")
    invalid: int = Field(0, description="conversations no fine-tuning API would take (skipped)")
    invalid_reasons: list[str] = Field(default_factory=list, description="the first ten, why")
    examples: dict[str, int]
    tasks: dict[str, int] = Field(description="tasks with at least one example, per split")
    held_out_tasks: int = Field(description="tasks on the test side of the split")
    per_variant: dict[str, dict[str, int]] = Field(description="split → variant → examples")
    tokens: dict[str, dict[str, float]] = Field(description="split → total, mean, max")
    tokenizer: str


def export_sft(
    results: Sequence[str | Path],
    tasks: Sequence[str | Path],
    out: str | Path,
    *,
    agents: Sequence[str] | None = None,
    per_task: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    split: str | Path | None = None,
    tokenizer: str | None = None,
    domain: str | None = None,
    force: bool = False,
    keep_ungrounded: bool = False,
) -> SftExport:
    """Write the SFT files for `results` (episodes) played on `tasks` (task files) under `out`.

    Args:
        results: Results JSONL files.
        tasks: The task files they ran (tasks.jsonl with db.json beside), one per domain.
        out: Output folder.
        agents: Only these agents' episodes (default: every agent's).
        per_task: At most this many distinct conversations per task (default: all).
        test_fraction: Share of task families held out, when no `split` is given.
        seed: Seed of that split.
        split: A `split.json` from an earlier export to keep (tasks it lacks are placed by family).
        tokenizer: A HF tokenizer (path or hub id) to count tokens with its chat template;
            default: characters / 4.
        domain: The domain of task files whose tasks do not name one (τ² imports).
        force: Replace an earlier export in `out`.
        keep_ungrounded: Keep successful episodes that fail the grounding check (they are
            dropped by default and counted in `ungrounded`).
    """
    out = Path(out)
    if (out / "stats.json").exists() and not force:
        raise ConfigError(f"{out} holds an export; pass --force to replace it")
    all_tasks, domains = _read_task_sets(tasks, domain)
    if split is not None:
        chosen_split = _extend_split(read_split(split), list(all_tasks.values()))
    else:
        chosen_split = split_tasks(list(all_tasks.values()), test_fraction=test_fraction, seed=seed)
    _check_no_leak(chosen_split, list(all_tasks.values()))

    episodes = _read_results(results)
    unknown = sorted({e.task_id for e in episodes} - set(all_tasks))
    if unknown:
        raise DataError(
            f"{len(unknown)} task ids in the results are in no --tasks file "
            f"(e.g. {unknown[0]}): give the task sets these results ran"
        )
    successful = successful_episodes(episodes, agents=agents)
    ungrounded = [
        e
        for e in successful
        if episode_grounded(e, domains[all_tasks[e.task_id].domain or ""]) is False
    ]
    usable = successful
    if ungrounded and not keep_ungrounded:
        dropped = {id(e) for e in ungrounded}
        usable = [e for e in successful if id(e) not in dropped]
    distinct = choose_episodes(usable)
    chosen = distinct if per_task is None else choose_episodes(distinct, per_task=per_task)
    rows: dict[str, dict[str, list[Any]]] = {s: {"openai": [], "hf": []} for s in SPLITS}
    variants: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    tasks_seen: dict[str, set[str]] = {s: set() for s in SPLITS}
    fingerprints: set[str] = set()
    invalid: list[str] = []
    for episode in chosen:
        task = all_tasks[episode.task_id]
        task_domain = domains[task.domain or ""]
        try:
            openai_row = OpenAIExample.model_validate(openai_example(episode, task_domain))
        except ValidationError as exc:  # e.g. a call to a tool the domain does not have
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            invalid.append(
                f"{episode.task_id} ({episode.agent_model}, trial {episode.trial}): {reason}"
            )
            continue
        example = hf_example(episode, task_domain)
        digest = _fingerprint(example["messages"])
        if digest in fingerprints:
            continue
        fingerprints.add(digest)
        side = chosen_split.side(task.id) or "train"
        meta = {
            "task_id": task.id,
            "variant": task.variant.kind,
            "agent_model": episode.agent_model,
            "trial": episode.trial,
        }
        rows[side]["hf"].append({**example, "meta": meta})
        rows[side]["openai"].append(openai_row)
        variants[side][task.variant.kind] += 1
        tasks_seen[side].add(task.id)

    counter = _token_counter(tokenizer)
    tokens = {}
    for split in SPLITS:
        counts = [counter(example) for example in rows[split]["hf"]]
        tokens[split] = {
            "total": float(sum(counts)),
            "mean": round(sum(counts) / len(counts), 1) if counts else 0.0,
            "max": float(max(counts, default=0)),
        }
    for split in SPLITS:
        for fmt in ("openai", "hf"):
            write_jsonl(out / fmt / f"{split}.jsonl", rows[split][fmt])
    write_json(out / "split.json", chosen_split)
    written = sum(len(rows[side]["hf"]) for side in SPLITS)  # the rest repeated a conversation
    exported = SftExport(
        out=str(out),
        episodes=len(episodes),
        successful=len(successful),
        ungrounded=len(ungrounded),
        kept_ungrounded=keep_ungrounded,
        duplicates=(len(usable) - len(distinct)) + (len(chosen) - len(invalid) - written),
        invalid=len(invalid),
        invalid_reasons=invalid[:10],
        over_per_task=len(distinct) - len(chosen),
        examples={s: len(rows[s]["hf"]) for s in SPLITS},
        tasks={s: len(tasks_seen[s]) for s in SPLITS},
        held_out_tasks=len(chosen_split.test),
        per_variant={s: dict(sorted(variants[s].items())) for s in SPLITS},
        tokens=tokens,
        tokenizer=tokenizer or "chars/4",
    )
    write_json(out / "stats.json", exported)
    return exported


def _read_task_sets(
    paths: Sequence[str | Path], domain: str | None = None
) -> tuple[dict[str, Task], dict[str, Domain]]:
    if not paths:
        raise ConfigError("give the task sets the results ran (--tasks)")
    tasks: dict[str, Task] = {}
    domains: dict[str, Domain] = {}
    for path in paths:
        loaded, env = open_task_set(path, domain=domain)
        for task in loaded:
            if task.id in tasks:
                raise DataError(f"{path}: task id {task.id} is also in another task set")
            tasks[task.id] = task.model_copy(update={"domain": task.domain or env.domain.name})
        domains[env.domain.name] = env.domain
    return tasks, domains


def _read_results(paths: Sequence[str | Path]) -> list[Episode]:
    if not paths:
        raise ConfigError("give at least one results file")
    episodes: list[Episode] = []
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: no such results file")
        episodes += read_episodes(path)
    return episodes


def _token_counter(tokenizer: str | None) -> Any:
    if tokenizer is None:
        return lambda example: math.ceil(len(json.dumps(example, ensure_ascii=False)) / 4)
    from t2t.llm.hf_models import load_tokenizer

    loaded = load_tokenizer(tokenizer)

    def count(example: dict[str, Any]) -> int:
        encoded = loaded.apply_chat_template(
            example["messages"], tools=example["tools"], tokenize=True, return_dict=True
        )
        return len(encoded["input_ids"])

    return count


def read_examples(path: str | Path) -> list[dict[str, Any]]:
    """The examples of one SFT JSONL file (either format); a clear error for a bad line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (run t2t export-sft first)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            raise DataError(f"{path}:{number}: an example needs a `messages` list")
        rows.append(row)
    return rows
