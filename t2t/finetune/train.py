"""Supervised fine-tuning on exported rollouts with TRL: full or LoRA, loss on assistant turns only.

The HF split of `t2t export-sft` is tokenized here through the model's own chat template, with
tools, and each token is marked as the assistant's or not (`return_assistant_tokens_mask`). A
template without `{% generation %}` markers gets TRL's training version of it (Qwen3, Llama 3,
…); one TRL does not know is refused with a clear error rather than trained on every token.
TRL's `SFTTrainer` then takes the token ids and masks as they are: no Arrow round trip for
tool-call arguments, whose keys differ from call to call.

Defaults are the paper's: 3 epochs, learning rate 1e-5, Adam betas 0.9/0.95. The trained model
(LoRA merged into it) and its tokenizer are saved to `out`, with `t2t_train.json` holding the
settings, the loss per step, and the test split's loss before and after. Checkpoints are written
every epoch under `out/checkpoints`, and a killed run resumes from the last one.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from t2t.core.errors import ConfigError
from t2t.core.files import read_json, write_json
from t2t.finetune.sft import read_examples
from t2t.llm.hf_models import load_causal_lm, load_tokenizer, require

__all__ = [
    "TrainConfig",
    "TrainResult",
    "loss_figure",
    "read_train_result",
    "tokenize_examples",
    "train_sft",
]

RESULT_FILE = "t2t_train.json"


class TrainConfig(BaseModel):
    """What to train on what, and how (the paper's defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base: str = Field(description="HF model id or folder (e.g. Qwen/Qwen3-0.6B, or a tiny model)")
    data: str = Field(description="a `t2t export-sft` folder")
    method: Literal["full", "lora"] = "full"
    epochs: float = Field(3, gt=0)
    learning_rate: float = Field(1e-5, gt=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.95, ge=0, lt=1)
    batch_size: int = Field(1, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    max_length: int | None = Field(None, ge=16, description="tokens; longer examples are cut")
    max_examples: int | None = Field(None, ge=1, description="train on the first N (smoke runs)")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    shared_prefix: bool = Field(
        False, description="encode the examples' common prompt once a step (LoRA; CPU budgets)"
    )
    lora_top_layers: int | None = Field(None, ge=1, description="adapters on the last N layers")
    seed: int = 0

    @model_validator(mode="after")
    def _prefix_trains_lora(self) -> TrainConfig:
        if self.shared_prefix and self.method != "lora":
            raise ValueError("shared-prefix training trains LoRA adapters: add --lora")
        return self


class TrainResult(BaseModel):
    """What a training run did; saved beside the model as `t2t_train.json`."""

    model_config = ConfigDict(extra="forbid")
    config: TrainConfig
    out: str
    train_examples: int
    test_examples: int
    train_tokens: int
    trained_tokens: int = Field(description="assistant tokens: the ones the loss is on")
    steps: int
    losses: list[float] = Field(description="training loss per logged step")
    test_loss_before: float | None = None
    test_loss_after: float | None = None
    duration_s: float


def tokenize_examples(
    tokenizer: Any, examples: list[dict[str, Any]], *, max_length: int | None = None
) -> list[dict[str, list[int]]]:
    """Token ids and assistant masks of HF `messages` examples (with their tools).

    Raises:
        ConfigError: The chat template cannot mark assistant tokens, or an example has none.
    """
    template = _training_template(tokenizer)
    rows = []
    for number, example in enumerate(examples, start=1):
        encoded = tokenizer.apply_chat_template(
            example["messages"],
            tools=example.get("tools") or None,
            chat_template=template,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
        if max_length is not None:
            ids, mask = ids[:max_length], mask[:max_length]
        if not any(mask):
            raise ConfigError(
                f"example {number} has no assistant token to learn from"
                + (f" within --max-length {max_length}" if max_length else "")
            )
        rows.append({"input_ids": ids, "assistant_masks": mask})
    return rows


def _training_template(tokenizer: Any) -> str | None:
    """The template that marks assistant tokens: the tokenizer's own, or TRL's training version."""
    chat_templates = require("trl.chat_template_utils")
    if chat_templates.has_generation_markers(tokenizer.chat_template or ""):
        return None
    try:
        template: str = chat_templates.get_training_chat_template(tokenizer)
    except ValueError:
        raise ConfigError(
            "the chat template has no {% generation %} markers and TRL has no training version "
            "of it, so the loss cannot be limited to the assistant's turns: add the markers to "
            "the template (see TRL's chat_templates/*_training.jinja)"
        ) from None
    return template


def train_sft(
    config: TrainConfig, out: str | Path, *, force: bool = False, progress: bool = True
) -> TrainResult:
    """Fine-tune `config.base` on `config.data`'s training split; save the model to `out`.

    `progress=False` keeps the trainer silent (no bars, no per-step log lines).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the model")
    if (out / RESULT_FILE).exists() and not force:
        raise ConfigError(f"{out} holds a trained model; pass --force to train again")
    started = time.perf_counter()
    data = Path(config.data)
    train_rows = read_examples(data / "hf" / "train.jsonl")[: config.max_examples]
    if not train_rows:
        raise ConfigError(f"{data}/hf/train.jsonl has no example: export successful episodes first")
    test_path = data / "hf" / "test.jsonl"
    test_rows = read_examples(test_path) if test_path.exists() else []

    datasets = require("datasets")
    transformers = require("transformers")
    trl = require("trl")
    if not progress:
        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
    tokenizer = load_tokenizer(config.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train_ids = tokenize_examples(tokenizer, train_rows, max_length=config.max_length)
    test_ids = tokenize_examples(tokenizer, test_rows, max_length=config.max_length)
    model = load_causal_lm(config.base)
    transformers.set_seed(config.seed)
    if config.shared_prefix:
        run = (tokenizer, model, train_ids, test_ids)
        return _train_shared_prefix(config, out, run, started=started, progress=progress)

    torch = require("torch")
    cuda = torch.cuda.is_available()
    checkpoints = out / "checkpoints"
    args = trl.SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        max_length=None,  # cut above, per example, keeping masks aligned
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=1,
        eval_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),  # bf16 on a CPU is several times slower
        activation_checkpointing=cuda,  # saves GPU memory; on a CPU it only recomputes
        dataloader_num_workers=0,
        disable_tqdm=not progress,
    )
    peft_config = None
    if config.method == "lora":
        peft = require("peft")
        peft_config = peft.LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    trainer = trl.SFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(train_ids),
        eval_dataset=datasets.Dataset.from_list(test_ids) if test_ids else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    if not progress:
        trainer.remove_callback(transformers.PrinterCallback)  # it prints each step's log
    before = _test_loss(trainer) if test_ids else None
    trainer.train(resume_from_checkpoint=_resume(checkpoints, config, data, force=force))
    after = _test_loss(trainer) if test_ids else None

    trained = trainer.model
    if config.method == "lora":
        trained = trained.merge_and_unload()
    losses = [round(float(row["loss"]), 6) for row in trainer.state.log_history if "loss" in row]
    run = (trained, tokenizer, train_ids, test_ids)
    return _save(config, out, run, trainer.state.global_step, losses, (before, after), started)


def _save(
    config: TrainConfig,
    out: Path,
    run: tuple[Any, Any, list[dict[str, list[int]]], list[dict[str, list[int]]]],
    steps: int,
    losses: list[float],
    test_losses: tuple[float | None, float | None],
    started: float,
) -> TrainResult:
    """Save the trained model and tokenizer to `out`, with `t2t_train.json` beside them."""
    model, tokenizer, train_ids, test_ids = run
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    result = TrainResult(
        config=config,
        out=str(out),
        train_examples=len(train_ids),
        test_examples=len(test_ids),
        train_tokens=sum(len(row["input_ids"]) for row in train_ids),
        trained_tokens=sum(sum(row["assistant_masks"]) for row in train_ids),
        steps=steps,
        losses=losses,
        test_loss_before=test_losses[0],
        test_loss_after=test_losses[1],
        duration_s=round(time.perf_counter() - started, 2),
    )
    write_json(out / RESULT_FILE, result)
    return result


def _train_shared_prefix(
    config: TrainConfig,
    out: Path,
    loaded: tuple[Any, Any, list[dict[str, list[int]]], list[dict[str, list[int]]]],
    *,
    started: float,
    progress: bool,
) -> TrainResult:
    """`train_sft` through `prefix_train`: the shared prompt encoded once per step."""
    from t2t.finetune.prefix_train import shared_prefix, suffix_loss, train_on_shared_prefix

    tokenizer, model, train_ids, test_ids = loaded
    length = shared_prefix(train_ids)
    test_ids = [row for row in test_ids if shared_prefix([train_ids[0], row]) >= length]
    before = round(suffix_loss(model, test_ids, length), 6) if test_ids else None
    run = train_on_shared_prefix(
        model,
        train_ids,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size * config.gradient_accumulation,
        betas=(config.adam_beta1, config.adam_beta2),
        lora_r=config.lora_r,
        lora_alpha=config.lora_alpha,
        seed=config.seed,
        top_layers=config.lora_top_layers,
        progress=progress,
    )
    after = round(suffix_loss(run.model, test_ids, length), 6) if test_ids else None
    trained = (run.model, tokenizer, train_ids, test_ids)
    return _save(config, out, trained, run.steps, run.losses, (before, after), started)


def _resume(checkpoints: Path, config: TrainConfig, data: Path, *, force: bool) -> bool | None:
    """Resume a killed run of the same settings and data; start afresh with `force`."""
    run = {"config": config.model_dump(mode="json"), "data": _data_hash(data)}
    settings = checkpoints / "t2t_run.json"
    if force and checkpoints.exists():
        shutil.rmtree(checkpoints)
    if any(checkpoints.glob("checkpoint-*")):
        if settings.exists() and read_json(settings, what="training settings") == run:
            return True
        raise ConfigError(
            f"{checkpoints} holds checkpoints of other settings or data; "
            "pass --force to start afresh"
        )
    write_json(settings, run)
    return None


def _data_hash(data: Path) -> str:
    digest = hashlib.sha256()
    for name in ("train.jsonl", "test.jsonl"):
        path = data / "hf" / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:16]


def _test_loss(trainer: Any) -> float:
    return round(float(trainer.evaluate()["eval_loss"]), 6)


def loss_figure(result: TrainResult) -> Any:
    """The training loss per step (plotly), with the held-out loss before and after as markers."""
    import plotly.graph_objects as go

    steps = list(range(1, len(result.losses) + 1))
    figure = go.Figure(go.Scatter(x=steps, y=result.losses, mode="lines", name="training loss"))
    if result.test_loss_before is not None and result.test_loss_after is not None:
        figure.add_scatter(
            x=[0, len(steps)],
            y=[result.test_loss_before, result.test_loss_after],
            mode="markers+text",
            text=[f"{result.test_loss_before:.2f}", f"{result.test_loss_after:.2f}"],
            textposition="top center",
            name="held-out loss",
        )
    return figure.update_layout(
        title=f"Training loss ({result.config.method}, lr {result.config.learning_rate:g})",
        xaxis_title="step",
        yaxis_title="loss",
    )


def read_train_result(folder: str | Path) -> TrainResult:
    """The `t2t_train.json` of a trained model folder."""
    path = Path(folder) / RESULT_FILE
    if not path.exists():
        raise ConfigError(f"{folder}: no {RESULT_FILE} (not a `t2t train` output)")
    return TrainResult.model_validate(read_json(path, what="training result"))
