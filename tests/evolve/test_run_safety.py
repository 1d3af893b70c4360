"""A search validates everything before writing, never strands a directory, takes one writer per run,
leaves a finished run untouched and turns a damaged run store into one line."""
import hashlib
import sqlite3

import pytest

from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.evolve.store.lock import RunLock

CONFIG = "experiments/synthetic.toml"


def _run(*args):
    return main(["search", "--config", CONFIG, "--quiet", *args])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("evoproxy: error:"), err
    return err


@pytest.mark.parametrize("bad,names", [
    ('fitness="x"', "fitness"), ("generations=2.5", "generations"), ("seed=-1", "seed"),
    ("seed=1979-05-27", "seed"), ("threads=0", "threads"), ("timeout_s=-1", "timeout_s"), ("stats=[]", "stats"),
    ("ops=[]", "ops"), ("benchmarks=[]", "benchmarks"), ("max_depth=-1", "max_depth"),
    ('baselines=["nosuch"]', "nosuch"), ('stats=["nosuch"]', "nosuch"), ('device="nosuch"', "nosuch"),
    ("workers=0", "workers")])
def test_a_bad_config_is_one_line_naming_the_key_and_leaves_nothing(tmp_path, capsys, bad, names):
    assert _run("--set", bad, "--out", str(tmp_path / "R")) == 2
    assert names in _one_line(capsys) and not (tmp_path / "R").exists()


def test_a_non_utf8_config_is_one_line(tmp_path, capsys):
    (tmp_path / "c.toml").write_bytes(b"population = 4\n# \xff\xfe\n")
    assert main(["search", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "R")]) == 2
    assert "UTF-8" in _one_line(capsys)


def test_a_run_that_fails_to_start_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    from evoproxy.app import search
    def broken(*a, **k):
        raise EvoproxyError("no backend today")
    monkeypatch.setattr(search, "make_backend", broken)
    assert _run("--out", str(tmp_path / "R")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "evoproxy: error: no backend today"
    assert not (tmp_path / "R").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "S"
    assert _run("--generations", "2", "--out", str(out)) == 0
    return out


def _digest(path):
    return hashlib.sha256((path / "run.sqlite").read_bytes()).hexdigest()


def test_resuming_a_finished_run_changes_nothing(finished, capsys):
    before = _digest(finished)
    assert main(["search", "--resume", str(finished), "--quiet"]) == 0
    assert "is finished" in capsys.readouterr().err and _digest(finished) == before


def test_resume_refuses_another_config_and_a_second_writer(finished, capsys):
    assert main(["search", "--resume", str(finished), "--config", CONFIG]) == 2
    assert "drop --config" in _one_line(capsys)
    lock = RunLock(finished)
    try:
        assert main(["search", "--resume", str(finished), "--generations", "3", "--quiet"]) == 2
        assert "in use by another evoproxy search" in _one_line(capsys)
    finally:
        lock.release()


def test_export_top_zero_and_an_unstarted_run(finished, tmp_path, capsys):
    assert main(["export", str(finished), "--top", "0"]) == 2
    assert "--top" in _one_line(capsys)
    from evoproxy.evolve.store import RunStore
    RunStore(tmp_path / "E").close()       # a store with no config: a run that never started
    assert main(["search", "--resume", str(tmp_path / "E")]) == 2
    assert "no started run" in _one_line(capsys)


@pytest.mark.parametrize("damage", ["garbage", "config", "population", "state", "report"])
def test_a_damaged_run_store_is_one_line(finished, tmp_path, capsys, damage):
    import shutil
    run = tmp_path / "D"
    shutil.copytree(finished, run)
    if damage == "garbage":
        data = bytearray((run / "run.sqlite").read_bytes())
        data[len(data) // 3:len(data) // 3 + 8192] = b"\x42" * 8192
        (run / "run.sqlite").write_bytes(bytes(data))
    else:
        sql = {"config": "UPDATE meta SET value='{bad' WHERE key='config'",
               "population": "UPDATE generations SET population='[{\"x\": 1}]'",
               "state": "UPDATE generations SET state='[1, 2'",
               "report": "UPDATE meta SET value='{\"hall_of_fame\": 3}' WHERE key='report'"}[damage]
        with sqlite3.connect(run / "run.sqlite") as conn:
            conn.execute(sql)
    codes = [main(["export", str(run)]), main(["search", "--resume", str(run), "--generations", "4", "--quiet"])]
    err = capsys.readouterr().err
    assert "Traceback" not in err and 2 in codes
    assert all(line.startswith("evoproxy: error:") for line in err.strip().splitlines() if "error" in line)
    assert "damaged" in err


def test_a_full_disk_mid_search_says_to_free_space_and_resume_not_that_the_store_is_damaged(tmp_path, capsys,
                                                                                            monkeypatch):
    from evoproxy.evolve.store.runstore import RunStore
    commit = RunStore.commit_generation

    def full_at_generation_2(self, g, *args):
        if g == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return commit(self, g, *args)
    monkeypatch.setattr(RunStore, "commit_generation", full_at_generation_2)
    out = tmp_path / "R"
    assert _run("--generations", "3", "--out", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("evoproxy: error:") and "free some disk space" in err and f"--resume {out}" in err
    assert "damaged" not in err
    monkeypatch.setattr(RunStore, "commit_generation", commit)   # space freed: the run goes on from generation 2
    assert main(["search", "--resume", str(out), "--quiet"]) == 0
    assert len((out / "generations.csv").read_text().strip().splitlines()) == 1 + 4


def _full(*args, **kw):
    raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("where", ["generation 0", "the run folder's CSVs", "the final report"])
def test_a_full_disk_anywhere_in_a_search_is_one_line_with_advice_that_works(tmp_path, capsys, monkeypatch, where):
    import errno
    from evoproxy.evolve.store import rundir
    from evoproxy.evolve.store.runstore import RunStore
    out = tmp_path / "R"
    if where == "generation 0":          # nothing stored: the folder goes, so the advice is to start again
        monkeypatch.setattr(RunStore, "commit_generation", _full)
    elif where == "the run folder's CSVs":
        calls = []

        def write_generations(*args, **kw):
            calls.append(1)
            if len(calls) > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(rundir, "write_generations", write_generations)
    else:
        monkeypatch.setattr(RunStore, "save_hall_of_fame", _full)
    assert _run("--generations", "3", "--out", str(out)) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("evoproxy: error: cannot write to run") and "free some" in last
    if where == "generation 0":
        assert "start the run again" in last and not out.exists()
    else:
        assert f"--resume {out}" in last
        monkeypatch.undo()
        assert main(["search", "--resume", str(out), "--quiet"]) == 0


def test_a_disk_too_full_to_create_the_run_store_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    from evoproxy.evolve.store import runstore
    monkeypatch.setattr(runstore, "open_readwrite", _full)
    assert _run("--out", str(tmp_path / "R")) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "start the run again" in last and not (tmp_path / "R").exists()
