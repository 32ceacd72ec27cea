"""Fine-tuning: successful rollouts as SFT data, training, a tiny offline model, before/after."""

from t2t.finetune.compare import (
    compare_figure,
    compare_models,
    compare_table,
    paired_differences,
    play_models,
)
from t2t.finetune.sft import export_sft, read_examples, split_tasks
from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model, corpus
from t2t.finetune.train import TrainConfig, TrainResult, loss_figure, train_sft

__all__ = [
    "TinyModelConfig",
    "TrainConfig",
    "TrainResult",
    "build_tiny_model",
    "compare_figure",
    "compare_models",
    "compare_table",
    "corpus",
    "export_sft",
    "loss_figure",
    "paired_differences",
    "play_models",
    "read_examples",
    "split_tasks",
    "train_sft",
]
