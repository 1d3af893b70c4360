"""Every checkable fault of issue 39, re-run and counted: security (code from a formula, from a folder name,
a decompression bomb), tracebacks, hangs and a crash (report CSVs, full disks, data-directory files, config
extremes, ``show``, a plugin's Ctrl-C), silent wrong answers and leftovers (bad benchmark tables, failed searches,
read-only and linked run folders), a network that shares its attention module, and the newcomer's help texts.

    python experiments/robustness/issue39.py [--timeout-s 180] [--only security,bad_tables,...]

Run from the repository root (it reads experiments/synthetic.toml and borrows the fake-table helpers of tests/).
Each case is ``name -> callable`` returning an outcome, as in faults.py, run under fuzz.py's time bound; commands
that may crash or run away (config extremes, the bomb, importing an exported module, full disks) run in a child
process with their own timeout (60 s for a config extreme).

Good outcomes: ``ok``; ``one line`` (exit 2, a single ``evoproxy: error:`` line); ``reported`` (a bad table
refused in one line, or a bad CSV cell in a note, naming the file and counts); ``skipped`` (the machine cannot
stage the case: no /dev/full, no ``unshare``). Failures, each printed with its symptom: ``code executed`` (a
payload's marker file appeared), ``traceback``, ``segfault`` (killed by a signal), ``hang`` (over its time
bound), ``over memory`` (peak RSS over its bound), ``lost`` (an earlier result removed or changed, or a folder or
0-byte file left behind), ``silent acceptance`` (bad input accepted without a word), ``wrong advice`` (a
one-line error whose advice cannot work, e.g. ``--resume`` of a run folder it removed), ``refused`` (a command
that should work refused), ``not finite`` (a proxy's score), ``no help text``. Exits 1 on any failure.

Full disks are small tmpfs mounts and read-only folders read-only bind mounts, each in a private mount namespace
(``unshare -m``, as root; skipped where that is refused; chmod for read-only when not root). About two minutes
on two busy cores; peak RSS about 0.6 GB.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import faults  # beside this script (run as a file, its folder is sys.path[0])
from fuzz import bounded, report

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))   # the tests' fake-table helpers
from evoproxy.cli import build_parser
from evoproxy.cli import main as evoproxy_main
from evoproxy.errors import EvoproxyError

FAILURES = ("code executed", "traceback", "segfault", "hang", "over memory", "lost", "silent acceptance",
            "wrong advice", "refused", "not finite", "no help text")
CONFIG = faults.CONFIG
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
PEAK_KB = 1 << 20   # the bomb's bound on peak RSS: 1 GiB (the process itself, torch imported, is ~0.4 GiB)


# ---- running commands -----------------------------------------------------------------------------------

def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``evoproxy ARGV`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = evoproxy_main(argv)
        except KeyboardInterrupt:   # escaped main: the user would see a traceback
            print("Traceback: KeyboardInterrupt escaped evoproxy's main", file=sys.stderr)
            code = 1
    return code, out.getvalue(), err.getvalue()


def python(args: list[str], timeout: float = 60, cwd: Path = REPO) -> tuple:
    """(exit code or "hang", stdout, stderr) of ``python ARGS`` in a child process."""
    try:
        done = subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env=ENV)
    except subprocess.TimeoutExpired:
        return "hang", "", ""
    return done.returncode, done.stdout, done.stderr


def judged(code, err: str, expect: int = 2, good: str = "one line"):
    """``good`` when a command exits ``expect`` (2: with a single ``evoproxy: error:`` line and no
    traceback), else (failure, symptom)."""
    last = symptom(err)
    if code == "hang":
        return "hang", "over its time bound"
    if code < 0 or code in (134, 137, 139):
        return "segfault", f"exit {code}"
    if "Traceback" in err:
        return "traceback", last
    if code == expect:
        one = [ln for ln in err.splitlines() if ln.startswith("evoproxy: error:")]
        return good if expect != 2 or (len(one) == 1 and last.startswith("evoproxy: error:")) else ("traceback", last)
    if code == 0:
        return "silent acceptance", "exit 0"
    if code == 2 and expect == 0:
        return "refused", last
    return "traceback", f"exit {code}: {last}"


def symptom(err: str) -> str:
    """The last line of ``err``, and for a traceback the deepest evoproxy frame it passed."""
    last = (err.strip().splitlines() or [""])[-1]
    found = re.findall(r'File "[^"]*/evoproxy/([^"]+)", line (\d+), in (\w+)', err)
    frames = [f"{path}:{line} {fn}" for path, line, fn in found]
    called = [f for f in frames if f.startswith(("app/", "cli/"))][-1:]
    return last + (f" (at {' > '.join(called + frames[-1:])})" if frames else "")


def cli_case(argv: list[str], expect: int = 2, good: str = "one line"):
    code, _, err = run_cli(argv)
    return judged(code, err, expect, good)


@functools.cache
def finished(root: Path) -> Path:
    """One finished synthetic run (1 generation), shared by the groups; cases work on copies."""
    run = root / "finished" / "S"
    code, _, err = run_cli(["search", "--config", CONFIG, "--generations", "1", "--quiet", "--out", str(run)])
    if code != 0:
        raise RuntimeError(f"the reference search failed: {err[-500:]}")
    return run


def copy_run(root: Path, where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(finished(root), where)
    return where


def exported(run: Path) -> list:
    """The hall of fame's top 5 as ``export`` gives them, without the run's path."""
    code, out, err = run_cli(["export", str(run), "--top", "5"])
    if code != 0:
        raise RuntimeError(err)
    return _without_run(json.loads(out))


def _without_run(doc):
    if isinstance(doc, dict):
        return {k: _without_run(v) for k, v in doc.items() if k != "run"}
    return [_without_run(v) for v in doc] if isinstance(doc, list) else doc


@functools.cache
def namespace_ok(root: Path) -> bool:
    """Whether this machine lets a private mount namespace mount a tmpfs (root and ``unshare``)."""
    probe = root / "ns-probe"
    probe.mkdir(exist_ok=True)
    try:
        return os.geteuid() == 0 and subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs '{probe}'"],
            check=False, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def in_namespace(script: str, timeout: float = 120) -> tuple:
    """(exit code or "hang", stdout, stderr) of a shell script in a private mount namespace."""
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", script], check=False, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, env=ENV)
    except subprocess.TimeoutExpired:
        return "hang", "", ""
    return done.returncode, done.stdout, done.stderr


def markers(out: str) -> dict[str, int]:
    """``name=N`` lines a namespace script echoes."""
    return {k: int(v) for k, _, v in (ln.partition("=") for ln in out.splitlines() if "=" in ln) if v.isdigit()}


# ---- 1. security ------------------------------------------------------------------------------------------

def security(tmp: Path) -> dict:
    from evoproxy.lang.export import read_sympy

    def sympy_payload(k: int, payload: str):
        marker = tmp / f"MARKER-sympy-{k}"
        try:
            read_sympy(payload.format(m=marker))
            got = ("silent acceptance", "read as a formula")
        except (ValueError, EvoproxyError) as e:
            got = "one line" if "\n" not in str(e) else ("traceback", "a message of several lines")
        except Exception as e:  # noqa: BLE001  (after the payload may have run: the marker decides first)
            got = ("traceback", f"{type(e).__name__}: {e}")
        return ("code executed", f"{marker.name} created") if marker.exists() else got
    payloads = {"__import__('os').system": "__import__('os').system('touch {m}') + params",
                "exec": "exec(\"open('{m}', 'w')\") + params",
                "a lambda called": "(lambda: __import__('os').system('touch {m}'))() * grad",
                "an attribute walk": "params.__class__.__mro__[1].__subclasses__()[0]('touch {m}') + params"}
    cases = {f"read_sympy runs no code: {n}": (lambda k=k, p=p: sympy_payload(k, p))
             for k, (n, p) in enumerate(payloads.items())}

    def hostile_export(k: int, name: str):
        run = copy_run(tmp.parent, tmp / f"export{k}" / name)
        code, out, err = run_cli(["export", str(run), "--format", "python"])
        if code != 0:
            return judged(code, err, expect=0)
        where = tmp / f"import{k}"
        where.mkdir()
        (where / "exported_run.py").write_text(out)
        code, _, err = python(["-c", "import exported_run; exported_run.proxy"], cwd=where)
        if (where / "PWNED").exists():
            return "code executed", "importing the exported module created PWNED"
        return judged(code, err, expect=0, good="ok")
    names = {'"""': 'x"""\nimport os; os.system("touch PWNED")\n"""',
             "'''": "y'''\nopen('PWNED', 'w')\n'''",
             'a backslash before """': 'z\\"""\nopen("PWNED", "w")\n#'}
    for k, (what, name) in enumerate(names.items()):
        cases[f"export --format python, a run folder named with {what} + newline + code"] = (
            lambda k=k, name=name: hostile_export(k, name))
    cases["data import of a tar.gz bomb (sparse members over the cap)"] = lambda: bomb(tmp)
    return cases


def bomb(tmp: Path):
    """A tar.gz of CIFAR-10's members, each stated 4 GiB (GNU tar, sparse: a few hundred bytes) or, without
    GNU tar, 512 MiB + 1 of zeros (tarfile: 2 MB): one line, peak RSS under PEAK_KB (an address-space limit of
    3 GiB keeps a regression from taking the machine's memory)."""
    folder, path = tmp / "bomb" / "cifar-10-batches-py", tmp / "bomb.tar.gz"
    folder.mkdir(parents=True)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    if shutil.which("tar"):
        for name in names:
            with open(folder / name, "wb") as f:
                f.truncate(4 << 30)   # a hole: no disk used
        subprocess.run(["tar", "-czSf", str(path), "-C", str(folder.parent), folder.name], check=True, timeout=60)
    else:
        from evoproxy.data.archive import MEMBER_CAP
        with tarfile.open(path, "w:gz", compresslevel=1) as tar:
            info = tarfile.TarInfo(f"{folder.name}/{names[0]}")
            info.size = MEMBER_CAP + 1
            tar.addfile(info, _Zeros(info.size))
    shutil.rmtree(folder.parent)
    data = tmp / "bomb-data"
    driver = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
              "from evoproxy.cli import main\n"
              f"rc = main(['data', 'import', {str(path)!r}, '--data-dir', {str(data)!r}, '--quiet'])\n"
              "print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
              "sys.exit(rc)\n")
    code, out, err = python(["-c", driver], timeout=120)
    got = judged(code, err)
    peak = int(out.split()[-1]) if "peak_kb" in out else None
    if got == "one line" and peak is not None and peak > PEAK_KB:
        return "over memory", f"peak RSS {peak / 2 ** 20:.1f} GiB"
    if got == "one line" and data.exists() and any(p.is_file() for p in data.rglob("*")):
        return "lost", "files written from the bomb"
    return got if got != "one line" else ("one line", f"{path.stat().st_size:,}-byte archive, peak RSS {peak >> 10} MB")


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.n = n

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        k = min(len(b), self.n)
        b[:k] = bytes(k)
        self.n -= k
        return k


# ---- 2. report of an eval --save CSV --------------------------------------------------------------------

def report_csv(tmp: Path) -> dict:
    good = tmp / "good" / "scores.csv"
    good.parent.mkdir()
    code, _, err = run_cli(["eval", "--benchmark", "synthetic", "--probe", "synthetic", "--archs", "6",
                            "--proxy", "params", "--save", str(good), "--quiet"])
    if code != 0:
        raise RuntimeError(f"eval --save failed: {err[-500:]}")
    text = good.read_text()
    header, *rows = text.splitlines()

    def with_row(k: int, row: str) -> str:
        return "\n".join([header, *rows[:k], row, *rows[k + 1:]]) + "\n"
    bad = {"text in the score column": with_row(2, rows[2].rsplit(",", 1)[0] + ",high").encode(),
           "text in the accuracy column": with_row(1, ",ninety,".join(rows[1].split(",")[::2])).encode(),
           "no proxy column": "\n".join(",".join(r.split(",")[:2]) for r in text.splitlines()).encode() + b"\n",
           "extra fields": with_row(3, rows[3] + ",7,8").encode(),
           "latin-1 bytes": text.replace("params", "caf\xe9", 1).encode("latin-1"),
           "a NUL byte": with_row(4, rows[4] + "\x00").encode()}

    def case(k: int, content: bytes):
        folder = tmp / f"bad{k}"
        folder.mkdir()
        (folder / "scores.csv").write_bytes(content)
        code, _, err = run_cli(["report", str(folder / "scores.csv")])
        notes = [ln for ln in err.splitlines() if ln.startswith("note:") and "scores.csv" in ln]
        if code == 0 and notes and "Traceback" not in err:   # a report, saying what it made of the bad cells
            return "reported", notes[0][6:120]
        got = judged(code, err)
        left = sorted(p.name for p in folder.iterdir() if p.name != "scores.csv")
        return ("lost", f"left {left}") if got == "one line" and left else got
    cases = {f"report FILE.csv, {n}": (lambda k=k, c=c: case(k, c)) for k, (n, c) in enumerate(bad.items())}
    cases["report FILE.csv, the valid file they start from"] = lambda: cli_case(["report", str(good)], 0, "ok")
    return cases


# ---- 3. full disks ----------------------------------------------------------------------------------------

def full_disk(tmp: Path) -> dict:
    """/dev/full, then tmpfs disks of a few sizes, each filling at another point of a report or a search;
    a search that leaves a folder is resumed on the same disk grown to 64 MB, and must then give the
    undisturbed run's hall of fame (else ``lost``)."""
    root = tmp.parent
    evalsave = ["eval", "--benchmark", "synthetic", "--probe", "synthetic", "--archs", "6", "--proxy", "params",
                "--quiet"]

    def dev_full():
        if not Path("/dev/full").exists():
            return "skipped"
        return cli_case(evalsave + ["--save", "/dev/full"])

    def tmpfs(size: str, body: list[str], timeout: float = 150):
        """``body`` (shell lines) with $M a fresh tmpfs of ``size``, $T this group's folder, $PY this
        Python; None where no private mount namespace can be made."""
        if not namespace_ok(root):
            return None
        mount = tmp / f"m-{size}-{len(list(tmp.iterdir()))}"
        mount.mkdir()
        script = "\n".join([f"M='{mount}'; PY='{sys.executable}'; T='{tmp}'",
                            f"mount -t tmpfs -o size={size} tmpfs \"$M\" || exit 97", *body])
        return in_namespace(script, timeout)

    def report_full(size: str, what: str):
        if what == "csv":
            source = tmp / "scores.csv"
            if not source.exists() and run_cli(evalsave + ["--save", str(source)])[0] != 0:
                raise RuntimeError("eval --save failed")
        else:
            source = finished(root)
        done = tmpfs(size, [f'"$PY" -m evoproxy report "{source}" --out "$M/rep" 2>"$T/report.err"',
                            'echo "report=$?"', 'find "$M" -type f -size 0 | sed "s/^/empty: /"'])
        if done is None:
            return "skipped"
        got = judged(markers(done[1]).get("report", 1) if done[0] != "hang" else "hang",
                     (tmp / "report.err").read_text())
        if done[0] != "hang" and markers(done[1]).get("report") == 0:
            return "skipped", f"a {size} disk did not fill"
        if "empty: " in done[1]:
            return "lost", "a 0-byte file left: " + done[1].split("empty: ")[1].split()[0]
        return got

    def search_full(size: str):
        search = f'"$PY" -m evoproxy search --config {CONFIG} --generations 1 --quiet --out "$M/R"'
        body = [search + ' >/dev/null 2>"$T/search.err"', 'echo "search=$?"',
                'test -e "$M/R/run.sqlite"; echo "store=$?"',
                'mount -o remount,size=64m "$M"',
                'if [ -e "$M/R/run.sqlite" ]; then',
                '  "$PY" -m evoproxy search --resume "$M/R" --quiet >/dev/null 2>"$T/resume.err"; echo "resume=$?"',
                '  "$PY" -m evoproxy export "$M/R" --top 5 >"$T/resumed.json" 2>>"$T/resume.err"', 'fi']
        done = tmpfs(size, body)
        if done is None:
            return "skipped"
        if done[0] == "hang":
            return "hang", "over its time bound"
        got, err = markers(done[1]), (tmp / "search.err").read_text()
        if got.get("search") == 0:
            return "skipped", f"a {size} disk did not fill"
        first = judged(got.get("search", 1), err)
        kept = got.get("store") == 0
        if kept and got.get("resume") != 0:
            after = ("lost", "--resume after freeing space fails: " + symptom((tmp / "resume.err").read_text()))
        elif kept:
            same = _without_run(json.loads((tmp / "resumed.json").read_text())) == exported(finished(root))
            after = "one line" if same else ("lost", "--resume after freeing space: not the undisturbed run's result")
        else:
            after = "one line"
        if first != "one line":   # the failure, and whether the run survived it
            survived = ("--resume after freeing space gives the undisturbed run's result" if after == "one line"
                        else after[1]) if kept else "no run store left"
            return first[0], f"{first[1]}; {survived}"
        if "damaged" in err or ("--resume" in err) != kept:   # --resume exactly where a run store is left
            return "wrong advice", ("says --resume, but no run store is left: " if kept is False and "--resume" in err
                                    else "") + symptom(err)
        return after
    cases = {"eval --save /dev/full": dev_full,
             "report FILE.csv --out on a full disk (8 kB): one line, no 0-byte file": lambda: report_full("8k", "csv")}
    for size in ("40k", "120k"):
        cases[f"report RUN --out on a full disk ({size}B): one line, no 0-byte file"] = (
            lambda size=size: report_full(size, "run"))
    for size, where in (("40k", "too small for the run store"), ("120k", "fills before generation 0 is stored"),
                        ("160k", "fills during the generations"), ("180k", "fills at the run folder's CSVs"),
                        ("210k", "fills at the final report")):
        cases[f"search on a {size}B disk ({where} here): one line; a run store left resumes, once space is "
              "freed, to the undisturbed run's result"] = lambda size=size: search_full(size)
    return cases


# ---- 4. data-directory files ------------------------------------------------------------------------------

def data_dir(tmp: Path) -> dict:
    import numpy as np

    from tests.data.test_hostile_data_dir import DEEP, _jpeg_pack, _zc
    cases = {}

    def nb201_table(content: bytes, k: int):
        table = tmp / f"t{k}" / "nb201" / "nb201_all_15625.csv"
        table.parent.mkdir(parents=True)
        table.write_bytes(content)
        saved = tmp / f"t{k}" / "scores.csv"
        saved.write_text("arch_id,accuracy,params\n0,50.0,1.0\n")
        got = cli_case(["eval", "--data-dir", str(table.parents[1]), "--proxy", "grad_norm", "--archs", "3",
                        "--quiet", "--probe", "synthetic", "--save", str(saved)])
        return got if saved.read_text() == "arch_id,accuracy,params\n0,50.0,1.0\n" else ("lost", "saved scores changed")
    header = "index,arch_str,naslib_op_indices,cifar10_test_200ep\n"
    row = "0,|caf\xe9~0|+|none~0|none~1|+|none~0|none~1|none~2|,111111,50.0\n"
    tables = {"latin-1": (header + row).encode("latin-1"),
              "binary": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))}
    for k, (n, content) in enumerate(tables.items()):
        cases[f"an NB201 table in {n}"] = lambda c=content, k=k: nb201_table(c, k)

    def pack(k: int, **change):
        root = tmp / f"p{k}"
        _jpeg_pack(root, **change)
        return cli_case(["eval", "--data-dir", str(root), "--proxy", "grad_norm", "--archs", "3", "--quiet",
                         "--probe", "cifar10", "--batch-size", "4"])
    cases["a JPEG pack with short offsets"] = lambda: pack(0, offsets=lambda o: o[:4])
    cases["a JPEG pack with labels >= the class count (10 of 10 classes)"] = lambda: pack(
        1, labels=np.array([0, 1, 2, 10, 4, 5, 10, 7], np.uint8))

    def raw_pack():
        path = tmp / "raw" / "images" / "cifar100_train_uint8.npz"
        path.parent.mkdir(parents=True)
        np.savez(path, images=np.zeros((8, 32, 32, 3), np.uint8), labels=np.array([0, 1, 2, 3, 4, 100, 6, 7]))
        return cli_case(["eval", "--data-dir", str(path.parents[1]), "--proxy", "grad_norm", "--archs", "3",
                         "--quiet", "--benchmark", "nb201-cifar100", "--probe", "cifar100", "--batch-size", "4"])
    cases["a cifar100 image pack with label 100"] = raw_pack
    docs = {"200k-deep": '{"cifar10": ' + "[" * DEEP + "]" * DEEP + "}", '"cifar100": 5': _zc(extra=', "cifar100": 5'),
            "a 10^400 accuracy": _zc(acc="1" + "0" * 400), "a 5,000-digit integer": _zc(acc="7" * 5000)}
    for k, (n, text) in enumerate(docs.items()):
        cases[f"data import of NASLib zc_nasbench201.json, {n}"] = lambda k=k, t=text: suite_zero_import(tmp, k, t)
    return cases


def suite_zero_import(tmp: Path, k: int, text: str, good: str = "one line"):
    """``data import`` of a NASLib JSON: one line, no table written, the earlier import record kept."""
    src = tmp / f"zc{k}" / "zc_nasbench201.json"
    src.parent.mkdir()
    src.write_text(text)
    data = tmp / f"zc{k}" / "data"
    data.mkdir()
    (data / "imports.json").write_text('{"earlier.csv": {"source": "x"}}\n')
    got = cli_case(["data", "import", str(src), "--data-dir", str(data), "--quiet"], good=good)
    if sorted(p.name for p in data.iterdir()) != ["imports.json"]:
        return got if got != good else ("lost", "a table written from a refused file")
    kept = json.loads((data / "imports.json").read_text()) == {"earlier.csv": {"source": "x"}}
    return got if kept else ("lost", "the earlier import record changed")


# ---- 5. config extremes -----------------------------------------------------------------------------------

def config_extremes(tmp: Path) -> dict:
    def case(k: int, args: list[str], note: bool):
        """Exit 2 in one line with no run folder, or (``note``: threads) a note and exit 0."""
        out, t0 = tmp / f"R{k}", time.time()
        code, _, err = python(["-m", "evoproxy", "search", "--config", CONFIG, "--out", str(out), "--generations",
                               "1", "--quiet", *args], timeout=60)
        if code == "hang":
            return "hang", "over its 60 s bound"
        if note and code == 0:
            said = [ln[6:] for ln in err.splitlines() if ln.startswith("note:") and "threads" in ln]
            return ("ok", f"{time.time() - t0:.0f} s; note: {said[0]}") if said else ("silent acceptance", "no note")
        got = judged(code, err)
        return ("lost", f"{out.name} left") if got == "one line" and out.exists() else got
    sets = {"threads=1000000": True, "threads=4096": True, "max_depth=300": False, "max_depth=1e6": False,
            "split_seed=1e20": False, "population=1000000000": False, "offspring=1000000000": False}
    cases = {f"--set {s}": (lambda k=k, s=s, n=n: case(k, ["--set", s], n)) for k, (s, n) in enumerate(sets.items())}
    cases["--population 1000000000000 (10^12)"] = lambda: case(90, ["--population", str(10 ** 12)], False)
    cases["--population 10**12 (as typed)"] = lambda: case(91, ["--population", "10**12"], False)
    return cases


# ---- 6. show, plugins, help texts -------------------------------------------------------------------------

def show_plugins_help(tmp: Path) -> dict:
    from evoproxy.lang.export import read_sympy

    def round_trip(formula: str):
        code, out, err = run_cli(["show", formula, "--format", "sympy"])
        if code != 0:
            return judged(code, err, expect=0)
        try:
            read_sympy(out.strip())
            return "ok"
        except ValueError as e:
            return "refused", f"{out.strip()!r} does not read back: {e}"[:220]

    def ctrl_c_plugin():
        plugin = tmp / "evoproxy_issue39_ctrl_c.py"
        plugin.write_text("raise KeyboardInterrupt\n")
        code, _, err = run_cli(["--plugin", str(plugin), "list", "ops"])
        return "one line" if code == 130 and err.strip() == "evoproxy: interrupted" else judged(code, err, 130)

    def shadowing_plugin():
        (tmp / "csv.py").write_text("from evoproxy.benchmarks import BenchmarkInfo, register_benchmark\n")
        return cli_case(["--plugin", str(tmp / "csv.py"), "list", "proxies"])
    cases = {"show 'div(0, 0.0)' --format sympy reads back": lambda: round_trip("div(0, 0.0)"),
             "show 'div(params, 0)' --format sympy reads back": lambda: round_trip("div(params, 0)"),
             "a plugin raising KeyboardInterrupt on import: exit 130, one line": ctrl_c_plugin,
             "--plugin csv.py (a stdlib name) refused": shadowing_plugin}
    for command, options in {"search": ["--generations", "--population", "--seed"],
                             "eval": ["--benchmark", "--archs", "--split"], "list": [None]}.items():
        for option in options:
            cases[f"--help text: {command} {option or ''}".strip()] = (
                lambda c=command, o=option: "ok" if help_text(c, o) else ("no help text", ""))
    return cases


def help_text(command: str, option: str | None) -> str:
    """The help of ``command``'s ``option``; for None, the command's line in ``evoproxy --help`` and its
    positional arguments' help (empty when any is missing)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = [a for a in sub.choices[command]._actions if a.dest != "help"]
    if option is None:
        texts = [next((c.help for c in sub._choices_actions if c.dest == command), None)]
        texts += [a.help for a in actions if not a.option_strings]
    else:
        texts = [next(a.help for a in actions if option in a.option_strings)]
    return "" if any(not t or t == argparse.SUPPRESS for t in texts) else " / ".join(texts)


# ---- 7. bad benchmark tables ------------------------------------------------------------------------------

def bad_tables(tmp: Path) -> dict:
    from tests.benchmarks.test_table_checks import COLUMN, _set, write_nb201

    def table(k: int, n: int, change, archs: list[str]):
        root = tmp / f"d{k}"
        write_nb201(root, n, change)
        code, _, err = run_cli(["eval", "--data-dir", str(root), "--benchmark", "nb201-cifar10", "--proxy", "params",
                                "--probe", "synthetic", "--quiet", *archs])
        got = judged(code, err, good="reported")
        said = err.strip().splitlines()[-1].replace(f"{root}/nb201/", "")[17:] if got == "reported" else ""
        return ("reported", said[:110]) if said else got
    five = ["--archs", "5"]
    changes = {"NaN accuracies": (40, _set(COLUMN, {3: "nan", 9: "nan"}), five),
               "inf accuracies": (40, _set(COLUMN, {3: "inf", 5: "-inf"}), five),
               "negative accuracies": (40, _set(COLUMN, {2: "-1.5"}), five),
               "accuracies above 100": (40, _set(COLUMN, {4: "100.5"}), five),
               "constant accuracies": (40, lambda rows: [r.update({COLUMN: "50.0"}) for r in rows], five),
               "10 rows (eval's default --archs)": (10, None, []),
               "garbage arch strings": (40, _set("arch_str", {2: "|garbage~0|", 6: "x"}), five),
               "wrong op indices": (40, _set("naslib_op_indices", {2: "999999"}), five)}
    cases = {f"an NB201 table with {n}": (lambda k=k, c=c: table(k, *c)) for k, (n, c) in enumerate(changes.items())}
    from tests.data.test_hostile_data_dir import _zc
    cases["a Suite-Zero import with a NaN accuracy"] = lambda: suite_zero_import(tmp, 0, _zc(acc="NaN"), "reported")
    return cases


# ---- 8. run folders ---------------------------------------------------------------------------------------

def run_folders(tmp: Path) -> dict:
    from tests.benchmarks.test_table_checks import COLUMN, _set, write_nb201
    root = tmp.parent

    def failed_search(k: int, rows: int, change):
        data, out = tmp / f"data{k}", tmp / f"runs{k}" / "R"
        write_nb201(data, rows, change)
        got = cli_case(["search", "--benchmark", "nb201-cifar10", "--set", 'baselines=["params"]', "--set",
                        "learned=[]", "--generations", "1", "--quiet", "--data-dir", str(data), "--out", str(out)])
        return ("lost", f"{out.parent} left") if got == "one line" and out.parent.exists() else got

    def reading(run: Path, rep: Path) -> list[list[str]]:
        return [["status", str(run)], ["runs", str(run.parent)], ["export", str(run), "--format", "text"],
                ["report", str(run), "--out", str(rep)]]

    def read_only_real():
        run = copy_run(root, tmp / "ro" / "S")
        before = sorted((p.name, p.stat().st_size) for p in run.iterdir())
        if os.geteuid() != 0:
            return read_only_chmod(run, reading(run, tmp / "ro-rep"), before)
        if not namespace_ok(root):
            return "skipped"
        driver = tmp / "read_only_driver.py"
        argvs = reading(run, tmp / "ro-rep")
        driver.write_text("import io, sys\nfrom contextlib import redirect_stdout\nfrom evoproxy.cli import main\n"
                          f"with redirect_stdout(io.StringIO()):\n    codes = [main(a) for a in {argvs!r}]\n"
                          "print('codes', codes)\n")
        folder = run.parent
        code, out, err = in_namespace(f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' "
                                      f"'{folder}' || exit 97\n'{sys.executable}' '{driver}'", timeout=150)
        if code == 97:
            return "skipped"
        if "codes [0, 0, 0, 0]" not in out:
            return judged(code, err) if code != 0 else ("refused", f"{out.strip()}: {err.strip()[-160:]}")
        after = sorted((p.name, p.stat().st_size) for p in run.iterdir())
        return "ok" if after == before else ("lost", "the read-only folder changed")

    def read_only_store():
        """sqlite3.connect patched as faults go on a read-only disk: a write-mode open fails, and so does a
        read-only one that needs its -shm file (tests/app/test_run_folders.py's idea): runs on any machine."""
        import sqlite3
        run = copy_run(root, tmp / "ro-patched" / "S")
        real = sqlite3.connect

        def connect(database, *args, **kw):
            if "mode=rw" in str(database) or ("mode=ro" in str(database) and "immutable=1" not in str(database)):
                raise sqlite3.OperationalError("unable to open database file")
            return real(database, *args, **kw)
        sqlite3.connect = connect
        try:
            results = [cli_case(argv, expect=0, good="ok") for argv in reading(run, tmp / "ro-patched-rep")]
        finally:
            sqlite3.connect = real
        return next((r for r in results if r != "ok"), "ok")

    def runs_bad_beside_good():
        run = copy_run(root, tmp / "mixed" / "S")
        (run.parent / "bad").mkdir()
        (run.parent / "bad" / "run.sqlite").write_bytes(b"not a database at all" * 100)
        code, out, err = run_cli(["runs", str(run.parent)])
        lines = out.strip().splitlines()[1:]
        if len(lines) != 2:
            return "refused", f"{len(lines)} runs listed of 2: {err.strip()[-150:]}"
        return judged(code, err)

    def corrupt_imports_json():
        from tests import releasehelp as rh
        data = tmp / "imports" / "data"
        data.mkdir(parents=True)
        (data / "imports.json").write_text('{"nb201/nb201_all_15625.csv": {"rows": 15625')   # cut short
        src = rh.write_zc_json(tmp / "imports" / "zc_nasbench201.json")
        code, _, err = run_cli(["data", "import", str(src), "--data-dir", str(data), "--quiet"])
        kept = [p for p in data.glob("imports.json.*") if p.read_text().endswith("15625")]
        if code == 0 and not kept:
            return "lost", "the damaged imports.json was not kept"
        return judged(code, err, expect=0, good="ok") if "note:" in err else ("silent acceptance", "no note")

    def symlinked_report():
        run = copy_run(root, tmp / "link" / "S")
        target = tmp / "elsewhere"
        target.mkdir()
        (run / "report").symlink_to(target)
        got = cli_case(["report", str(run)])
        return ("lost", f"written through the link: {list(target.iterdir())[:3]}") if list(target.iterdir()) else got

    def symlink_loop():
        run = copy_run(root, tmp / "loop" / "S")
        (run.parent / "loop").symlink_to(run.parent)
        (run.parent / "again").symlink_to(run)
        code, out, err = run_cli(["runs", str(run.parent)])
        listed = len(out.strip().splitlines()) - 1
        return judged(code, err, 0, "ok") if listed == 1 else ("silent acceptance", f"one run listed {listed} times")

    def edited_config():
        run = copy_run(root, tmp / "edited" / "S")
        edited = (run / "config.toml").read_text().replace("population = 20", "population = 50")
        (run / "config.toml").write_text(edited)
        code, _, err = run_cli(["search", "--resume", str(run), "--generations", "2", "--quiet"])
        if (run / "config.toml").read_text() != edited:
            return "lost", "the edited config.toml was overwritten"
        note = any(ln.startswith("note:") and "config.toml" in ln for ln in err.splitlines())
        return judged(code, err, 0, "ok") if note else ("silent acceptance", "no note that the edit is not used")

    def best_is_exported():
        from evoproxy.app.runs import run_status
        status = run_status(finished(root))
        first = exported(finished(root))
        first = first[0] if isinstance(first, list) else first
        differ = f"status best {status['best']!r}, export #1 {first['formula']!r}"
        return "ok" if status["best"] == first["formula"] else ("lost", differ)
    return {"a failed search leaves no run folder: a benchmark smaller than search_archs (30 networks)":
            lambda: failed_search(0, 30, None),
            "a failed search leaves no run folder: a NaN table":
            lambda: failed_search(1, 300, _set(COLUMN, {7: "nan"})),
            "a read-only run folder: status, runs, export, report --out (bind mount / chmod)": read_only_real,
            "a read-only run store: status, runs, export, report --out (sqlite write opens refused)": read_only_store,
            "runs: a damaged run beside a good one lists both": runs_bad_beside_good,
            "a corrupt imports.json is kept aside, with a note": corrupt_imports_json,
            "report through a symlinked RUN/report refused": symlinked_report,
            "runs through a symlink loop lists the run once": symlink_loop,
            "an edited RUN/config.toml is kept on resume, with a note": edited_config,
            "status's best is export's #1": best_is_exported}


def read_only_chmod(run: Path, argvs: list[list[str]], before: list) -> object:
    import stat
    modes = [(p, p.stat().st_mode) for p in [*run.iterdir(), run, run.parent]]
    for p, mode in modes:
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        results = [cli_case(argv, expect=0, good="ok") for argv in argvs]
        after = sorted((p.name, p.stat().st_size) for p in run.iterdir())
    finally:
        for p, mode in reversed(modes):
            p.chmod(mode)
    return next((r for r in results if r != "ok"), "ok" if after == before else ("lost", "the folder changed"))


# ---- 9. a network that shares its attention module --------------------------------------------------------

def shared_attention(tmp: Path) -> dict:
    import numpy as np
    import torch
    from torch import nn

    from evoproxy import load_proxy
    from evoproxy.lang.proxies import PROXIES
    from evoproxy.lang.ranks import all_network_parts, combine
    from evoproxy.scoring.score import score_network

    class Excite(nn.Module):   # squeeze-excitation, DIA-style: one instance for every block
        def __init__(self, c: int) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(c, c // 2), nn.Linear(c // 2, c)

        def forward(self, h):
            return h * torch.sigmoid(self.fc2(torch.relu(self.fc1(h.mean((2, 3))))))[:, :, None, None]

    class Net(nn.Module):
        def __init__(self, c: int = 8) -> None:
            super().__init__()
            self.stem, attention = nn.Conv2d(3, c, 3, padding=1), Excite(c)
            self.convs = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(3))
            self.attention, self.head = attention, nn.Linear(c, 10)

        def forward(self, x):
            h = torch.relu(self.stem(x))
            for conv in self.convs:
                h = torch.relu(h + self.attention(conv(h)))
            return self.head(h.mean((2, 3)))

    g = torch.Generator().manual_seed(0)
    batch = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))

    def one(name: str):
        torch.manual_seed(0)
        try:
            value = load_proxy(name)(Net(), batch)
        except EvoproxyError as e:
            return "refused", str(e)[:200]
        return "ok" if math.isfinite(value) else ("not finite", f"{value}")

    def aznas():
        """AZ-NAS ranks networks among each other: scored on three seeds of the network, as eval would."""
        program = PROXIES.get("aznas").program
        parts = all_network_parts([program])
        nets = []
        for seed in (0, 1, 2):
            torch.manual_seed(seed)
            nets.append(Net())
        try:
            matrix = np.array([score_network(net, parts, *batch) for net in nets]).T
        except EvoproxyError as e:
            return "refused", str(e)[:200]
        scores = combine([program], parts, matrix)
        return "ok" if np.isfinite(scores).all() else ("not finite", f"{scores.tolist()}")
    cases = {f"shared attention module: {n} finite": (lambda n=n: one(n)) for n in ("meco", "nwot", "zico", "swap")}
    cases["shared attention module: aznas finite (3 networks)"] = aznas
    return cases


GROUPS = {security: "security", report_csv: "report FILE.csv", full_disk: "full disks", data_dir: "data directory",
          config_extremes: "config extremes", show_plugins_help: "show, plugins, help texts",
          bad_tables: "bad tables", run_folders: "run folders", shared_attention: "a shared attention module"}


def main(argv=None) -> int:
    names = [g.__name__ for g in GROUPS]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout-s", type=float, default=180.0,
                    help="time bound of one case in this process (default 180; child processes have their own)")
    ap.add_argument("--only", default=",".join(names),
                    help="comma-separated groups to run (default: all: " + ", ".join(names) + ")")
    args = ap.parse_args(argv)
    if not set(args.only.split(",")) <= set(names):
        ap.error(f"--only {args.only}: groups are " + ", ".join(names))
    total, t_all = Counter(), time.time()
    with tempfile.TemporaryDirectory(prefix="issue39-") as tmp:
        for group, title in GROUPS.items():
            if group.__name__ not in args.only.split(","):
                continue
            t0 = time.time()
            results = faults.run_all(Path(tmp), lambda fn: bounded(args.timeout_s, fn), groups=(group,))
            rows = [(name, *((got, "") if isinstance(got, str) else got)) for name, got in results]
            counts = Counter(outcome for _, outcome, _ in rows)
            total += counts
            ordered = sorted(counts.items(), key=lambda kv: (kv[0] in FAILURES, -kv[1]))
            print(f"{len(rows)} {title} ({time.time() - t0:.0f} s): " + ", ".join(f"{k} {v}" for k, v in ordered))
            for name, outcome, detail in rows:
                detail = detail.replace(tmp, "TMP")[:300]
                print(f"    {outcome:<17} {name}" + (f"  [{detail}]" if detail else ""), flush=True)
    report(f"{sum(total.values())} faults of issue 39", total, time.time() - t_all, FAILURES)
    print(", ".join(f"{k} {total[k]}" for k in FAILURES))
    return 1 if any(total[k] for k in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
