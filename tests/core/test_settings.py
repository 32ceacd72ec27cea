"""t2t.core.settings: model settings without secrets, config files, `T2T_*` overrides."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from t2t.core.errors import ConfigError, DataError
from t2t.core.settings import (
    ModelSettings,
    cache_dir,
    is_secret_key,
    load_model_settings,
    model_timeout_s,
    read_config_file,
    retry_wait_s,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-1234567890abcdef"


def test_completion_params_use_litellm_names_and_leave_out_nones():
    settings = ModelSettings(
        model="openai/gpt-4o-mini", temperature=0.0, seed=3, params={"top_p": 0.9}, timeout_s=30
    )
    assert settings.completion_params() == {
        "temperature": 0.0,
        "seed": 3,
        "top_p": 0.9,
        "timeout": 30,
    }
    assert ModelSettings(model="m").completion_params() == {"timeout": 120}


def test_defaults_are_offline_and_settings_are_frozen():
    settings = ModelSettings(model="m")
    assert (settings.max_retries, settings.concurrency, settings.timeout_s) == (4, 32, 120)
    assert settings.input_cost_per_token is None and settings.params == {}
    with pytest.raises(ValidationError):
        settings.temperature = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        ModelSettings(model="m", temprature=0.0)


@pytest.mark.parametrize(
    "key", ["api_key", "apikey", "aws_secret_access_key", "azure_ad_token", "vertex_credentials"]
)
def test_secrets_are_refused_in_params_naming_the_key(key):
    with pytest.raises(ConfigError) as info:
        ModelSettings(model="m", params={key: SECRET})
    message = str(info.value)
    assert f"params.{key}" in message and "environment" in message
    assert SECRET not in message


def test_a_top_level_api_key_is_refused_before_any_other_check():
    with pytest.raises(ConfigError, match="api_key.*environment"):
        load_model_settings({"model": "m", "api_key": SECRET}, where="models.toml")


@pytest.mark.parametrize(
    "key", ["max_completion_tokens", "stop_token_ids", "top_p", "tool_choice", "reasoning_effort"]
)
def test_ordinary_params_are_not_taken_for_secrets(key):
    assert not is_secret_key(key)
    assert ModelSettings(model="m", params={key: 1}).params == {key: 1}


def test_our_own_token_fields_are_not_taken_for_secrets():
    data = {"model": "m", "max_tokens": 5, "input_cost_per_token": 1e-6, "output_cost_per_token": 0}
    settings = load_model_settings(data, where="cfg")
    assert (settings.max_tokens, settings.input_cost_per_token) == (5, 1e-6)


@pytest.mark.parametrize("key", ["temperature", "timeout", "model", "max_retries"])
def test_typed_settings_do_not_hide_in_params(key):
    with pytest.raises(ConfigError, match=f"params.{key}"):
        ModelSettings(model="m", params={key: 1})


def test_load_model_settings_names_where_and_the_field():
    assert load_model_settings("openai/gpt-4o", where="--model") == ModelSettings(
        model="openai/gpt-4o"
    )
    with pytest.raises(ConfigError, match=r"^models.yaml: temperature: .*greater than or equal"):
        load_model_settings({"model": "m", "temperature": -1}, where="models.yaml")
    with pytest.raises(ConfigError, match=r"^cfg: temprature: Extra inputs"):
        load_model_settings({"model": "m", "temprature": 0}, where="cfg")
    with pytest.raises(ConfigError, match=r"^cfg: model: Field required"):
        load_model_settings({}, where="cfg")


# ---------------------------------------------------------------------------------- files


def test_toml_and_yaml_files_read_the_same(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('model = "openai/x"\ntemperature = 0.5\n[params]\ntop_p = 0.9\n')
    yaml_file = tmp_path / "m.yaml"
    yaml_file.write_text("model: openai/x\ntemperature: 0.5\nparams:\n  top_p: 0.9\n")
    assert read_config_file(toml) == read_config_file(yaml_file)
    assert load_model_settings(read_config_file(toml), where=str(toml)).params == {"top_p": 0.9}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "model = ", "not valid TOML"),
        ("bad.yaml", "model: [unclosed\n", "not valid YAML"),
        ("list.yml", "- a\n- b\n", "expected a mapping of settings, found list"),
        ("empty.yaml", "", "expected a mapping of settings, found NoneType"),
        ("scalar.toml", "", None),  # an empty TOML file is an empty mapping
        ("model.json", "{}", "ends in .toml, .yaml or .yml"),
    ],
)
def test_bad_config_files_are_one_line_data_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    if message is None:
        assert read_config_file(path) == {}
        return
    with pytest.raises(DataError) as info:
        read_config_file(path)
    assert info.value.file == str(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_missing_config_file_names_it(tmp_path):
    with pytest.raises(DataError, match="not found") as info:
        read_config_file(tmp_path / "nope.toml")
    assert info.value.file == str(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------- environment


def test_model_timeout_from_the_environment(monkeypatch):
    monkeypatch.delenv("T2T_MODEL_TIMEOUT_S", raising=False)
    assert model_timeout_s() == 120
    monkeypatch.setenv("T2T_MODEL_TIMEOUT_S", "7.5")
    assert model_timeout_s() == 7.5
    monkeypatch.setenv("T2T_MODEL_TIMEOUT_S", "a while")
    with pytest.raises(ConfigError, match="T2T_MODEL_TIMEOUT_S must be a number"):
        model_timeout_s()


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_retry_wait_rejects_non_numbers_and_negatives(monkeypatch, raw):
    monkeypatch.setenv("T2T_RETRY_WAIT_S", raw)
    with pytest.raises(ConfigError, match="T2T_RETRY_WAIT_S"):
        retry_wait_s()


def test_retry_wait_from_the_environment(monkeypatch):
    monkeypatch.delenv("T2T_RETRY_WAIT_S", raising=False)
    assert retry_wait_s() == 1.0
    monkeypatch.setenv("T2T_RETRY_WAIT_S", "0")
    assert retry_wait_s() == 0.0


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("T2T_CACHE_DIR", raising=False)
    assert cache_dir() is None
    monkeypatch.setenv("T2T_CACHE_DIR", "  ")
    assert cache_dir() is None
    monkeypatch.setenv("T2T_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("T2T_CACHE_DIR", "~/cache")
    assert cache_dir() == tmp_path / "cache"


def test_importing_settings_loads_no_yaml_or_litellm():
    code = "import json, sys\nimport t2t.core.settings\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded = {m.split(".")[0] for m in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert not loaded & {"yaml", "litellm", "diskcache", "tenacity"}
