"""Data directory resolution order and missing-file messages."""
import pytest

from evoproxy.data import paths as data
from evoproxy.data.paths import ENV_VAR, data_file, describe_data_dir, resolve_data_dir
from evoproxy.errors import DataMissing


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Four existing candidate folders; the env var and the checkout copy point at two of them."""
    made = {k: tmp_path / k for k in ("explicit", "env", "checkout", "xdg")}
    for p in made.values():
        p.mkdir()
    monkeypatch.setenv(ENV_VAR, str(made["env"]))
    monkeypatch.setattr(data, "checkout_data_dir", lambda: made["checkout"])
    monkeypatch.setenv("XDG_DATA_HOME", str(made["xdg"]))
    (made["xdg"] / "evoproxy" / "data").mkdir(parents=True)
    return made


def test_order_explicit_env_checkout_user(dirs, monkeypatch):
    assert resolve_data_dir(dirs["explicit"]) == dirs["explicit"]
    assert resolve_data_dir(str(dirs["explicit"])) == dirs["explicit"]
    assert resolve_data_dir() == dirs["env"]
    monkeypatch.setenv(ENV_VAR, "")  # empty counts as unset
    assert resolve_data_dir() == dirs["checkout"]
    monkeypatch.setattr(data, "checkout_data_dir", lambda: dirs["checkout"] / "absent")
    assert resolve_data_dir() == dirs["xdg"] / "evoproxy" / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(dirs["xdg"] / "absent"))
    assert resolve_data_dir() is None


def test_missing_explicit_or_env_dir_is_an_error(dirs, monkeypatch):
    with pytest.raises(DataMissing, match="--data-dir"):
        resolve_data_dir(dirs["explicit"] / "typo")
    monkeypatch.setenv(ENV_VAR, str(dirs["env"] / "typo"))
    with pytest.raises(DataMissing, match=ENV_VAR):
        resolve_data_dir()


def test_checkout_dir_is_beside_the_repo():
    assert data.checkout_data_dir().parts[-2:] == ("shared", "data")


def test_data_file_found_and_missing(dirs):
    (dirs["env"] / "nb201").mkdir()
    (dirs["env"] / "nb201" / "t.csv").write_text("x\n")
    assert data_file("nb201/t.csv") == dirs["env"] / "nb201" / "t.csv"
    with pytest.raises(DataMissing) as err:
        data_file("nb201/missing.csv")
    msg = str(err.value)
    assert "\n" not in msg
    assert str(dirs["env"] / "nb201" / "missing.csv") in msg
    assert "--data-dir" in msg and ENV_VAR in msg


def test_data_file_without_any_dir(dirs, monkeypatch):
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setattr(data, "checkout_data_dir", lambda: dirs["checkout"] / "absent")
    monkeypatch.setenv("XDG_DATA_HOME", str(dirs["xdg"] / "absent"))
    with pytest.raises(DataMissing) as err:
        data_file("images/x.npz")
    assert "\n" not in str(err.value) and "images/x.npz" in str(err.value)
    assert "no data directory" in describe_data_dir()


def test_describe(dirs):
    assert describe_data_dir() == f"{dirs['env']} ({ENV_VAR})"
    assert describe_data_dir(dirs["explicit"]).endswith("(--data-dir)")
    assert describe_data_dir(dirs["explicit"] / "typo").startswith("invalid:")


def test_the_checkout_data_dir_is_shared_data_beside_the_checkout():
    """The default data directory does not move when the module does: <checkout>/../shared/data."""
    from pathlib import Path

    from evoproxy.data.paths import checkout_data_dir

    checkout = Path(__file__).resolve().parents[2]
    assert checkout_data_dir() == checkout.parent / "shared" / "data"


def test_data_status_says_what_is_embedded_and_what_is_missing(tmp_path, capsys):
    from evoproxy.cli import main

    assert main(["data", "status", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[3:]}
    assert "EMBEDDED" in rows["nb201/nb201_all_15625.csv"]
    assert "EMBEDDED" in rows["images/cifar10_train_jpeg_bytes.npz"] and "for the rest" in rows[
        "images/cifar10_train_jpeg_bytes.npz"]
    assert "MISSING" in rows["images/cifar10_test_jpeg_bytes.npz"] and "MISSING" in rows["vit/gt_pit.csv"]
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "gt_pit.csv").write_text("arch_json\n")
    main(["data", "status", "--data-dir", str(tmp_path)])
    assert f"data directory: {tmp_path / 'vit' / 'gt_pit.csv'}" in capsys.readouterr().out
