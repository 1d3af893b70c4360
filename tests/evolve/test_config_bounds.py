"""Every number in the config has a stated maximum (issue 39): a value past it is one line naming the key
and its range, exit 2, before any work and with no run folder; ``threads`` above the cores is capped at
them with one note, and the capped value is what reaches torch."""
import warnings

import pytest

from evoproxy.cli import main
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.evolve.config import RunConfig, allowed, config_keys
from evoproxy.scoring.cores import usable_cores

CONFIG = "experiments/synthetic.toml"


def test_every_numeric_key_states_a_maximum():
    numeric = [k for k in config_keys() if allowed(k) is not None]
    assert len(numeric) >= 20
    assert [k for k in numeric if " to " not in allowed(k) and "<=" not in allowed(k)] == []


@pytest.mark.parametrize("item, key, says", [
    ("threads=1000000", "threads", "from 1 to 4,096"),
    ("max_depth=300", "max_depth", "from 1 to 32"),
    ("max_depth=1e6", "max_depth", "from 1 to 32"),
    ("max_size=1000000", "max_size", "from 1 to 500"),
    ("split_seed=1e20", "split_seed", "from 0 to 4,294,967,295"),
    ("seed=100000000000000000000", "seed", "from 0 to 4,294,967,295"),
    ("population=1000000000", "population", "from 2 to 2,000"),
    ("offspring=1000000000", "offspring", "from 1 to 2,000"),
    ("tournament_size=1000000000", "tournament_size", "from 1 to 2,000"),
    ("generations=1000000000000", "generations", "from 0 to 100,000"),
    ("search_archs=1000000000", "search_archs", "from 2 to 100,000"),
    ("hall_of_fame=1000000", "hall_of_fame", "from 1 to 100"),
    ("ensemble_size=1000000", "ensemble_size", "from 0 to 64"),
    ("batch_size=1000000", "batch_size", "from 1 to 4,096"),
    ("workers=1000000", "workers", "from 1 to 1,024"),
    ("memory_mb=1099511627776", "memory_mb", "from 1 to 16,777,216"),
    ("timeout_s=1e9", "timeout_s", "> 0 and <= 86,400"),
    ("max_minutes=1e9", "max_minutes", "> 0 and <= 525,600"),
    ("same_behaviour=2.0", "same_behaviour", "> 0 and <= 1"),
])
def test_a_value_past_its_maximum_is_one_line_with_the_range_and_no_folder(tmp_path, capsys, item, key, says):
    assert main(["search", "--config", CONFIG, "--quiet", "--set", item, "--out", str(tmp_path / "R")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("evoproxy: error: bad config: "), err
    assert f"{key} = " in err and says in err
    assert not (tmp_path / "R").exists()


@pytest.mark.parametrize("flag", [["--population", str(10 ** 12)], ["--generations", str(10 ** 12)],
                                  ["--workers", str(10 ** 9)], ["--max-minutes", "1e12"]])
def test_a_flag_past_its_maximum_is_refused_the_same_way(tmp_path, capsys, flag):
    assert main(["search", "--config", CONFIG, "--quiet", *flag, "--out", str(tmp_path / "R")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "must be" in err and flag[0].lstrip("-").replace("-", "_") in err
    assert not (tmp_path / "R").exists()


def test_threads_above_the_cores_are_capped_with_one_note():
    from evoproxy.app.search import eval_setup
    with pytest.warns(EvoproxyNote, match="threads = 4096") as notes:
        setup = eval_setup(RunConfig(threads=4096))
    assert len([n for n in notes if issubclass(n.category, EvoproxyNote)]) == 1
    assert setup.scoring.threads == usable_cores()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvoproxyNote)   # at or below the cores: no note, the value unchanged
        assert eval_setup(RunConfig(threads=1)).scoring.threads == 1


def test_a_search_with_threads_4096_runs_on_the_cores_and_says_so_once(tmp_path, capsys, monkeypatch):
    import torch

    from evoproxy.scoring import worker
    seen = []
    real = worker.Worker.__init__

    def spy(self, setup, *args, **kwargs):   # the run's worker: what it set torch to, then the run stops
        real(self, setup, *args, **kwargs)
        seen.append(torch.get_num_threads())
        raise EvoproxyError("stopped once the worker started")
    monkeypatch.setattr(worker.Worker, "__init__", spy)
    before = torch.get_num_threads()
    try:
        assert main(["search", "--config", CONFIG, "--quiet", "--set", "threads=4096", "--out",
                     str(tmp_path / "R")]) == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [min(usable_cores(), 4096)]
    err = capsys.readouterr().err
    assert "stopped once the worker started" in err and not (tmp_path / "R").exists()
    notes = [line for line in err.splitlines() if line.startswith("note: threads")]
    assert len(notes) == 1 and f"the {usable_cores()} cores here" in notes[0]
