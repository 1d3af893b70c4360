"""The run config: every shipped config and stored-config format loads; keys may be grouped in
sections; every value is checked against its stated type and range in one line, before any work."""
import json
import sqlite3
from pathlib import Path

import pytest

from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.evolve.config import SECTIONS, RunConfig, config_keys, from_dict, load_config, parse_override
from evoproxy.evolve.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig) and from_dict(cfg.to_dict()) == cfg


def test_the_sections_name_every_key_once():
    named = [k for keys in SECTIONS.values() for k in keys]
    assert sorted(named) == sorted(config_keys()) and len(named) == len(set(named))


def test_sections_and_flat_keys_give_the_same_config(tmp_path):
    (tmp_path / "s.toml").write_text('[evolution]\npopulation = 12\n[language]\nstats = ["grad"]\n'
                                     '[task]\nbenchmarks = ["synthetic"]\n')
    (tmp_path / "f.toml").write_text('population = 12\nstats = ["grad"]\nbenchmarks = ["synthetic"]\n')
    assert load_config(tmp_path / "s.toml") == load_config(tmp_path / "f.toml")


@pytest.mark.parametrize("values, says", [
    ({"evolution": {"stats": ["grad"]}}, "[evolution] has no key(s) stats"),
    ({"population": 4, "evolution": {"population": 5}}, "given twice"),
])
def test_a_key_under_the_wrong_section_is_one_line(values, says):
    with pytest.raises(EvoproxyError) as err:
        from_dict(values)
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("key, value", [("threads", 1_000_000), ("threads", 4097), ("max_depth", 300),
                                        ("max_depth", 1_000_000), ("split_seed", 1e20), ("seed", -1),
                                        ("population", 10 ** 9), ("offspring", 10 ** 9), ("population", True),
                                        ("generations", 10 ** 12), ("batch_size", 0), ("top_frac", 0),
                                        ("p_crossover", 1.5), ("timeout_s", float("inf")), ("timeout_s", 0),
                                        ("max_minutes", float("nan")), ("stats", []), ("ops", [""]),
                                        ("selection", "nope"), ("backend", "nope"), ("workers", "2"),
                                        ("memory_mb", 2 ** 40), ("fitness", "pearson"), ("combine", 3)])
def test_every_bad_value_is_refused_in_one_line_naming_the_key(key, value):
    with pytest.raises(EvoproxyError) as err:
        RunConfig().replace(**{key: value})
    msg = str(err.value)
    assert msg.startswith("bad config: ") and key in msg and "\n" not in msg


def test_out_of_range_set_values_fail_before_any_work(tmp_path, capsys):
    out = tmp_path / "r"
    for item in ["threads=1000000", "max_depth=300", "split_seed=1e20", "population=1000000000000"]:
        assert main(["search", "--benchmark", "synthetic", "--set", item, "--out", str(out)]) == 2
        assert "bad config" in capsys.readouterr().err
    assert not out.exists()


def test_set_values_read_as_toml():
    assert parse_override("stats=[\"grad\"]") == ("stats", ["grad"])
    assert parse_override("probe=cifar10") == ("probe", "cifar10")


def test_a_stored_run_config_loads_and_resumes(tmp_path):
    """A run store's config as earlier versions stored it (flat JSON, every key) reads back."""
    old = {**RunConfig().identity(), "benchmarks": ["synthetic"], "generations": 1, "population": 6,
           "offspring": 2, "search_archs": 8, "selection_archs": 6, "holdout_archs": 6, "screen_archs": 4,
           "baselines": ["params"], "ensemble_size": 0, "hall_of_fame": 1}
    assert main(["search", "--config", str(_toml(tmp_path / "c.toml", old)), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    with sqlite3.connect(tmp_path / "r" / "run.sqlite") as db:
        stored = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert from_dict(stored) == from_dict(old)
    assert load_config(tmp_path / "r" / "config.toml").identity() == from_dict(old).identity()
    assert main(["search", "--resume", str(tmp_path / "r"), "--generations", "2", "--quiet"]) == 0
    with RunStore(tmp_path / "r", create=False) as store:
        assert store.last_generation() == 2


def _toml(path: Path, values: dict) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
    return path
