"""Fast local generation on a CPU: reuse every prompt's KV cache, batch concurrent replies.

An agent's prompt is the policy and the tool schemas (≈ 4,400 tokens for retail) plus the
conversation so far, and on a CPU encoding it dominates: ≈ 14 s for SmolLM2-135M on 2 cores,
against ≈ 1 s for the few hundred tokens a turn adds. So the engine keeps the KV cache of each
prompt it answered (with the reply) and starts the next prompt from the longest cached prefix of
its tokens: the shared policy and tools for a new episode, the whole conversation for the next
turn of one. Decoding a token reads every weight once whatever the batch, so greedy replies are
decoded together in a `RunningBatch`, which requests join and leave between steps.

One worker thread owns the model. Between decoding steps it takes the requests waiting, encodes
each one's new tokens from its cached prefix and adds the greedy ones to the batch; sampled ones
are decoded alone with their own seed, so a re-run gives the same reply.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from t2t.llm.hf_models import require
from t2t.llm.running_batch import RunningBatch, batched_cache, cached_tokens

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
    decode_steps: int = 0
    decoded_rows: int = 0  # replies' tokens decoded, over all steps
    largest_batch: int = 0

    @property
    def reuse(self) -> float:
        """Share of prompt tokens read from a cached prefix rather than encoded."""
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def decoded(self, rows: int, steps: int = 1) -> None:
        """Count `steps` decoding steps of `rows` replies each."""
        self.decode_steps += steps
        self.decoded_rows += rows * steps
        self.largest_batch = max(self.largest_batch, rows)

    @property
    def mean_batch(self) -> float:
        """Replies decoded together, on average over decoding steps."""
        return self.decoded_rows / self.decode_steps if self.decode_steps else 0.0


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
        max_batch: Replies decoded together at most; their cache takes max_batch × (prompt +
            2 × reply) tokens: about 1.8 GB for 8 retail rows of SmolLM2-135M.
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
        self._batch = RunningBatch(model, eos_token_ids, slots=max_batch)  # the worker's
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
        batch = self._batch
        waiting: list[_Job] = []  # encoded, waiting for a row of the batch
        stopping = False
        while True:
            arrived: list[_Job] = []
            if not (batch or waiting):  # idle: wait for a request
                if stopping:
                    return
                first = self._queue.get()
                if first is _STOP:
                    return
                arrived.append(first)
            if not stopping:
                more, stopping = self._drain()
                arrived += more
            with torch.inference_mode():
                for job in arrived:
                    if not job.future.set_running_or_notify_cancel():
                        continue
                    if not _safely(self._prefill, [job]):
                        continue
                    if self.reuse and job.request.temperature <= 0:
                        waiting.append(job)
                    else:  # the plain path, or sampled: alone, with the request's seed
                        _safely(self._decode, [job])
                room = self.max_batch - len(batch)
                joining, waiting = waiting[:room], waiting[room:]
                if joining:
                    _safely(self._join, joining)
                if batch:
                    self._step(batch)

    def _join(self, jobs: list[_Job]) -> None:
        self._batch.add(
            [(job, job.ids, job.layers or [], job.request.max_new_tokens) for job in jobs]
        )
        for job in jobs:
            job.layers = None  # the batch holds a copy

    def _step(self, batch: RunningBatch) -> None:
        """One decoding step of the batch; finished replies are cached, then handed back."""
        self.stats.decoded(len(batch))
        try:
            finished = batch.step()
        except Exception as exc:
            for job in batch.fail():
                job.future.set_exception(exc)
            return
        for row in finished:
            self._store(row.tokens, row.layers, copy=False)
        for row in finished:  # once the cache holds them all
            row.owner.future.set_result(row.reply)

    def _drain(self) -> tuple[list[_Job], bool]:
        """The requests queued now, and whether a stop came (answer them, then stop)."""
        jobs: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return jobs, False
            if job is _STOP:
                return jobs, True
            jobs.append(job)

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
                input_ids=ids[start:target].unsqueeze(0),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,  # only the cache is wanted: skip 49k-wide logits per token
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
        """Generate one job's reply with `generate`: sampled, or on the plain path."""
        torch = require("torch")
        (job,) = jobs
        request = job.request
        room = request.max_new_tokens if self.reuse else None
        cache = batched_cache([job.layers or []], len(job.ids) - 1, room=room)
        options: dict[str, Any] = {"do_sample": request.temperature > 0}
        if request.temperature > 0:
            options.update(temperature=request.temperature, top_p=request.top_p)
            torch.manual_seed(request.seed)
        output = self.model.generate(
            input_ids=job.ids.unsqueeze(0),
            attention_mask=torch.ones((1, len(job.ids)), dtype=torch.long),
            cache=cache,
            max_new_tokens=request.max_new_tokens,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
            return_dict_in_generate=True,
            **options,
        )
        reply = _reply(output.sequences[0, len(job.ids) :].tolist(), self.eos_token_ids)
        self.stats.decoded(1, steps=len(reply))
        if self.reuse:
            tokens = cached_tokens(job.ids, reply)
            kept = len(tokens)
            self._store(
                tokens, [(k[:, :, :kept], v[:, :, :kept]) for k, v in kv_layers(output.cache)]
            )
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


def _reply(tokens: list[int], ends: list[int]) -> list[int]:
    """A reply up to and including its end token."""
    for index, token in enumerate(tokens):
        if token in ends:
            return tokens[: index + 1]
    return tokens
