"""Run folders as users leave them (issue 39): read-only ones can be read, a failed new run leaves nothing,
`runs` lists every run once and never stops at a bad one, an edited config.toml is kept on resume, and a
report is never written through a symbolic link."""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

from evoproxy.cli import main
from evoproxy.evolve.store import RunStore

CONFIG = "experiments/synthetic.toml"


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("evoproxy: error:"), err
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "S"
    assert main(["search", "--config", CONFIG, "--generations", "2", "--quiet", "--out", str(out)]) == 0
    return out


def _copy(finished, where):
    where.mkdir(parents=True, exist_ok=True)
    shutil.copytree(finished, where / "S")
    return where / "S"


def _reading_commands(run, out):
    return [["status", str(run)], ["runs", str(run.parent)], ["export", str(run), "--format", "text"],
            ["report", str(run), "--out", str(out)]]


def _tree(path):
    return sorted((p.relative_to(path), p.stat().st_size) for p in path.rglob("*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes: the bind-mount test below covers root")
def test_a_read_only_run_folder_can_be_read_chmod(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "ro")
    before = _tree(run)
    modes = [(p, p.stat().st_mode) for p in [*run.iterdir(), run, run.parent]]
    for p, mode in modes:
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        codes = [main(argv) for argv in _reading_commands(run, tmp_path / "rep")]
        assert _tree(run) == before            # nothing was written into the folder
    finally:
        for p, mode in reversed(modes):
            p.chmod(mode)
    out = capsys.readouterr()
    assert codes == [0, 0, 0, 0], out.err
    assert "finished" in out.out and (tmp_path / "rep" / "index.html").is_file()


def _can_bind_read_only(tmp_path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    cmd = f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} {probe} && ! touch {probe}/x"
    try:
        return subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a read-only bind mount (the chmod test runs instead)")
def test_a_read_only_run_folder_can_be_read_bind_mount(finished, tmp_path):
    """As root, chmod changes nothing, so the folder is made read-only by a read-only bind mount in a private
    mount namespace (``unshare -m``); each command runs as the CLI in that namespace."""
    if not _can_bind_read_only(tmp_path):
        pytest.skip("no read-only bind mount here (unshare/mount refused); the monkeypatched test covers the store")
    run = _copy(finished, tmp_path / "ro")
    folder = run.parent
    argvs = [*_reading_commands(run, tmp_path / "rep"), ["report", str(run)]]   # the last: RUN/report, read-only
    script = tmp_path / "commands.py"   # one interpreter for every command (one torch import)
    script.write_text(f"from evoproxy.cli import main\nprint('codes', [main(a) for a in {argvs!r}])\n")
    steps = [f"mount --bind {folder} {folder}", f"mount -o remount,bind,ro {folder} {folder}",
             f"cd {os.getcwd()}", f"{sys.executable} {script}"]
    done = subprocess.run(["unshare", "-m", "sh", "-c", " && ".join(steps)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "codes [0, 0, 0, 0, 2]" in done.stdout, done.stderr[-2000:]
    assert "finished" in done.stdout and "layer_sum" in done.stdout
    assert (tmp_path / "rep" / "index.html").is_file() and "Traceback" not in done.stderr
    assert "--out" in done.stderr.strip().splitlines()[-1]   # the default RUN/report: one line asking for --out
    assert not (run / "report").exists() and not (run / "run.sqlite-shm").exists()


def test_reading_commands_never_open_the_store_for_writing(finished, tmp_path, capsys, monkeypatch):
    """Always runs (root or not): sqlite3.connect is patched so that a write mode fails as on a read-only disk
    and a plain read-only open fails as where the -shm file cannot be created; every reading command still
    works (through ``immutable=1``)."""
    run = _copy(finished, tmp_path / "ro")
    real, uris = sqlite3.connect, []

    def connect(database, *args, **kw):
        uris.append(str(database))
        if "mode=rw" in str(database) or ("mode=ro" in str(database) and "immutable=1" not in str(database)):
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kw)
    monkeypatch.setattr(sqlite3, "connect", connect)
    codes = [main(argv) for argv in _reading_commands(run, tmp_path / "rep")]
    assert codes == [0, 0, 0, 0], capsys.readouterr().err
    assert uris and not [u for u in uris if "mode=rw" in u]
    monkeypatch.setattr(sqlite3, "connect", real)
    with RunStore.reader(run) as store:
        with pytest.raises(sqlite3.OperationalError):
            store.set_meta("x", 1)            # a reader cannot write


def test_a_search_started_from_a_read_only_run_only_reads_it(finished, tmp_path, monkeypatch):
    from evoproxy.evolve.seeds import seed_programs
    run = _copy(finished, tmp_path / "ro")
    real = sqlite3.connect

    def connect(database, *args, **kw):
        if "mode=rw" in str(database):
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return real(database, *args, **kw)
    monkeypatch.setattr(sqlite3, "connect", connect)
    before = (run / "run.sqlite").read_bytes()
    assert seed_programs(str(run), ["weight", "grad", "act"], None)   # --init-from RUN: its last population
    assert (run / "run.sqlite").read_bytes() == before                # (a write-mode open would have raised)


def test_runs_lists_a_bad_run_with_its_problem_and_every_run_once(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "runs")
    (run.parent / "bad").mkdir()
    (run.parent / "bad" / "run.sqlite").write_bytes(b"not a database at all" * 100)
    (run.parent / "loop").symlink_to(run.parent)          # runs/loop -> runs: a loop
    (run.parent / "again").symlink_to(run)                # a second name for the same run
    assert main(["runs", str(run.parent)]) == 2
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()[1:]
    assert len(lines) == 2, out.out                       # S once (not through loop/ or again/), bad once
    assert lines[0].split()[:2] == [str(run.parent / "S"), "finished"]
    assert "unreadable" in lines[1] and "damaged" in lines[1]
    err = out.err.strip()
    assert err.count("\n") == 0 and "1 of the 2 runs" in err


def test_report_never_writes_through_a_symlinked_report_folder(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "runs")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (run / "report").symlink_to(target)
    assert main(["report", str(run)]) == 2
    assert "symbolic link" in _one_line(capsys) and list(target.iterdir()) == []
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0   # --out is used as given


def test_ctrl_c_before_generation_0_leaves_no_folder(tmp_path, capsys, monkeypatch):
    from evoproxy.app import search

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(search.Search, "run", interrupted)
    out = tmp_path / "new" / "R"                           # neither folder exists yet
    assert main(["search", "--config", CONFIG, "--quiet", "--out", str(out)]) == 130
    assert "before generation 0" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    mine = tmp_path / "mine"                              # a folder of the user's: kept, with their files
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (mine / "config.toml").write_text("population = 4\n")
    assert main(["search", "--config", CONFIG, "--quiet", "--out", str(mine)]) == 130
    assert sorted(p.name for p in mine.iterdir()) == ["config.toml", "notes.txt"]
    assert (mine / "config.toml").read_text() == "population = 4\n"


def test_an_edited_config_toml_is_kept_on_resume_and_said_so(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "runs")
    edited = (run / "config.toml").read_text().replace("population = 20", "population = 50")
    (run / "config.toml").write_text(edited)
    assert main(["search", "--resume", str(run), "--generations", "3", "--quiet"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:") and "config.toml" in line]
    assert len(notes) == 1 and "population" in notes[0] and "generations" not in notes[0]
    assert "--config" in notes[0] and "config.stored.toml" in notes[0]
    assert (run / "config.toml").read_text() == edited    # the user's edit, untouched
    assert "population = 20" in (run / "config.stored.toml").read_text()
    with RunStore.reader(run) as store:
        assert store.last_generation() == 3 and store.load_config()["population"] == 20


def test_ctrl_c_while_a_plugin_imports_is_one_line_and_exit_130(tmp_path, capsys):
    plugin = tmp_path / "slow_plugin_ctrl_c.py"
    plugin.write_text("raise KeyboardInterrupt\n")
    assert main(["--plugin", str(plugin), "list", "ops"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "evoproxy: interrupted" and "Traceback" not in err


def test_status_and_runs_call_the_exported_first_formula_best_once_a_run_is_finished(finished, capsys):
    from evoproxy.app.runs import run_status
    from evoproxy.app.exports import export_run
    s = run_status(finished)
    exported = json.loads(export_run(str(finished), "json"))["formula"]
    assert s["best_is"] == "hall of fame #1" and s["best"] == exported
    assert main(["status", str(finished)]) == 0
    assert "hall of fame #1" in capsys.readouterr().out
