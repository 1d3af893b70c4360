"""Image releases (CIFAR-10/100 python version, ImageNet16-120) become lossless packs that probe
batches, `auto` probing and training read; downloads are checked and resumed against a local server."""
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch

from evoproxy.app.data_import import import_path
from evoproxy.data import download as dl
from evoproxy.data.images import load_probe_batch, normalise
from evoproxy.data.packs import find_pack
from evoproxy.errors import EvoproxyError
from tests import releasehelp as rh


@pytest.mark.parametrize("dataset,gz", [("cifar10", True), ("cifar100", False)])
def test_cifar_release_becomes_packs_the_probe_reads(tmp_path, dataset, gz):
    src, truth = rh.write_cifar(tmp_path / "dl", dataset, gz=gz)
    importer, root, written = import_path(str(src), str(tmp_path / "data"))
    assert importer.name == "images" and sorted(written.values()) == sorted(len(v[1]) for v in truth.values())
    for split, (images, labels) in truth.items():
        pack = find_pack(dataset, split, root)
        assert np.array_equal(pack.images(range(len(pack))), images) and np.array_equal(pack.labels, labels)
    source = dataset if dataset == "cifar10" else "cifar100"
    batch = load_probe_batch(source, 4, seed=1, data_dir=root)
    idx = np.random.default_rng(1).choice(len(truth["train"][1]), 4, replace=False)
    assert torch.equal(batch.x, normalise(truth["train"][0][idx], dataset)) and "data directory" in batch.label


def test_auto_probe_uses_the_benchmarks_own_images_when_present(tmp_path):
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.benchmarks.base import Benchmark
    bench = get_benchmark("nb201-cifar100", str(tmp_path))
    assert isinstance(bench, Benchmark) and bench.image_set == "cifar100"
    without = load_probe_batch("auto", 16, 0, str(tmp_path), bench.image_set)
    assert "SUBSTITUTE for cifar100" in without.label and "EMBEDDED" in without.label
    same = load_probe_batch("cifar10", 16, 0, str(tmp_path))
    assert torch.equal(without.x, same.x)      # the substitute is exactly the CIFAR-10 batch
    src, _ = rh.write_cifar(tmp_path / "dl", "cifar100", n=20)
    import_path(str(src), str(tmp_path))
    with_own = load_probe_batch("auto", 16, 0, str(tmp_path), bench.image_set)
    assert with_own.label.startswith("cifar100-train") and "SUBSTITUTE" not in with_own.label
    c10 = load_probe_batch("auto", 16, 0, str(tmp_path), "cifar10")
    assert "SUBSTITUTE" not in c10.label and torch.equal(c10.x, same.x)


def test_imagenet16_keeps_classes_1_to_120_and_probes_at_16_pixels(tmp_path):
    src = rh.write_imagenet16(tmp_path / "dl", n=40)
    _, root, written = import_path(str(src), str(tmp_path / "data"))
    pack = find_pack("imagenet16", "train", root)
    assert 0 < len(pack) < 400 and pack.labels.min() >= 0 and pack.labels.max() <= 119
    batch = load_probe_batch("auto", 8, 0, str(root), "imagenet16")
    assert batch.x.shape == (8, 3, 16, 16) and batch.label.startswith("imagenet16-train")
    from evoproxy.benchmarks import get_benchmark
    net = get_benchmark("nb201-imagenet16").build(0)
    assert net(batch.x).shape == (8, 120)


def test_a_release_folder_is_also_a_probe_source_and_code_is_refused(tmp_path):
    src, truth = rh.write_cifar(tmp_path, "cifar10", gz=False)
    batch = load_probe_batch(str(src), 4, seed=0)
    assert "user file" in batch.label and batch.x.shape == (4, 3, 32, 32)
    marker = tmp_path / "pwned"
    from tests.data.test_data_import import _RunsCode
    import pickle
    (src / "data_batch_3").write_bytes(pickle.dumps({b"data": _RunsCode(marker), b"labels": [0]}))
    with pytest.raises(EvoproxyError, match="system") as err:
        import_path(str(src), str(tmp_path / "data"))
    assert "\n" not in str(err.value) and not marker.exists()
    with pytest.raises(EvoproxyError, match="release"):
        load_probe_batch(str(tmp_path / "data"), 4)


def test_a_tarball_with_the_official_name_must_have_the_published_md5(tmp_path):
    src, _ = rh.write_cifar(tmp_path, "cifar10", prefix="")
    assert src.name == "cifar-10-python.tar.gz"
    with pytest.raises(EvoproxyError, match="md5 .* is not the published c58f3010") as err:
        import_path(str(src), str(tmp_path / "data"))
    assert "\n" not in str(err.value) and not (tmp_path / "data" / "images").exists()


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file, honouring ``Range: bytes=N-``; ``cut`` drops the connection after that many bytes."""
    payload, cut, requests = b"", None, []

    def do_GET(self):
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        type(self).requests.append(start)
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut is not None:
            body, type(self).cut = body[:type(self).cut], None
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    src, truth = rh.write_cifar(tmp_path / "origin", "cifar10")
    _RangeHandler.payload, _RangeHandler.requests = src.read_bytes(), []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    source = dl.Source("tiny", f"http://127.0.0.1:{httpd.server_port}/c.tar.gz", "tiny-cifar-10-python.tar.gz",
                       "md5", hashlib.md5(_RangeHandler.payload).hexdigest(), "test")
    yield source, truth
    httpd.shutdown()
    httpd.server_close()


def test_download_resumes_checks_and_imports(tmp_path, server, monkeypatch):
    source, truth = server
    _RangeHandler.cut = 1000                      # the first attempt breaks off after 1000 bytes
    seen = []
    with pytest.raises(EvoproxyError, match="run the same command again"):
        dl.download(source, tmp_path / "dl", lambda done, total: seen.append((done, total)), timeout=5)
    part = tmp_path / "dl" / (source.filename + ".part")
    assert part.stat().st_size == 1000
    path = dl.download(source, tmp_path / "dl", lambda done, total: seen.append((done, total)), timeout=5)
    assert _RangeHandler.requests == [0, 1000] and path.read_bytes() == _RangeHandler.payload
    assert seen[-1] == (len(_RangeHandler.payload), len(_RangeHandler.payload)) and not part.exists()
    monkeypatch.setitem(dl.SOURCES, "tiny", source)
    from evoproxy.app.data_import import download_and_import
    archive, root, written = download_and_import("tiny", str(tmp_path / "data"))
    assert _RangeHandler.requests == [0, 1000, 0] and len(written) == 2
    assert np.array_equal(find_pack("cifar10", "test", root).labels, truth["test"][1])


def test_a_download_with_the_wrong_checksum_is_deleted(tmp_path, server):
    source, _ = server
    bad = dl.Source(source.name, source.url, source.filename, "md5", "0" * 32, "test")
    with pytest.raises(EvoproxyError, match="does not match") as err:
        dl.download(bad, tmp_path / "dl", timeout=5)
    assert "\n" not in str(err.value) and not list((tmp_path / "dl").iterdir())
    with pytest.raises(EvoproxyError, match="no download named"):
        from evoproxy.app.data_import import download_and_import
        download_and_import("nosuch", str(tmp_path))
