"""No code runs from a formula, a folder name or an archive: formulas in other notations are parsed,
never evaluated; exported modules escape what the user named; archive members are size-capped."""
import ast
import bz2
import importlib.util
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from evoproxy.app.data_import import import_path
from evoproxy.app.exports import python_module
from evoproxy.evolve.results import HallOfFameEntry
from evoproxy.data import archive
from evoproxy.errors import EvoproxyError
from evoproxy.lang.export import read_sympy, to_sympy
from evoproxy.lang.program import parse
from tests import releasehelp as rh
from tests.test_layout import modules, parsed

PAYLOADS = ["__import__('os').system('touch {m}') + params", "params + (lambda: __import__('os'))()",
            "params.__class__.__base__", "open('{m}', 'w')", "[x for x in ()] + params", "exec('1')",
            "params if True else grad", "params[0]", "f'{{params}}'", "Symbol('x')", "params + 'a'",
            "Abs(params, evaluate=True)", "params**(9**9**9)", "params**params", "1e999 * params",
            "layer_sum(l2(grad)) ; import os", "zoo*params", "nan", "E"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_read_sympy_refuses_code_in_one_line_and_runs_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError) as err:
        read_sympy(payload.format(m=marker))
    assert "\n" not in str(err.value) and not marker.exists()


@pytest.mark.parametrize("text", ["(" * 500 + "params" + ")" * 500, "-" * 200_000 + "params",
                                  "params+" * 30_000 + "params", "9" * 5000])
def test_read_sympy_refuses_deep_long_or_huge_input_in_one_line(text):
    with pytest.raises(ValueError) as err:
        read_sympy(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("formula", ["div(params, 0)", "div(0, 0.0)", "div(params, sub(params, params))"])
def test_a_division_by_zero_exports_as_evoproxys_zero_and_reads_back(formula):
    text = str(to_sympy(parse(formula)))
    assert "zoo" not in text and "nan" not in text
    assert read_sympy(text).text == "0.0"


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_NAMES = {"sympify", "parse_expr", "S", "lambdify", "parse_latex"}


def _code_from_text(tree: ast.AST) -> list[int]:
    """Lines calling a builtin that runs text as code, or sympy's text readers (which do)."""
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if (isinstance(f, ast.Name) and name in FORBIDDEN_CALLS) or name in FORBIDDEN_NAMES or \
                (isinstance(f, ast.Attribute) and name in {"eval", "exec"} and node.args):
            bad.append(node.lineno)
    return bad


def test_no_module_runs_text_as_code():
    found = {name: lines for name, path in modules().items() if (lines := _code_from_text(parsed(path)))}
    assert not found, found


def test_the_scan_finds_eval_exec_and_sympify():
    tree = ast.parse("import sympy\neval(t)\nbuiltins.exec(t, {})\nsympy.sympify(t)\nmodel.eval()\n")
    assert _code_from_text(tree) == [2, 3, 4]


def _import(path: Path):
    spec = importlib.util.spec_from_file_location("evolved_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ['x"""\nimport os; os.system("touch {m}")\n"""',
                                  "x'''\nimport os; os.system('touch {m}')\n'''", 'x\\"""\r__import__("os")',
                                  "x\u2028y\\N{{"])
def test_an_exported_module_escapes_the_run_folder_name(tmp_path, name):
    marker = tmp_path / "pwned"
    run_dir = name.format(m=marker)
    entries = [HallOfFameEntry(1, "layer_sum(l2(grad))", 0.5, {})]
    module = tmp_path / "evolved.py"
    module.write_text(python_module(entries, run_dir, str))
    mod = _import(module)
    assert not marker.exists()
    assert f"(run {run_dir})" in mod.__doc__ and "layer_sum(l2(grad))" in mod.__doc__
    assert callable(mod.proxy)


def _one_line_refusal(err) -> None:
    msg = str(err.value)
    assert "\n" not in msg and "cap" in msg, msg


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar makes the sparse bomb")
def test_a_tar_gz_of_sparse_4_gib_members_is_refused_before_reading(tmp_path, monkeypatch):
    """The issue's bomb: a few hundred bytes that claim CIFAR-10's members at 4 GiB each."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        with open(folder / name, "wb") as f:
            f.truncate(4 * 2 ** 30)                       # a hole: no disk used
    bomb = tmp_path / "bomb.tar.gz"
    subprocess.run(["tar", "-czSf", str(bomb), "-C", str(tmp_path), folder.name], check=True)
    shutil.rmtree(folder)
    assert bomb.stat().st_size < 10_000
    opened = []

    def never_inflate(tar, member):   # a member opened here would be inflated to 4 GiB
        opened.append(member.name)
        raise AssertionError(f"{member.name} was opened")
    monkeypatch.setattr(tarfile.TarFile, "extractfile", never_inflate)
    with pytest.raises(EvoproxyError) as err:
        import_path(str(bomb), str(tmp_path / "data"))
    _one_line_refusal(err)
    assert opened == []          # refused on the stated size: no member was opened, so nothing was inflated
    assert not list((tmp_path / "data").rglob("*.npz"))


def test_a_tar_member_over_the_cap_is_refused(tmp_path, monkeypatch):
    src, _ = rh.write_cifar(tmp_path / "dl", "cifar10", gz=True)
    monkeypatch.setattr(archive, "MEMBER_CAP", 1000)
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    _one_line_refusal(err)


@pytest.mark.parametrize("form", ["folder", "tar"])
def test_a_bz2_bomb_in_a_nats_release_is_refused(tmp_path, monkeypatch, form):
    src = rh.write_nats(tmp_path / "release")
    (src / "000001.pickle.pbz2").write_bytes(bz2.compress(b"\0" * 2 ** 24))   # 16 MiB from 50 bytes
    if form == "tar":
        src = rh.tar_of(src, tmp_path / "NATS-tss-v1_0-3ffb9-simple.tar")
    monkeypatch.setattr(archive, "MEMBER_CAP", 2 ** 22)
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    _one_line_refusal(err)
    assert "000001.pickle.pbz2" in str(err.value)


def test_capped_bz2_reads_what_bz2_reads():
    data = bytes(range(256)) * 999
    assert archive.bz2_decompress(bz2.compress(data), "x") == data
    with pytest.raises(EOFError):
        archive.bz2_decompress(bz2.compress(data)[:-10], "x")
