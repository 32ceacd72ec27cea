"""Fast local generation on a CPU: reuse every prompt's KV cache, batch concurrent replies.

An agent's prompt is the policy and the tool schemas (≈ 4,400 tokens for retail) plus the
conversation so far, and on a CPU encoding it dominates: ≈ 14 s for SmolLM2-135M on 2 cores,
against ≈ 1 s for the few hundred tokens a turn adds. So the engine keeps the KV cache of each
prompt it answered (with the reply) and starts the next prompt from the longest cached prefix of
its tokens: the shared policy and tools for a new episode, the whole conversation for the next
turn of one. Decoding a token reads every weight once whatever the batch, so replies wanted at
the same time are decoded together: their caches are left-padded to one length and `generate`
runs them as one batch, masked as transformers does for left-padded prompts.

One worker thread owns the model. It takes the requests waiting, encodes each one's new tokens
from its cached prefix (taking in requests that arrive meanwhile), then decodes the greedy ones
as a batch and the sampled ones one by one with their own seed, so a re-run gives the same reply.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from t2t.llm.hf_models import require

__all__ = ["EngineStats", "GenerationRequest", "LocalEngine", "kv_layers"]


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to answer: its token ids and how to decode."""

    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


@dataclass
class EngineStats:
    """What the engine did: how much of the prompts came from cache, how big the batches were."""

    requests: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    batches: list[int] = field(default_factory=list)

    @property
    def reuse(self) -> float:
        """Share of prompt tokens read from a cached prefix rather than encoded."""
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


@dataclass
class _Entry:
    tokens: Any  # 1-D LongTensor: the tokens whose keys and values `layers` hold
    layers: list[tuple[Any, Any]]  # per layer (keys, values), each [1, heads, len, dim]

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in self.layers)


@dataclass
class _Job:
    request: GenerationRequest
    future: Future[list[int]]
    ids: Any = None  # 1-D LongTensor of the prompt
    layers: list[tuple[Any, Any]] | None = None  # cache of ids[:-1]


class LocalEngine:
    """Generation for one model with prefix KV reuse and batched decoding (see module doc).

    Args:
        model: A transformers causal LM.
        eos_token_ids: Tokens that end a reply.
        pad_token_id: Token that fills finished rows of a batch.
        cache_mb: Memory for cached prefixes (least recently used go first): SmolLM2-135M
            takes 46 KB a token, so the default 2 GB holds about 7 episodes of 6,000 tokens.
        max_batch: Replies decoded together at most.
        reuse: False encodes every prompt whole and decodes one at a time (the plain path).
    """

    def __init__(
        self,
        model: Any,
        *,
        eos_token_ids: list[int],
        pad_token_id: int,
        cache_mb: int = 2048,
        max_batch: int = 8,
        reuse: bool = True,
    ) -> None:
        self.model = model
        self.eos_token_ids = eos_token_ids
        self.pad_token_id = pad_token_id
        self.cache_bytes = cache_mb * 2**20
        self.max_batch = max_batch
        self.reuse = reuse
        self.stats = EngineStats()
        self._cache: OrderedDict[int, _Entry] = OrderedDict()
        self._next_key = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, request: GenerationRequest) -> Future[list[int]]:
        """Queue a prompt; the future holds the reply's token ids (its end token included)."""
        future: Future[list[int]] = Future()
        self._queue.put(_Job(request, future))
        with self._start:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, daemon=True, name="t2t-engine")
                self._worker.start()
                _RUNNING.add(self)
        return future

    def close(self) -> None:
        """Stop the worker thread once the queued requests are answered.

        Called at exit for every engine: a worker still inside torch when the interpreter
        tears down aborts the process ("terminate called without an active exception").
        """
        with self._start:
            worker, self._worker = self._worker, None
        if worker is not None and worker.is_alive():
            self._queue.put(_STOP)
            worker.join()

    def generate(self, request: GenerationRequest) -> list[int]:
        """The reply's token ids, waiting for them."""
        return self.submit(request).result()

    def clear(self) -> None:
        """Forget every cached prefix."""
        self._cache.clear()

    # ------------------------------------------------------------------------------ worker

    def _serve(self) -> None:
        torch = require("torch")
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs = [first]
            with torch.inference_mode():
                ready: list[_Job] = []
                while jobs:  # prefill; requests arriving meanwhile join this round
                    for job in jobs:
                        if job.future.set_running_or_notify_cancel() and _safely(
                            self._prefill, [job]
                        ):
                            ready.append(job)
                    jobs = self._drain(self.max_batch - len(ready))
                size = self.max_batch if self.reuse else 1
                greedy = [job for job in ready if job.request.temperature <= 0]
                for start in range(0, len(greedy), size):
                    _safely(self._decode, greedy[start : start + size])
                for job in ready:
                    if job.request.temperature > 0:
                        _safely(self._decode, [job])

    def _drain(self, room: int) -> list[_Job]:
        jobs: list[_Job] = []
        while len(jobs) < room:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:  # answer this round first, then stop
                self._queue.put(_STOP)
                break
            jobs.append(job)
        return jobs

    def _prefill(self, jobs: list[_Job]) -> None:
        """Encode all but the prompt's last token, from the longest cached prefix."""
        torch = require("torch")
        (job,) = jobs
        ids = torch.tensor(job.request.prompt_ids, dtype=torch.long)
        if len(ids) < 2:
            raise ValueError("a prompt of fewer than 2 tokens")
        job.ids = ids
        target = len(ids) - 1
        layers, start = self._longest_prefix(ids[:target]) if self.reuse else (None, 0)
        self.stats.requests += 1
        self.stats.prompt_tokens += len(ids)
        self.stats.reused_tokens += start
        cache = require("transformers").DynamicCache(ddp_cache_data=layers) if layers else None
        if start < target:
            output = self.model(
                input_ids=ids[start:target].unsqueeze(0), cache=cache, use_cache=True
            )
            cache = output.cache
        job.layers = kv_layers(cache) if cache is not None else []
        if self.reuse and start < target:  # the next prompts of this round start from it
            self._store(ids[:target], job.layers, copy=False)

    def _longest_prefix(self, ids: Any) -> tuple[list[tuple[Any, Any]] | None, int]:
        best_key, best = None, 0
        for key, entry in self._cache.items():
            length = min(len(entry.tokens), len(ids))
            if length <= best:
                continue
            same = entry.tokens[:length] == ids[:length]
            common = length if bool(same.all()) else int((~same).nonzero()[0, 0])
            if common > best:
                best_key, best = key, common
        if best_key is None:
            return None, 0
        self._cache.move_to_end(best_key)
        entry = self._cache[best_key]
        return [(k[:, :, :best], v[:, :, :best]) for k, v in entry.layers], best

    def _decode(self, jobs: list[_Job]) -> None:
        """Generate every job's reply as one batch of left-padded caches."""
        torch = require("torch")
        longest = max(len(job.ids) for job in jobs)
        input_ids = torch.full((len(jobs), longest), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), longest), dtype=torch.long)
        for row, job in enumerate(jobs):
            input_ids[row, longest - len(job.ids) :] = job.ids
            mask[row, longest - len(job.ids) :] = 1
        cache = _batched_cache(torch, [job.layers or [] for job in jobs], longest - 1)
        first = jobs[0].request
        options: dict[str, Any] = {
            "max_new_tokens": max(job.request.max_new_tokens for job in jobs),
            "do_sample": first.temperature > 0,
            "eos_token_id": self.eos_token_ids,
            "pad_token_id": self.pad_token_id,
        }
        if first.temperature > 0:
            options.update(temperature=first.temperature, top_p=first.top_p)
            torch.manual_seed(first.seed)
        self.stats.batches.append(len(jobs))
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            cache=cache,
            return_dict_in_generate=True,
            **options,
        )
        layers = kv_layers(output.cache)
        replies = [
            _reply(output.sequences[row, longest:].tolist(), job.request, self)
            for row, job in enumerate(jobs)
        ]
        for row, (job, reply) in enumerate(zip(jobs, replies, strict=True)):
            if self.reuse:
                kept = len(job.ids) + len(reply) - 1  # the last reply token was never fed back
                pad = longest - len(job.ids)
                tokens = torch.cat([job.ids, torch.tensor(reply[:-1], dtype=torch.long)])
                self._store(
                    tokens[:kept],
                    [
                        (
                            k[row : row + 1, :, pad : pad + kept],
                            v[row : row + 1, :, pad : pad + kept],
                        )
                        for k, v in layers
                    ],
                )
        for job, reply in zip(jobs, replies, strict=True):  # once the cache holds them all
            job.future.set_result(reply)

    def _store(self, tokens: Any, layers: list[tuple[Any, Any]], *, copy: bool = True) -> None:
        """Keep a prefix's cache; entries it extends are dropped (it serves their prompts too)."""
        for key, entry in list(self._cache.items()):
            n = len(entry.tokens)
            if n <= len(tokens) and bool((entry.tokens == tokens[:n]).all()):
                del self._cache[key]
        if copy:  # rows of a batch: copies, so the batch's tensors can go
            layers = [(k.clone(), v.clone()) for k, v in layers]
        self._cache[self._next_key] = _Entry(tokens, layers)
        self._next_key += 1
        while (
            len(self._cache) > 1 and sum(e.nbytes for e in self._cache.values()) > self.cache_bytes
        ):
            self._cache.popitem(last=False)


_STOP: Any = object()  # tells a worker to return
_RUNNING: weakref.WeakSet[LocalEngine] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for engine in list(_RUNNING):
        engine.close()


def _safely(step: Any, jobs: list[_Job]) -> bool:
    """Run one step; its error goes to the jobs' callers and the worker goes on."""
    try:
        step(jobs)
    except Exception as exc:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(exc)
        return False
    return True


def kv_layers(cache: Any) -> list[tuple[Any, Any]]:
    """A transformers cache as (keys, values) per layer, to slice, store or rebuild from."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def _batched_cache(torch: Any, caches: list[list[tuple[Any, Any]]], length: int) -> Any:
    """One DynamicCache of `length` positions: each row's cache left-padded with zeros."""
    transformers = require("transformers")
    if length == 0:
        return transformers.DynamicCache()
    layers = []
    for index in range(len(caches[0])):
        keys, values = [], []
        for cache in caches:
            k, v = cache[index]
            pad = length - k.shape[2]
            keys.append(torch.nn.functional.pad(k, (0, 0, pad, 0)))
            values.append(torch.nn.functional.pad(v, (0, 0, pad, 0)))
        layers.append((torch.cat(keys), torch.cat(values)))
    return transformers.DynamicCache(ddp_cache_data=layers)


def _reply(tokens: list[int], request: GenerationRequest, engine: LocalEngine) -> list[int]:
    """The row's own reply: up to and including its end token, within its own token limit."""
    tokens = tokens[: request.max_new_tokens]
    for index, token in enumerate(tokens):
        if token in engine.eos_token_ids:
            return tokens[: index + 1]
    return tokens
