"""The generation pipeline: same bytes for any worker count, resumable, honest in its report."""

import json
import os
import shutil
from collections import Counter

import pytest
from pydantic import ValidationError

import t2t
from t2t.core.errors import ConfigError
from t2t.core.files import read_tasks
from t2t.core.replay import verify_task
from t2t.generate import GenerateConfig, generate_tasks, walk_seed
from t2t.intents import check_variant
from t2t.tasks.tau2 import db_sha256, read_tau2_tasks

KINDS = ("base", "ambiguous", "changing", "infeasible")
OLD = 1_000_000  # an mtime no run of this suite can produce


def config(**kw):
    return GenerateConfig(**{"domain": "retail", "scale": "small", "n": 40, "chunk_size": 8, **kw})


def run(cfg, out, **kw):
    return generate_tasks(cfg, out, workers=kw.pop("workers", 1), progress=False, **kw)


def chunks(out):
    return sorted((out / "parts").glob("chunk-*.jsonl"))


def age(paths):
    for path in paths:
        os.utime(path, (OLD, OLD))


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A finished retail run of 40 tasks: (folder, report)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    return out, run(config(), out)


# ------------------------------------------------------------------ outputs


def test_the_yield_report_adds_up(reference):
    out, report = reference
    cfg = config()
    assert report.kept == cfg.quotas() == {kind: 10 for kind in KINDS}
    assert report.total_kept == cfg.n
    assert report.walks >= report.explored == report.converted
    assert report.walks == len(chunks(out)) * cfg.chunk_size
    for kind in KINDS:
        verified = report.verified.get(kind, 0)
        assert report.kept[kind] <= verified - report.duplicates.get(kind, 0)
        assert verified <= report.built.get(kind, 0) <= report.walks
        assert verified + sum(report.dropped[kind].values()) == report.walks
    assert json.loads((out / "yield.json").read_text()) == report.model_dump(mode="json")
    assert report.config_hash == cfg.config_hash()


def test_tasks_are_unique_of_every_kind_and_in_walk_order(reference):
    out, _ = reference
    rows = [json.loads(line) for line in lines(out / "tasks.jsonl")]
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids) == 40 and ids == sorted(ids)
    kinds = Counter(row["variant"]["kind"] for row in rows)
    assert kinds == {kind: 10 for kind in KINDS}
    for row in rows:
        assert row["id"].endswith("-" + row["variant"]["kind"])
        assert row["id"].startswith("retail-0-")


def test_every_written_task_replays_on_the_written_db(reference):
    out, report = reference
    db = json.loads((out / "db.json").read_text())
    assert db_sha256(db) == report.db_sha256
    env = t2t.load_domain("retail").environment(db)
    for task in read_tasks(out / "tasks.jsonl"):
        assert verify_task(task, env).ok, task.id
        assert check_variant(task, env).ok, task.id


def test_the_tau2_export_loads_with_the_same_gold(reference):
    out, _ = reference
    tasks = read_tasks(out / "tasks.jsonl")
    exported = read_tau2_tasks(out / "tau2" / "tasks.json")
    assert [t.id for t in exported] == [t.id for t in tasks]
    assert [t.gold_calls for t in exported] == [t.gold_calls for t in tasks]
    raw = json.loads((out / "tau2" / "tasks.json").read_text())
    assert not any({"variant", "provenance"} & row.keys() for row in raw)


def test_workers_do_not_change_a_byte(reference, tmp_path):
    out, _ = reference
    parallel = tmp_path / "parallel"
    run(config(), parallel, workers=2)
    for name in ("tasks.jsonl", "tau2/tasks.json", "db.json", "yield.json", "manifest.json"):
        assert (parallel / name).read_bytes() == (out / name).read_bytes(), name
    assert [p.read_bytes() for p in chunks(parallel)] == [p.read_bytes() for p in chunks(out)]


# ------------------------------------------------------------------ resuming


def test_a_damaged_run_resumes_to_the_same_tasks(reference, tmp_path):
    out, _ = reference
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    parts = chunks(copy)
    assert len(parts) >= 3
    age(parts)
    deleted, cut = parts[1], parts[2]
    original = deleted.read_bytes()
    deleted.unlink()
    kept = lines(cut)
    cut.write_text("\n".join(kept[: len(kept) // 2]) + "\n", encoding="utf-8")
    run(config(), copy)
    assert (copy / "tasks.jsonl").read_bytes() == (out / "tasks.jsonl").read_bytes()
    assert deleted.read_bytes() == original
    assert len(lines(cut)) == len(kept)
    recomputed = {p.name for p in chunks(copy) if p.stat().st_mtime != OLD}
    assert recomputed == {deleted.name, cut.name}


def test_a_chunk_cut_mid_line_is_recomputed(reference, tmp_path):
    out, _ = reference
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    cut = chunks(copy)[0]
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    run(config(), copy)
    assert (copy / "tasks.jsonl").read_bytes() == (out / "tasks.jsonl").read_bytes()


def test_asking_for_more_tasks_resumes_without_redoing_chunks(reference, tmp_path):
    out, _ = reference
    grown = tmp_path / "run"
    small = run(config(n=12), grown)
    first = chunks(grown)
    assert small.kept == {kind: 3 for kind in KINDS}
    few = {json.loads(line)["id"] for line in lines(grown / "tasks.jsonl")}
    age(first)
    run(config(), grown)
    assert all(p.stat().st_mtime == OLD for p in first)
    assert len(chunks(grown)) > len(first)
    assert (grown / "tasks.jsonl").read_bytes() == (out / "tasks.jsonl").read_bytes()
    many = {json.loads(line)["id"] for line in lines(out / "tasks.jsonl")}
    assert len(few) == 12 and few < many  # fewer tasks are the first ones of the same walks


def test_other_settings_in_the_same_folder_need_force(reference, tmp_path):
    folder = tmp_path / "run"
    base_only = {"n": 4, "variants": ("base",)}
    run(config(**base_only), folder)
    before = (folder / "tasks.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="--force"):
        run(config(**base_only, seed=1), folder)
    assert (folder / "tasks.jsonl").read_bytes() == before
    run(config(**base_only, seed=1), folder, force=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 1
    rows = [json.loads(line) for line in lines(folder / "tasks.jsonl")]
    assert all(row["id"].startswith("retail-1-") for row in rows)


def test_a_folder_that_is_no_task_set_is_not_overwritten(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a t2t task set"):
        run(config(n=4), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run(config(n=4), a_file)


def test_an_unknown_scale_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no scale 'huge'"):
        run(config(scale="huge"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ the config


def test_config_rejects_unknown_kinds_and_dedupes():
    with pytest.raises(ValidationError, match="unknown variant kinds"):
        GenerateConfig(variants=("base", "sarcastic"))
    with pytest.raises(ValidationError):
        GenerateConfig(variants=())
    with pytest.raises(ValidationError):
        GenerateConfig(n=0)
    assert GenerateConfig(variants=("base", "base", "changing")).variants == ("base", "changing")


def test_quotas_share_n_over_the_kinds():
    for n in range(1, 30):
        quotas = GenerateConfig(n=n).quotas()
        assert sum(quotas.values()) == n and max(quotas.values()) - min(quotas.values()) <= 1


def test_the_config_hash_ignores_only_n():
    assert config(n=5).config_hash() == config(n=500).config_hash()
    for change in ({"seed": 1}, {"db_seed": 1}, {"chunk_size": 9}, {"variants": ("base",)}):
        assert config(**change).config_hash() != config().config_hash(), change


def test_walk_seeds_are_stable_and_distinct():
    seeds = [walk_seed(0, i) for i in range(1000)]
    assert len(set(seeds)) == 1000 and all(0 <= s < 2**63 for s in seeds)
    assert walk_seed(0, 5) == walk_seed(0, 5) != walk_seed(1, 5)


def test_a_domain_with_no_database_at_all_is_a_config_error(tmp_path):
    """A domain registered in code with neither a generator nor a default DB: one clear error."""
    from t2t.core.environment import Domain
    from t2t.core.errors import ConfigError
    from t2t.domain.loader import load_domain, register_domain
    from t2t.generate import GenerateConfig, generate_tasks

    retail = load_domain("retail")
    bare = Domain(name="bare_no_db", tools=retail.tools, policy=retail.policy)
    register_domain(bare)
    with pytest.raises(ConfigError, match="neither a generator nor a default DB"):
        generate_tasks(GenerateConfig(domain="bare_no_db", n=4), tmp_path / "out", progress=False)
