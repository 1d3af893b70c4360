"""A plugin file named like another module is imported as itself or refused in one line, never silently
replaced by that module; a damaged ``imports.json`` is kept aside (and said so), never silently reset
(issue 39)."""
import json
import subprocess
import sys

import pytest

from evoproxy.app import data_import
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.plugins import load_plugin

REGISTERS = "from evoproxy.benchmarks import BenchmarkInfo, register_benchmark\nMARK = 'the file'\n"


@pytest.mark.parametrize("name", ["csv", "json", "numpy", "turtle"])
def test_a_plugin_file_named_like_another_module_is_one_line(tmp_path, name):
    plugin = tmp_path / f"{name}.py"
    plugin.write_text(REGISTERS)
    with pytest.raises(EvoproxyError, match=f"has the name of .*{name}.*rename the file") as err:
        load_plugin(str(plugin))
    assert "\n" not in str(err.value) and str(tmp_path) not in sys.path


def test_the_cli_refuses_a_shadowing_plugin_file_in_one_line(tmp_path):
    (tmp_path / "csv.py").write_text(REGISTERS)   # (not the working folder: `python -m` would put it on sys.path)
    done = subprocess.run([sys.executable, "-m", "evoproxy", "--plugin", str(tmp_path / "csv.py"), "list", "proxies"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "standard module 'csv'" in done.stderr or "already loaded" in done.stderr


def test_a_plugin_file_with_its_own_name_is_imported_as_that_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))   # the plugin's folder leaves sys.path after the test
    plugin = tmp_path / "evoproxy_issue39_own_name.py"
    plugin.write_text(REGISTERS)
    try:
        name, root = load_plugin(str(plugin))
        assert (name, root) == (plugin.stem, str(tmp_path)) and sys.modules[name].MARK == "the file"
        assert load_plugin(str(plugin)) == (name, root)      # again: the same module, not an error
        other = tmp_path / "elsewhere"
        other.mkdir()
        (other / plugin.name).write_text(REGISTERS)         # a second file of that name, elsewhere
        with pytest.raises(EvoproxyError, match="already loaded"):
            load_plugin(str(other / plugin.name))
    finally:
        sys.modules.pop(plugin.stem, None)
    (tmp_path / "my-ops.py").write_text("")
    with pytest.raises(EvoproxyError, match="not a Python module name"):
        load_plugin(str(tmp_path / "my-ops.py"))


@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"a": 3}'])
def test_a_damaged_import_record_is_kept_aside_not_reset(tmp_path, damage):
    root = tmp_path / "data"
    root.mkdir()
    (root / data_import.RECORD).write_bytes(damage)
    importer = data_import.IMPORTERS[0]
    with pytest.warns(EvoproxyNote, match="damaged .* kept as imports.json.corrupt-"):
        data_import.record_import(root, tmp_path / "src.pth", importer, {"sha256": "ab"}, {str(root / "t.csv"): 3})
    kept = list(root.glob("imports.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damage
    assert json.loads((root / data_import.RECORD).read_text())["t.csv"]["rows"] == 3


def test_a_good_import_record_keeps_earlier_entries(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / data_import.RECORD).write_text(json.dumps({"old.csv": {"rows": 1}}))
    data_import.record_import(root, tmp_path / "src.pth", data_import.IMPORTERS[0], {}, {str(root / "t.csv"): 3})
    assert set(json.loads((root / data_import.RECORD).read_text())) == {"old.csv", "t.csv"}
    assert not list(root.glob("imports.json.*"))


def test_data_import_beside_a_damaged_record_says_so_and_keeps_it(tmp_path, capsys):
    from evoproxy.cli import main
    from tests import releasehelp as rh
    root = tmp_path / "data"
    root.mkdir()
    (root / data_import.RECORD).write_text('{"nb201/nb201_all_15625.csv": {"rows": 15625')   # cut short
    src = rh.write_zc_json(tmp_path / "zc_nasbench201.json")
    assert main(["data", "import", str(src), "--data-dir", str(root)]) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "imports.json.corrupt-" in err and "Traceback" not in err
    kept = list(root.glob("imports.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text().endswith("15625")
    assert list(json.loads((root / data_import.RECORD).read_text())) == ["nb201/nb201_zc_proxies_725x3_naslib.csv"]
