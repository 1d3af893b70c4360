"""Hostile data-directory files are one line, exit 2, nothing written or lost (issue 39): an NB201 table that is
not UTF-8 text, a JPEG image pack whose offsets do not cut its bytes into one image per label, image labels outside
the dataset's classes (packs and releases), and NASLib Suite-Zero JSON that is too deep, of the wrong type, or holds
numbers no accuracy can be. Each case goes through the command line a user runs."""
import io
import json

import numpy as np
import pytest

from evoproxy.cli import main
from evoproxy.data.images import load_probe_batch
from tests import releasehelp as rh


def _one_line_error(capsys, rc, *names):
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("evoproxy: error: ") and "Traceback" not in err, err
    for name in names:
        assert str(name) in err, err
    return err


def _eval(root, *args):
    return main(["eval", "--data-dir", str(root), "--proxy", "grad_norm", "--archs", "3", "--quiet", *args])


# ---- 1. an NB201 table that is not UTF-8 CSV text ---------------------------------------------------------

_HEADER = "index,arch_str,naslib_op_indices,cifar10_test_200ep\n"
_TABLES = {
    "latin-1": (_HEADER + "0,|caf\xe9~0|+|none~0|none~1|+|none~0|none~1|none~2|,111111,50.0\n").encode("latin-1"),
    "binary": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
    "nul bytes": b"\x00" * 4000,
    "utf-16": (_HEADER + "0,x,111111,50.0\n").encode("utf-16"),
    "empty": b"",
}


@pytest.mark.parametrize("content", _TABLES.values(), ids=_TABLES.keys())
def test_an_nb201_table_that_is_not_utf8_csv_is_one_line_and_keeps_the_saved_scores(tmp_path, capsys, content):
    table = tmp_path / "data" / "nb201" / "nb201_all_15625.csv"
    table.parent.mkdir(parents=True)
    table.write_bytes(content)
    saved = tmp_path / "scores.csv"
    saved.write_text("arch_id,accuracy,params\n0,50.0,1.0\n")
    rc = _eval(tmp_path / "data", "--probe", "synthetic", "--save", str(saved))
    _one_line_error(capsys, rc, table)
    assert saved.read_text() == "arch_id,accuracy,params\n0,50.0,1.0\n"   # nothing computed before is lost


@pytest.mark.parametrize("content", [_TABLES["latin-1"], _TABLES["binary"], _TABLES["nul bytes"]],
                         ids=["latin-1", "binary", "nul bytes"])
def test_a_suite_zero_table_that_is_not_utf8_csv_is_one_line(tmp_path, capsys, content):
    table = tmp_path / "nb201" / "nb201_zc_proxies_725x3_naslib.csv"
    table.parent.mkdir(parents=True)
    table.write_bytes(content)
    _one_line_error(capsys, _eval(tmp_path, "--archs", "suite-zero", "--probe", "synthetic"), table)


# ---- 2. a JPEG image pack whose offsets do not fit its bytes ----------------------------------------------

N = 8


def _jpegs(n=N):
    from PIL import Image
    rng, blobs = np.random.default_rng(1), []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG", quality=75)
        blobs.append(buf.getvalue())
    return blobs


def _jpeg_pack(root, data=None, offsets=None, labels=None):
    blobs = _jpegs()
    good_offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    path = root / "images" / "cifar10_train_jpeg_bytes.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, data=np.frombuffer(b"".join(blobs), np.uint8) if data is None else data(blobs),
             offsets=good_offsets if offsets is None else offsets(good_offsets),
             labels=np.arange(N, dtype=np.uint8) % 10 if labels is None else labels)
    return path


def test_the_pack_the_hostile_cases_start_from_is_good(tmp_path):
    _jpeg_pack(tmp_path)
    batch = load_probe_batch("cifar10", N, 0, tmp_path)
    assert "data directory" in batch.label and sorted(batch.y.tolist()) == list(range(N))


_OFFSETS = {
    "too short": (lambda o: o[:4], "offsets has 4 entries for 8 labels"),
    "one too many": (lambda o: np.append(o, o[-1] + 10), "offsets has 10 entries for 8 labels"),
    "past the bytes": (lambda o: o * 2, "not from 0 to the"),
    "not from 0": (lambda o: o + 3, "offsets run from 3"),
    "backwards": (lambda o: o[[0, 2, 1, 3, 4, 5, 6, 7, 8]], "1 images are empty or run backwards (first: image 1, -"),
    "an empty image": (lambda o: o[[0, 1, 1, 3, 4, 5, 6, 7, 8]], "empty or run backwards (first: image 1, 0 bytes)"),
    "float": (lambda o: o.astype(np.float64), "offsets is float64"),
    "2-D": (lambda o: np.stack([o, o]), "offsets is int64 of shape (2, 9)"),
}


@pytest.mark.parametrize("change, says", _OFFSETS.values(), ids=_OFFSETS.keys())
def test_a_jpeg_pack_whose_offsets_do_not_fit_is_one_line(tmp_path, capsys, change, says):
    path = _jpeg_pack(tmp_path, offsets=change)
    err = _one_line_error(capsys, _eval(tmp_path, "--probe", "cifar10", "--batch-size", "4"), path, says)
    assert "not a consistent JPEG image pack" in err and "re-copy it" in err


def test_a_jpeg_pack_whose_bytes_are_not_bytes_or_labels_too_few_is_one_line(tmp_path, capsys):
    path = _jpeg_pack(tmp_path, data=lambda blobs: np.frombuffer(b"".join(blobs), np.uint8).astype(np.int64))
    _one_line_error(capsys, _eval(tmp_path, "--probe", "cifar10", "--batch-size", "4"), path, "data is int64")
    path = _jpeg_pack(tmp_path / "short", labels=np.zeros(4, np.uint8))
    _one_line_error(capsys, _eval(tmp_path / "short", "--probe", "cifar10", "--batch-size", "4"), path,
                    "offsets has 9 entries for 4 labels")


# ---- 3. labels outside the dataset's classes ---------------------------------------------------------------

_LABELS = {
    "10 of 10 classes": (np.array([0, 1, 2, 10, 4, 5, 10, 7], np.uint8), "2 of its 8 labels are outside 0..9"),
    "200": (np.array([0, 1, 2, 3, 200, 5, 6, 7], np.uint8), "first: image 4, label 200"),
    "negative": (np.array([0, 1, 2, 3, 4, 5, 6, -1], np.int64), "first: image 7, label -1"),
    "float": (np.arange(N, dtype=np.float32) + 0.5, "labels are float32"),
    "2-D": (np.zeros((2, N), np.uint8), "labels are uint8 of shape (2, 8)"),
    "text": (np.array(["cat"] * N), "not one integer class per image"),
}


@pytest.mark.parametrize("labels, says", _LABELS.values(), ids=_LABELS.keys())
def test_jpeg_pack_labels_outside_the_classes_are_one_line(tmp_path, capsys, labels, says):
    path = _jpeg_pack(tmp_path, labels=labels)
    _one_line_error(capsys, _eval(tmp_path, "--probe", "cifar10", "--batch-size", "4"), path, says)


@pytest.mark.parametrize("dataset, side, bad, says", [
    ("cifar100", 32, 100, "outside 0..99 (cifar100 has 100 classes"),
    ("cifar100", 32, -3, "label -3"),
    ("imagenet16", 16, 120, "outside 0..119 (imagenet16 has 120 classes")])
def test_raw_pack_labels_outside_the_classes_are_one_line(tmp_path, capsys, dataset, side, bad, says):
    path = tmp_path / "images" / f"{dataset}_train_uint8.npz"
    path.parent.mkdir()
    labels = np.arange(N, dtype=np.int64)
    labels[5] = bad
    np.savez(path, images=np.zeros((N, side, side, 3), np.uint8), labels=labels)
    rc = _eval(tmp_path, "--benchmark", f"nb201-{dataset}", "--probe", dataset, "--batch-size", "4")
    _one_line_error(capsys, rc, path, says, "first: image 5")


def test_a_raw_pack_of_the_wrong_image_size_is_one_line(tmp_path, capsys):
    path = tmp_path / "images" / "cifar100_train_uint8.npz"
    path.parent.mkdir()
    np.savez(path, images=np.zeros((N, 16, 16, 3), np.uint8), labels=np.arange(N))
    rc = _eval(tmp_path, "--benchmark", "nb201-cifar100", "--probe", "cifar100", "--batch-size", "4")
    _one_line_error(capsys, rc, path, "expected uint8 N x 32 x 32 x 3 images")


def _release_with_label(tmp_path, label):
    folder, _ = rh.write_cifar(tmp_path / "dl", "cifar10", gz=False)
    blob, _ = rh.image_batch(6, 32, [0, 1, 2, label, 4, 5], "labels", "bytes", 3)
    (folder / "data_batch_3").write_bytes(blob)
    return folder


@pytest.mark.parametrize("label", [10, -1])
def test_a_release_with_labels_outside_the_classes_is_refused_before_anything_is_written(tmp_path, capsys, label):
    folder = _release_with_label(tmp_path, label)
    rc = main(["data", "import", str(folder), "--data-dir", str(tmp_path / "data"), "--quiet"])
    _one_line_error(capsys, rc, f"{folder}:data_batch_3", f"first: image 3, label {label}")
    assert not (tmp_path / "data" / "images").exists()
    rc = _eval(tmp_path, "--probe", str(folder), "--batch-size", "4")   # a release read as the probe directly
    _one_line_error(capsys, rc, "data_batch_3", "outside 0..9")


# ---- 4. NASLib zc_nasbench201.json imports -----------------------------------------------------------------

_ENTRY = '{"id": 0, "val_accuracy": ACC, "flops": {"score": SCORE, "time": 0.1}}'


def _zc(acc="50.0", score="1.0", extra=""):
    one = _ENTRY.replace("ACC", "50.0").replace("SCORE", "1.0")
    two = _ENTRY.replace("ACC", acc).replace("SCORE", score)
    return '{"cifar10": {"(0, 0, 0, 0, 0, 0)": ' + one + ', "(1, 2, 3, 4, 0, 1)": ' + two + "}" + extra + "}"


DEEP = 200_000
_JSON = {
    "200k-deep arrays": ('{"cifar10": ' + "[" * DEEP + "]" * DEEP + "}", "nested deeper than any NASLib file"),
    "200k-deep objects": ('{"cifar10": ' + '{"a":' * DEEP + "1" + "}" * DEEP + "}", "nested deeper"),
    "cifar100 is 5": (_zc(extra=', "cifar100": 5'), "cifar100 holds a int, not NASLib's mapping"),
    "10^400 accuracy": (_zc(acc="1" + "0" * 400), "OverflowError"),
    "1e400 accuracy": (_zc(acc="1e400"), "has 1 infinite of its 2 accuracies"),
    "5,000-digit accuracy": (_zc(acc="7" * 5000), "an integer of more than 4300 digits"),
    "5,000-digit score": (_zc(score="7" * 5000), "an integer of more than 4300 digits"),
    "true accuracy": (_zc(acc="true"), "true where a number belongs"),
    "false score": (_zc(score="false"), "false where a number belongs"),
}


@pytest.mark.parametrize("text, says", _JSON.values(), ids=_JSON.keys())
def test_a_hostile_suite_zero_json_is_one_line_and_writes_nothing(tmp_path, capsys, text, says):
    src = tmp_path / "zc_nasbench201.json"
    src.write_text(text)
    data = tmp_path / "data"
    data.mkdir()
    record = data / "imports.json"
    record.write_text('{"earlier.csv": {"source": "x"}}\n')
    rc = main(["data", "import", str(src), "--data-dir", str(data)])   # no --quiet: no progress bar either
    _one_line_error(capsys, rc, src, says)
    assert sorted(p.name for p in data.iterdir()) == ["imports.json"]      # no table written
    assert json.loads(record.read_text()) == {"earlier.csv": {"source": "x"}}   # earlier records kept


def test_the_suite_zero_json_the_hostile_cases_start_from_imports(tmp_path, capsys):
    src = tmp_path / "zc_nasbench201.json"
    src.write_text(_zc())
    assert main(["data", "import", str(src), "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr()
    assert out.err == "" and (tmp_path / "data" / "nb201" / "nb201_zc_proxies_725x3_naslib.csv").is_file()


def test_a_probe_of_more_classes_than_the_networks_output_is_one_line_in_eval_and_search(tmp_path, capsys):
    """CIFAR-100 images for CIFAR-10 networks: the loss was an IndexError traceback ("Target 65 is out of bounds")."""
    path = tmp_path / "images" / "cifar100_train_uint8.npz"
    path.parent.mkdir()
    np.savez(path, images=np.zeros((200, 32, 32, 3), np.uint8), labels=np.arange(200) % 100)
    _one_line_error(capsys, _eval(tmp_path, "--benchmark", "nb201-cifar10", "--probe", "cifar100"),
                    "output 10 classes", "cifar100")
    rc = main(["search", "--data-dir", str(tmp_path), "--benchmark", "nb201-cifar10", "--set", 'probe="cifar100"',
               "--out", str(tmp_path / "R"), "--generations", "1", "--quiet"])
    assert rc == 2 and "output 10 classes" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "R").exists()


@pytest.mark.parametrize("content", [
    "arch_json,c100_kd_acc\n\"{\"\"base_dim\"\": 16}\",caf\xe9\n".encode("latin-1"),     # latin-1, text accuracy
    b"arch_json,c100_kd_acc\n{not json,70.0\n",                                          # arch_json not JSON
    bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))])             # binary
def test_a_vit_ground_truth_table_that_is_not_utf8_csv_is_one_line(tmp_path, capsys, content):
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "gt_pit.csv").write_bytes(content)
    _one_line_error(capsys, _eval(tmp_path, "--benchmark", "vit-pit-c100"), "gt_pit.csv", "re-copy it")
