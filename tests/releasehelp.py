"""Tiny files in the exact layouts of the official releases, for the import tests.

Layouts follow the releases' own loaders (nas_201_api, nats_bench, NASLib, the CIFAR page, NB201's
ImageNet16 loader) and, for NATS-Bench, the sample files in its repository's fake_torch_dir: keys,
nesting, tuple keys, numpy scalars, OrderedDicts, seeds and eval-set names as they appear there.
"""
import bz2
import collections
import io
import json
import pickle
import tarfile
import zlib

import numpy as np
import torch

ARCHS = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
         "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
         "|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|")
EVAL_SETS = {"cifar10-valid": ["x-valid", "ori-test"], "cifar10": ["ori-test"],
             "cifar100": ["ori-test", "x-valid", "x-test"], "ImageNet16-120": ["ori-test", "x-valid", "x-test"]}
SEEDS = {"12": {"cifar10-valid": [111, 777], "cifar10": [111], "cifar100": [111], "ImageNet16-120": [111]},
         "200": {d: [777, 888, 999] for d in EVAL_SETS}}


def acc(index: int, dataset: str, eval_set: str, seed: int, epoch: int) -> float:
    """A distinct, reproducible accuracy for every cell (so a wrong key shows)."""
    return round(10 + index * 7.1 + len(dataset) * 1.3 + len(eval_set) * 0.37 + seed / 1000 + epoch / 10, 6)


def arch_results(index: int, hp: str) -> dict:
    epochs = int(hp)
    all_results = {}
    for dataset, seeds in SEEDS[hp].items():
        for seed in seeds:
            sets = EVAL_SETS[dataset]
            all_results[(dataset, seed)] = {
                "name": dataset, "seed": f"{seed:04d}", "epochs": epochs, "params": np.float64(0.8),
                "flop": 113.9, "latency": [np.float64(0.016)], "net_state_dict": None,
                "train_times": collections.OrderedDict((e, 12.4) for e in range(epochs)),
                "arch_config": {"channel": 16, "num_cells": 5, "arch_str": ARCHS[index]},
                "eval_names": sets,
                "eval_acc1es": {f"{s}@{e}": acc(index, dataset, s, seed, e) for s in sets for e in range(epochs)},
            }
    return {"arch_index": index, "arch_str": ARCHS[index], "all_results": all_results,
            "dataset_seed": SEEDS[hp], "clear_net_done": True}


def expected_row(index: int) -> dict:
    """The table row the import must produce (see benchmarks/nb201/release.py's docstring)."""
    def mean(hp, dataset, eval_set, seeds=None):
        return round(float(np.mean([acc(index, dataset, eval_set, s, int(hp) - 1)
                                    for s in seeds or SEEDS[hp][dataset]])), 4)
    row = {}
    for ours, theirs in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("imagenet16", "ImageNet16-120")):
        c10 = ours == "cifar10"
        row[f"{ours}_test_200ep"] = mean("200", theirs, "ori-test" if c10 else "x-test")
        row[f"{ours}_valid_200ep_naslib"] = mean("200", "cifar10-valid" if c10 else theirs,
                                                 "ori-test" if c10 else "x-test", [888])
        row[f"{ours}_test_12ep"] = mean("12", theirs, "ori-test" if c10 else "x-test")
        row[f"{ours}_valid_12ep"] = mean("12", "cifar10-valid" if c10 else theirs, "x-valid")
    return row


def _pbz2(obj) -> bytes:
    return bz2.compress(pickle.dumps(obj, protocol=4))


def write_nats(root, evil=None):
    """``NATS-tss-v1_0-3ffb9-simple/`` with meta and one file per arch (``evil`` replaces arch 1)."""
    d = root / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir(parents=True)
    (d / "meta.pickle.pbz2").write_bytes(_pbz2({"meta_archs": list(ARCHS), "total_archs": len(ARCHS),
                                               "arch2infos": None, "evaluated_indexes": set()}))
    for i in range(len(ARCHS)):
        obj = collections.OrderedDict((hp, arch_results(i, hp)) for hp in ("12", "200"))
        (d / f"{i:06d}.pickle.pbz2").write_bytes(_pbz2(evil if evil is not None and i == 1 else obj))
    return d


def tar_of(folder, out):
    with tarfile.open(out, "w") as t:
        t.add(folder, arcname=folder.name)
    return out


def write_pth(path, evil=None, legacy=True):
    infos = {i: {"less": arch_results(i, "12"), "full": arch_results(i, "200")} for i in range(len(ARCHS))}
    if evil is not None:
        infos[1]["full"] = evil
    obj = {"meta_archs": list(ARCHS), "arch2infos": infos, "evaluated_indexes": set(range(len(ARCHS))),
           "total_archs": len(ARCHS)}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def write_zc_json(path):
    keys = ("(4, 3, 3, 0, 0, 0)", "(2, 2, 4, 1, 2, 4)", "(1, 0, 2, 3, 1, 4)")
    proxies = ("flops", "params", "synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain",
               "nwot", "epe_nas", "jacov", "snip", "zen")
    obj = {ds: {k: {"id": i, "val_accuracy": 80.0 + i + j, **{p: {"score": i * 10.0 + n + j, "time": 0.1}
                                                              for n, p in enumerate(proxies)}}
                for i, k in enumerate(keys)} for j, ds in enumerate(("cifar10", "cifar100", "ImageNet16-120"))}
    path.write_text(json.dumps(obj))
    return path


def image_batch(n: int, side: int, labels, label_key, encoding: str, seed: int):
    """``(pickle bytes, images NHWC)`` of one batch file as the release writes it."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)
    flat = images.transpose(0, 3, 1, 2).reshape(n, 3 * side * side)   # R plane, G plane, B plane
    k = (lambda s: s.encode()) if encoding == "bytes" else (lambda s: s)
    obj = {k("data"): flat, k(label_key): list(labels), k("batch_label"): k("tiny")}
    return pickle.dumps(obj, protocol=2), images


def write_cifar(root, dataset="cifar10", n=6, gz=True, prefix="tiny-"):
    """The python-version tarball (or folder when ``gz`` is False); ``{split: (images, labels)}``."""
    folder, names, key, classes = (("cifar-10-batches-py", {"train": [f"data_batch_{i}" for i in range(1, 6)],
                                   "test": ["test_batch"]}, "labels", 10) if dataset == "cifar10" else
                                   ("cifar-100-python", {"train": ["train"], "test": ["test"]}, "fine_labels", 100))
    files, out = {}, {}
    for split, batch_names in names.items():
        parts = []
        for j, name in enumerate(batch_names):
            labels = [(j * n + i) % classes for i in range(n)]
            files[f"{folder}/{name}"], images = image_batch(n, 32, labels, key, "bytes", zlib.crc32(name.encode()))
            parts.append((images, labels))
        out[split] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    if not gz:
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root / folder, out
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{prefix}{folder.split('-batches')[0].replace('-python', '')}-python.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path, out


def write_imagenet16(root, n=8):
    """NB201's ImageNet16 folder: labels 1..1000 (only 1..120 are ImageNet16-120)."""
    d = root / "ImageNet16"
    d.mkdir(parents=True)
    for j, name in enumerate([f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]):
        labels = [1 + (j * 97 + i * 131) % 1000 for i in range(n)]
        data, _ = image_batch(n, 16, labels, "labels", "str", j)
        (d / name).write_bytes(data)
    return d


NB101_KEYS = ("(0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, "
              "0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 2, 4, 3, 1)",
              "(0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 3, 1)")
NB301_KEYS = ("(((0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)), "
              "((1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)))",)


def write_space_zc_json(path, keys):
    """NASLib's zc_nasbench101/301.json layout: cifar10 only, NASLib's arch hash as key."""
    proxies = ("flops", "params", "synflow", "snip", "zen")
    obj = {"cifar10": {k: {"id": i, "val_accuracy": 90.0 + i, **{p: {"score": i * 10.0 + n, "time": 0.1}
                                                                  for n, p in enumerate(proxies)}}
                       for i, k in enumerate(keys)}}
    path.write_text(json.dumps(obj))
    return path
