"""``RUN/config.toml`` (issue 39): evoproxy's own file is rewritten; one the user edited is left as it is,
the run's config goes to ``config.stored.toml`` beside it, and a note says which keys differ."""
import tomllib
import warnings

import pytest

from evoproxy.errors import EvoproxyNote
from evoproxy.evolve.config import RunConfig, load_config
from evoproxy.evolve.store.configfile import HEADER, config_text, write_config


def _config(**changes):
    return RunConfig().replace(**changes).to_dict()


def _quiet_write(run, config):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvoproxyNote)   # a note here would fail the test
        write_config(run, config)


def test_evoproxys_own_file_is_rewritten_silently_and_loads_back(tmp_path):
    _quiet_write(tmp_path, _config(population=8))
    _quiet_write(tmp_path, _config(population=8, generations=12, workers=2))   # what a resume may change
    assert load_config(tmp_path / "config.toml").to_dict() == _config(population=8, generations=12, workers=2)
    assert not (tmp_path / "config.stored.toml").exists()


@pytest.mark.parametrize("edit, says", [
    (lambda t: t.replace("population = 8", "population = 50"), "population"),
    (lambda t: t.replace("backend = \"serial\"", "backend = \"ray\""), "backend"),
    (lambda t: t + "seed = [\n", "no longer valid TOML")])
def test_an_edited_file_is_kept_and_noted(tmp_path, edit, says):
    _quiet_write(tmp_path, _config(population=8))
    path = tmp_path / "config.toml"
    path.write_text(edit(path.read_text()))
    mine = path.read_text()
    with pytest.warns(EvoproxyNote, match=says) as notes:
        write_config(tmp_path, _config(population=8, generations=20))
    if says == "population":   # a key of the run's identity: the keys a resume changes itself are not named
        assert "generations" not in str(notes[0].message)
    assert path.read_text() == mine
    assert tomllib.loads((tmp_path / "config.stored.toml").read_text())["population"] == 8
    path.write_text(config_text(_config(population=8)))      # the edit undone: evoproxy's file again
    _quiet_write(tmp_path, _config(population=8))
    assert not (tmp_path / "config.stored.toml").exists()


def test_a_file_from_before_digests_counts_as_evoproxys_unless_a_run_key_differs(tmp_path):
    old = config_text(_config(population=8)).split("\n", 2)
    legacy = f"{HEADER}\n{old[2]}"                            # no digest line: an older evoproxy wrote it
    (tmp_path / "config.toml").write_text(legacy.replace("generations = 10", "generations = 3"))
    _quiet_write(tmp_path, _config(population=8))             # only generations differs: rewritten
    assert "# digest" in (tmp_path / "config.toml").read_text()
    (tmp_path / "config.toml").write_text(legacy.replace("population = 8", "population = 9"))
    with pytest.warns(EvoproxyNote, match="population"):
        write_config(tmp_path, _config(population=8))
    older = "\n".join(line for line in legacy.split("\n") if not line.startswith("selection ="))
    (tmp_path / "config.toml").write_text(older)               # a key added since that evoproxy: not an edit
    _quiet_write(tmp_path, _config(population=8))
    assert "# digest" in (tmp_path / "config.toml").read_text()


def test_the_same_keys_with_comments_are_left_as_they_are_quietly(tmp_path):
    (tmp_path / "config.toml").write_text("# my notes\n" + config_text(_config(population=8)).split("\n", 2)[2])
    mine = (tmp_path / "config.toml").read_text()
    _quiet_write(tmp_path, _config(population=8))
    assert (tmp_path / "config.toml").read_text() == mine and not (tmp_path / "config.stored.toml").exists()
