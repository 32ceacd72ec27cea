"""The offline fine-tuning loop end to end: export → tiny model → train → serve → evaluate.

Needs the `train` extra (torch, transformers, trl, peft, datasets), which `make venv` installs.
"""

import json

import pytest
from conftest import shared_task_set_path

pytest.importorskip("trl", reason="the train extra: pip install -e '.[train]'")

from t2t.benchmark.config import RunConfig  # noqa: E402
from t2t.benchmark.episode import TERMINATION_REASONS  # noqa: E402
from t2t.benchmark.runner import run_rollouts  # noqa: E402
from t2t.cli import main  # noqa: E402
from t2t.core.errors import ConfigError  # noqa: E402
from t2t.finetune.compare import compare_figure, compare_models  # noqa: E402
from t2t.finetune.sft import export_sft, read_examples  # noqa: E402
from t2t.finetune.tiny_model import build_tiny_model, corpus  # noqa: E402
from t2t.finetune.train import TrainConfig, loss_figure, tokenize_examples, train_sft  # noqa: E402
from t2t.generate import GenerateConfig, generate_tasks  # noqa: E402
from t2t.llm import RAW_ARGUMENTS_KEY  # noqa: E402
from t2t.llm.hf_local import model_fingerprint, parse_reply  # noqa: E402
from t2t.llm.hf_models import load_tokenizer, with_response_parser  # noqa: E402
from t2t.tasks.task_set import open_task_set  # noqa: E402

AGENT_PARAMS = {"max_tokens": 24}  # a tiny model's replies: short, so episodes stay quick


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """Oracle episodes on 16 retail tasks → SFT data → tiny model → 2 epochs on 6 examples."""
    root = tmp_path_factory.mktemp("finetune")
    tasks_path = shared_task_set_path(tmp_path_factory, 16)
    tasks, env = open_task_set(tasks_path)
    results = root / "oracle.jsonl"
    run_rollouts(tasks, env, RunConfig(agent="t2t/oracle"), results, progress=False)
    data = root / "sft"
    export_sft([results], [tasks_path], data, per_task=1, test_fraction=0.25)
    base = build_tiny_model(root / "tiny", corpus(data))
    config = TrainConfig(
        base=str(base), data=str(data), epochs=2, learning_rate=3e-3, max_examples=6
    )
    result = train_sft(config, root / "tuned")
    return {"root": root, "tasks_path": tasks_path, "data": data, "base": base, "result": result}


def test_hf_examples_round_trip_through_the_chat_template(loop):
    tokenizer = load_tokenizer(loop["base"])
    rows = read_examples(loop["data"] / "hf" / "train.jsonl")
    encoded = tokenize_examples(tokenizer, rows)
    for row, tokens in zip(rows, encoded, strict=True):
        text = tokenizer.decode(tokens["input_ids"])
        learned = tokenizer.decode(
            [t for t, m in zip(tokens["input_ids"], tokens["assistant_masks"], strict=True) if m]
        )
        for message in row["messages"]:
            if message.get("content"):
                assert message["content"] in text
            if message["role"] == "user" and len(message["content"]) > 20:
                assert message["content"] not in learned  # the loss is on the agent only
            if message["role"] == "assistant":
                if message.get("content"):
                    assert message["content"] in learned
                for call in message.get("tool_calls") or []:
                    function = call["function"]
                    assert f'"name": "{function["name"]}"' in learned
                    assert json.dumps(function["arguments"], ensure_ascii=False) in learned
        for tool in row["tools"]:
            assert json.dumps(tool, ensure_ascii=False) in text  # the template lists the tools


def test_training_reduces_loss_on_train_and_held_out_tasks(loop):
    result = loop["result"]
    per_epoch = result.train_examples
    assert result.steps == 2 * per_epoch
    first, last = result.losses[:per_epoch], result.losses[-per_epoch:]
    assert sum(last) / len(last) < sum(first) / len(first) - 0.5
    assert result.test_loss_after < result.test_loss_before
    assert 0 < result.trained_tokens < result.train_tokens
    saved = json.loads((loop["root"] / "tuned" / "t2t_train.json").read_text())
    assert saved["losses"] == result.losses
    figure = loss_figure(result)
    assert list(figure.data[0].y) == result.losses
    assert list(figure.data[1].y) == [result.test_loss_before, result.test_loss_after]


def test_the_tuned_model_plays_episodes_through_the_provider(loop):
    tasks, env = open_task_set(loop["tasks_path"])
    model = f"hf-local/{loop['root'] / 'tuned'}"
    out = loop["root"] / "tuned-episodes.jsonl"
    config = RunConfig(agent=model, max_steps=3, agent_params=AGENT_PARAMS)
    stats = run_rollouts(tasks[:3], env, config, out, progress=False)
    assert stats.ran == 3 and stats.infra_errors == 0
    from t2t.benchmark.results import read_episodes

    for episode in read_episodes(out):
        assert episode.termination_reason in TERMINATION_REASONS
        assert episode.reward is not None
        assert episode.tokens > 0  # the provider reports prompt and completion tokens
        assert episode.agent_model == model


def test_compare_runs_every_model_on_every_set(loop, tmp_path_factory):
    tasks, env = open_task_set(loop["tasks_path"])
    banking = tmp_path_factory.mktemp("banking")
    generate_tasks(GenerateConfig(domain="banking", n=4), banking, workers=1, progress=False)
    unseen, unseen_env = open_task_set(banking / "tasks.jsonl")
    models = {"base": f"hf-local/{loop['base']}", "tuned": f"hf-local/{loop['root'] / 'tuned'}"}
    sets = {"retail": (tasks[:2], env), "banking (unseen)": (unseen[:2], unseen_env)}
    out = loop["root"] / "compare"
    frame = compare_models(models, sets, out, max_steps=2, agent_params=AGENT_PARAMS)
    assert set(frame["model"]) == {"base", "tuned"}
    assert set(frame["task_set"]) == set(sets)
    assert frame["pass_hat_k"].between(0, 1).all()
    assert (frame["pass_hat_k_lo"] <= frame["pass_hat_k"]).all()
    assert (frame["pass_hat_k"] <= frame["pass_hat_k_hi"]).all()
    assert (frame[frame.variant == "all"]["episodes"] == 2).all()
    figure = compare_figure(frame)
    assert {trace.name for trace in figure.data} == {"base", "tuned"}
    again = compare_models(models, sets, out, max_steps=2, agent_params=AGENT_PARAMS)
    assert again.equals(frame)  # resumed: nothing ran again, same numbers


def test_parse_reply_reads_calls_and_keeps_malformed_ones(loop):
    tokenizer = with_response_parser(load_tokenizer(loop["base"]), "tiny")
    prompt = "<|im_start|>assistant\n"
    call = '<tool_call>\n{"name": "get_user_details", "arguments": {"user_id": "u1"}}\n</tool_call>'
    message = parse_reply(tokenizer, call + "<|im_end|>", prompt, [])
    assert message.tool_calls[0].name == "get_user_details"
    assert message.tool_calls[0].arguments == {"user_id": "u1"}
    broken = parse_reply(tokenizer, '<tool_call>\n{"name": "get_user_details", "argu', prompt, [])
    assert broken.tool_calls[0].name == "get_user_details"
    assert RAW_ARGUMENTS_KEY in broken.tool_calls[0].arguments
    text = parse_reply(tokenizer, "Sure, which order?<|im_end|>", prompt, [])
    assert text.content == "Sure, which order?" and not text.tool_calls
    assert parse_reply(tokenizer, "<|im_end|>", prompt, []).content is None


def test_retraining_in_place_changes_the_run_hash(loop, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(loop["base"], folder)
    model = f"hf-local/{folder}"
    before = (model_fingerprint(model), RunConfig(agent=model).config_hash())
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes() + b"x")
    after = (model_fingerprint(model), RunConfig(agent=model).config_hash())
    assert before[0] != after[0] and before[1] != after[1]


def test_lora_trains_and_saves_a_merged_model(loop, tmp_path):
    config = TrainConfig(
        base=str(loop["base"]),
        data=str(loop["data"]),
        method="lora",
        epochs=1,
        learning_rate=1e-2,
        max_examples=3,
        lora_r=4,
        lora_alpha=8,
    )
    result = train_sft(config, tmp_path / "lora")
    assert result.steps == result.train_examples
    files = {p.name for p in (tmp_path / "lora").iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files  # merged


def test_user_errors_are_one_line(loop, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--base",
                str(loop["base"]),
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "export-sft" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--base",
                str(tmp_path / "nope"),
                "--data",
                str(loop["data"]),
                "--out",
                str(tmp_path / "m"),
                "--lr",
                "-1",
            ]
        )
        == 2
    )
    assert "--lr: Input should be greater than 0" in capsys.readouterr().err
    out = loop["root"] / "tuned"
    assert (
        main(["train", "--base", str(loop["base"]), "--data", str(loop["data"]), "--out", str(out)])
        == 2
    )
    assert "--force" in capsys.readouterr().err
    tasks, env = open_task_set(loop["tasks_path"])
    with pytest.raises(ConfigError, match="not a model folder"):
        run_rollouts(tasks[:1], env, RunConfig(agent="hf-local/./missing"), tmp_path / "r.jsonl")


def test_a_template_that_cannot_mark_assistant_tokens_is_refused(loop):
    tokenizer = load_tokenizer(loop["base"])
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    rows = read_examples(loop["data"] / "hf" / "train.jsonl")[:1]
    with pytest.raises(ConfigError, match="generation"):
        tokenize_examples(tokenizer, rows)


def test_cli_builds_trains_and_compares(loop, tmp_path, capsys):
    data = loop["data"]
    tiny = tmp_path / "tiny"
    assert main(["tiny-model", "--data", str(data), "--out", str(tiny)]) == 0
    tuned = tmp_path / "tuned"
    argv = ["train", "--base", str(tiny), "--data", str(data), "--out", str(tuned), "-q"]
    assert main([*argv, "--max-examples", "1", "--epochs", "1", "--lr", "1e-3"]) == 0
    printed = capsys.readouterr().out
    assert "1 steps on 1 examples" in printed and "test loss" in printed
    out = tmp_path / "compare"
    argv = ["compare", "--model", f"tuned=hf-local/{tuned}", "--model", "oracle=t2t/oracle"]
    argv += ["--tasks", str(loop["tasks_path"]), "--split", str(data / "split.json")]
    argv += ["--limit", "2", "--max-tokens", "8", "--out", str(out), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "(held out)" in printed and "oracle" in printed
    import pandas as pd

    frame = pd.read_csv(out / "compare.csv")
    assert (frame[frame.model == "oracle"]["pass_hat_k"] == 1).all()
    assert (frame[frame.variant == "all"]["episodes"] == 2).all()
    assert (out / "compare.html").exists()
    paired = pd.read_csv(out / "compare_paired.csv")  # the oracle against the first model
    assert set(paired.model) == {"oracle"} and set(paired.baseline) == {"tuned"}
    oracle_all = frame[(frame.model == "oracle") & (frame.variant == "all")]["pass_hat_k"]
    tuned_all = frame[(frame.model == "tuned") & (frame.variant == "all")]["pass_hat_k"]
    overall = paired.iloc[-1]
    assert overall.difference == pytest.approx(oracle_all.item() - tuned_all.item())
    assert (
        main(["compare", "--model", "tuned", "--tasks", str(loop["tasks_path"]), "--out", str(out)])
        == 2
    )
    assert "LABEL=MODEL" in capsys.readouterr().err
