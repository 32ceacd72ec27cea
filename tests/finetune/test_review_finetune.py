"""Regression tests for the defects a review of the fine-tuning loop found (all fixed)."""

import json
import math

import pytest
from conftest import shared_task_set_path

from t2t.benchmark.agent import GREETING
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.uncertainty import format_interval
from t2t.cli import main
from t2t.core.errors import T2TError
from t2t.core.schema import Episode, Message, Reward, ToolCall
from t2t.finetune.compare import (
    compare_figure,
    compare_models,
    compare_table,
    paired_differences,
)
from t2t.finetune.sft import export_sft, successful_episodes
from t2t.finetune.train import TrainConfig
from t2t.tasks.task_set import open_task_set


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    """16 retail tasks played once by the oracle."""
    tasks_path = shared_task_set_path(tmp_path_factory, 16)
    tasks, env = open_task_set(tasks_path)
    results = tmp_path_factory.mktemp("review") / "oracle.jsonl"
    run_rollouts(tasks, env, RunConfig(agent="t2t/oracle"), results, progress=False)
    return tasks_path, results


def _winner(results) -> Episode:
    return next(e for e in read_episodes(results) if e.reward and e.reward.value == 1.0)


def _export_cli(tmp_path, episode: Episode, tasks_path, capsys) -> tuple[int, str]:
    results = tmp_path / "one.jsonl"
    results.write_text(episode.model_dump_json() + "\n")
    argv = ["export-sft", str(results), "--tasks", str(tasks_path), "--out", str(tmp_path / "o")]
    code = main(argv)
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------- export-sft


def test_export_keeps_going_when_a_winner_once_called_an_unknown_tool(oracle_run, tmp_path, capsys):
    tasks_path, results = oracle_run
    episode = _winner(results)
    detour = [
        Message(role="assistant", tool_calls=[ToolCall(name="no_such_tool", arguments={}, id="x")]),
        Message(role="tool", tool_call_id="x", content="Error: unknown tool no_such_tool"),
    ]
    episode = episode.model_copy(
        update={"messages": episode.messages[:2] + detour + episode.messages[2:]}
    )
    code, err = _export_cli(tmp_path, episode, tasks_path, capsys)
    assert code == 0, err


def test_export_of_an_episode_ending_in_an_empty_agent_turn(oracle_run, tmp_path, capsys):
    tasks_path, results = oracle_run
    episode = _winner(results)
    episode = episode.model_copy(
        update={
            "messages": [*episode.messages, Message(role="assistant", content=None)],
            "termination_reason": "agent_error",
        }
    )
    code, err = _export_cli(tmp_path, episode, tasks_path, capsys)
    assert code in (0, 2) and len(err.strip().splitlines()) <= 1


def test_export_of_a_tool_message_without_its_call(oracle_run, tmp_path, capsys):
    tasks_path, results = oracle_run
    episode = _winner(results)
    orphan = Message(role="tool", tool_call_id="nobody", content="{}")
    episode = episode.model_copy(
        update={"messages": episode.messages[:2] + [orphan] + episode.messages[2:]}
    )
    code, err = _export_cli(tmp_path, episode, tasks_path, capsys)
    assert code == 0, err  # skipped and counted, not a KeyError traceback
    assert json.loads((tmp_path / "o" / "stats.json").read_text())["invalid"] == 1


def test_export_of_tasks_without_a_domain(oracle_run, tmp_path):
    tasks_path, results = oracle_run
    folder = tmp_path / "nodomain"
    folder.mkdir()
    (folder / "db.json").write_bytes((tasks_path.parent / "db.json").read_bytes())
    rows = [json.loads(line) for line in tasks_path.read_text().splitlines() if line.strip()]
    for row in rows:
        row.pop("domain", None)
    (folder / "tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exported = export_sft([results], [folder / "tasks.jsonl"], tmp_path / "out", domain="retail")
    assert exported.examples["train"] > 0


def test_an_episode_with_only_the_greeting_is_not_a_success_to_learn_from():
    episode = Episode(
        task_id="t",
        agent_model="a",
        user_model="u",
        messages=[
            Message(role="assistant", content=GREETING),
            Message(role="user", content="###STOP###"),
        ],
        termination_reason="user_stop",
        reward=Reward(value=1.0),
    )
    assert successful_episodes([episode]) == []


# ------------------------------------------------------------------------------- compare


def _compare(tasks_path, out, *extra):
    argv = ["compare", "-q", "--model", "a=t2t/oracle", "--tasks", str(tasks_path)]
    return main([*argv, "--out", str(out), *extra])


@pytest.mark.parametrize("flag", ["--trials", "--max-steps"])
def test_compare_bad_counts_are_one_line_errors(oracle_run, tmp_path, capsys, flag):
    tasks_path, _ = oracle_run
    assert _compare(tasks_path, tmp_path, flag, "0") == 2
    assert capsys.readouterr().err.startswith("t2t: error:")


def test_compare_refuses_a_limit_below_one(oracle_run, tmp_path, capsys):
    tasks_path, _ = oracle_run
    assert _compare(tasks_path, tmp_path / "a", "--limit", "-15") == 2
    assert _compare(tasks_path, tmp_path / "b", "--limit", "0") == 2


def test_compare_does_not_drop_a_model_given_the_same_label(oracle_run, tmp_path, capsys):
    tasks_path, _ = oracle_run
    code = _compare(tasks_path, tmp_path, "--model", "a=t2t/eager", "--limit", "1")
    if code == 0:
        csv = (tmp_path / "compare.csv").read_text()
        assert "t2t/oracle" in csv and "t2t/eager" in csv
    else:
        assert code == 2


@pytest.fixture(scope="module")
def probe_comparison(oracle_run, tmp_path_factory):
    """The oracle and the eager probe, 2 trials each on the 16 tasks: (episodes, frame)."""
    from t2t.finetune.compare import play_models

    tasks_path, _ = oracle_run
    models = {"oracle": "t2t/oracle", "eager": "t2t/eager"}
    sets = {"retail": open_task_set(tasks_path)}
    out = tmp_path_factory.mktemp("probe-compare")
    played = play_models(models, sets, out, trials=2, progress=False)
    return played, compare_models(models, sets, out, trials=2, progress=False)


def test_compare_frame_carries_pass_k_intervals(probe_comparison):
    _, frame = probe_comparison
    assert {"pass_hat_k_lo", "pass_hat_k_hi"} <= set(frame.columns)
    assert (frame.pass_hat_k_lo <= frame.pass_hat_k).all()
    assert (frame.pass_hat_k <= frame.pass_hat_k_hi).all()
    oracle = frame[frame.model == "oracle"]
    assert (oracle.pass_hat_k_lo == 1).all() and (oracle.pass_hat_k_hi == 1).all()
    eager_all = frame[(frame.model == "eager") & (frame.variant == "all") & (frame.k == 1)]
    lo, value, hi = eager_all[["pass_hat_k_lo", "pass_hat_k", "pass_hat_k_hi"]].iloc[0]
    assert lo < value < 1 and value <= hi  # eager fails the ambiguous tasks only


def test_compare_table_shows_intervals(probe_comparison):
    _, frame = probe_comparison
    table = compare_table(frame, intervals=True)
    row = frame[(frame.model == "eager") & (frame.variant == "all") & (frame.k == 2)].iloc[0]
    expected = format_interval(row.pass_hat_k, row.pass_hat_k_lo, row.pass_hat_k_hi)
    assert table.loc[("retail", "all"), "eager pass^2"] == expected
    assert table.loc[("retail", "base"), "oracle pass^1"] == "1.00 [1.00, 1.00]"
    assert compare_table(frame).loc[("retail", "base"), "oracle pass^1"] == 1.0  # as before
    with pytest.raises(T2TError, match="no interval for tool_calls_ok"):
        compare_table(frame, "tool_calls_ok", intervals=True)


def test_compare_figure_has_error_bars_on_pass_k(probe_comparison):
    _, frame = probe_comparison
    figure = compare_figure(frame)
    chosen = frame[frame.k == 1]
    for model in ("oracle", "eager"):
        bars = [
            (x, y, a, b)
            for trace in figure.data
            if trace.name == model
            for x, y, a, b in zip(
                trace.x, trace.y, trace.error_y.array, trace.error_y.arrayminus, strict=True
            )
            if a is not None and not math.isnan(a)
        ]
        mine = chosen[chosen.model == model]
        assert len(bars) == len(mine)  # on the pass^k bars; tool calls have none
        for variant, y, above, below in bars:
            row = mine[mine.variant == variant].iloc[0]
            assert y + above == pytest.approx(row.pass_hat_k_hi)
            assert y - below == pytest.approx(row.pass_hat_k_lo)


def test_paired_differences_of_a_model_with_itself_are_zero(probe_comparison):
    played, _ = probe_comparison
    twins = {("a", s): e for (label, s), e in played.items() if label == "oracle"}
    twins |= {("b", s): e for (label, s), e in played.items() if label == "oracle"}
    paired = paired_differences(twins, baseline="a")
    assert set(paired.model) == {"b"} and (paired.tasks > 0).all()
    assert (paired[["difference", "difference_lo", "difference_hi"]] == 0).all().all()


def test_paired_differences_against_a_baseline(probe_comparison):
    played, frame = probe_comparison
    paired = paired_differences(played, baseline="eager")
    assert list(paired.variant)[-2:] == ["all", "all"]  # the set's row, then the overall one
    assert list(paired.task_set)[-2:] == ["retail", "all"]
    pass_1 = frame[frame.k == 1].set_index(["model", "variant"])["pass_hat_k"]
    for r in paired.itertuples():
        variant = r.variant
        assert r.difference == pytest.approx(
            pass_1["oracle", variant] - pass_1["eager", variant]
        )  # the same tasks on both sides: the mean difference is the difference of means
        assert r.difference_lo <= r.difference <= r.difference_hi
    ambiguous = paired[paired.variant == "ambiguous"].iloc[0]
    assert (ambiguous.difference, ambiguous.difference_lo) == (1.0, 1.0)  # won every task
    base = paired[paired.variant == "base"].iloc[0]
    assert (base.difference_lo, base.difference_hi) == (0.0, 0.0)
    overall = paired.iloc[-1]
    assert overall.tasks == 16 and overall.difference_lo > 0
    with pytest.raises(T2TError, match="baseline 'nobody'"):
        paired_differences(played, baseline="nobody")


def test_cli_compare_writes_the_paired_differences(oracle_run, tmp_path, capsys):
    import pandas as pd

    tasks_path, _ = oracle_run
    assert _compare(tasks_path, tmp_path, "--model", "e=t2t/eager", "--baseline", "e") == 0
    printed = capsys.readouterr().out
    assert "compare_paired.csv" in printed and "paired by task" in printed
    assert "1.00 [1.00, 1.00]" in printed  # the table's cells carry their interval
    paired = pd.read_csv(tmp_path / "compare_paired.csv")
    assert set(paired.model) == {"a"} and set(paired.baseline) == {"e"}
    frame = pd.read_csv(tmp_path / "compare.csv")
    pass_1 = frame.set_index(["model", "variant"])["pass_hat_k"]
    overall = paired.iloc[-1]
    assert (overall.task_set, overall.variant) == ("all", "all")
    assert overall.difference == pytest.approx(pass_1["a", "all"] - pass_1["e", "all"])
    assert _compare(tasks_path, tmp_path / "x", "--baseline", "nobody") == 2
    assert "baseline 'nobody'" in capsys.readouterr().err


def test_compare_when_every_episode_is_an_infra_error(oracle_run, tmp_path, monkeypatch):
    from t2t.finetune.compare import compare_models

    monkeypatch.setenv("T2T_RETRY_WAIT_S", "0")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    tasks_path, _ = oracle_run
    tasks, env = open_task_set(tasks_path, limit=1)
    params = {"api_base": "http://127.0.0.1:9/v1"}  # nothing listens: every call fails
    try:
        compare_models(
            {"down": "openai/gpt-4o-mini"},
            {"retail": (tasks, env)},
            tmp_path,
            agent_params=params,
            progress=False,
        )
    except T2TError:
        pass  # a clear error is fine; a KeyError is not


# ------------------------------------------------------------------------------- train


def test_a_killed_run_with_default_settings_resumes(tmp_path):
    from t2t.finetune.train import _resume

    config = TrainConfig(base="base", data="data")
    checkpoints = tmp_path / "checkpoints"
    assert _resume(checkpoints, config, tmp_path, force=False) is None  # first start
    (checkpoints / "checkpoint-1").mkdir()  # ... then killed after one epoch
    assert _resume(checkpoints, config, tmp_path, force=False) is True
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "train.jsonl").write_text("{}\n")  # the export was redone
    with pytest.raises(T2TError, match="other settings or data"):
        _resume(checkpoints, config, tmp_path, force=False)


# ------------------------------------------------------------------------------- needs torch


@pytest.fixture(scope="module")
def tiny(oracle_run, tmp_path_factory):
    pytest.importorskip("trl")
    from t2t.finetune.tiny_model import build_tiny_model, corpus

    tasks_path, results = oracle_run
    root = tmp_path_factory.mktemp("review-tiny")
    data = root / "sft"
    export_sft([results], [tasks_path], data, per_task=1, test_fraction=0.25)
    return data, build_tiny_model(root / "tiny", corpus(data))


def test_cli_train_resumes_after_a_kill(tiny, tmp_path, capsys):
    data, base = tiny
    out = tmp_path / "m"
    argv = ["train", "-q", "--base", str(base), "--data", str(data), "--out", str(out)]
    argv += ["--max-examples", "1", "--epochs", "1"]
    assert main(argv) == 0
    (out / "t2t_train.json").unlink()  # killed after the last checkpoint, before the end
    assert main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize("body", ['[{"name": "get_user_details"}]', '"get_user_details"'])
def test_parse_reply_of_a_tool_call_that_is_not_an_object(tiny, body):
    from t2t.llm.hf_local import parse_reply
    from t2t.llm.hf_models import load_tokenizer, with_response_parser

    _, base = tiny
    tokenizer = with_response_parser(load_tokenizer(base), "tiny")
    text = f"<tool_call>\n{body}\n</tool_call><|im_end|>"
    message = parse_reply(tokenizer, text, "<|im_start|>assistant\n", [])
    assert message.role == "assistant"


def test_a_model_retrained_in_place_is_reloaded(tiny, tmp_path):
    import torch

    from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model, corpus
    from t2t.llm import hf_local as local_model
    from t2t.llm.hf_models import load_causal_lm

    data, _ = tiny
    folder = tmp_path / "model"
    build_tiny_model(folder, corpus(data), TinyModelConfig(seed=0))
    model = f"hf-local/{folder}"
    local_model.register_local_model(model)
    from t2t.llm import complete_sync

    complete_sync(model, [Message(role="user", content="hi")], cache=False, max_tokens=2)
    build_tiny_model(folder, corpus(data), TinyModelConfig(seed=1), force=True)
    complete_sync(model, [Message(role="user", content="hi")], cache=False, max_tokens=2)
    serving = local_model._load(str(folder)).model.state_dict()
    on_disk = load_causal_lm(folder).state_dict()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(serving[name], on_disk[name])


def test_tiny_model_out_is_a_file(tiny, tmp_path, capsys):
    data, _ = tiny
    file = tmp_path / "taken"
    file.write_text("x")
    assert main(["tiny-model", "--data", str(data), "--out", str(file)]) == 2


@pytest.mark.parametrize(("field", "value"), [("limit", 0), ("limit", -3), ("max_tokens", 0)])
def test_compare_task_sets_refuses_counts_below_one_before_any_work(tmp_path, field, value):
    """The API checks what the CLI checked: no silent run of nothing for limit=0."""
    from t2t.core.errors import ConfigError
    from t2t.finetune import compare

    with pytest.raises(ConfigError, match=f"{field} must be at least 1, not {value}"):
        compare.compare_task_sets(
            ["a=t2t/oracle"], tmp_path / "missing.jsonl", tmp_path, **{field: value}
        )
