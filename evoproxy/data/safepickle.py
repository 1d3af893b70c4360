"""Reading the pickles official releases ship, without ever running code from them.

A pickle can call any importable function while it loads. :class:`RestrictedUnpickler` resolves
only the globals of an allow-list (plain containers and numpy's array/scalar rebuilders; both
``numpy.core`` and ``numpy._core`` spellings, since the releases were written by numpy 1.x) and
refuses every other one with :class:`UnsafePickle` naming it. torch files go through
``torch.load(weights_only=True)`` with the same allow-list (:func:`torch_load_plain`).
"""
from __future__ import annotations

import codecs
import collections
import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import BinaryIO, Mapping, Union

import numpy as np

from evoproxy.errors import EvoproxyError

_RECONSTRUCT = np.zeros(1).__reduce__()[0]          # numpy's ndarray rebuilder
_SCALAR = np.float64(0).__reduce__()[0]             # numpy's scalar rebuilder
_DTYPE_CLASSES = {type(np.dtype(c)) for c in "?bhilqBHILQefdgFDGSUO"}


def _numpy_names(name: str, obj: object) -> dict[tuple[str, str], object]:
    return {(m, name): obj for m in ("numpy.core.multiarray", "numpy._core.multiarray")}


ARRAYS: Mapping[tuple[str, str], object] = {
    **_numpy_names("_reconstruct", _RECONSTRUCT), **_numpy_names("scalar", _SCALAR),
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,   # how protocol-2 pickles spell bytes (a pure conversion)
    **{("numpy.dtypes", c.__name__): c for c in _DTYPE_CLASSES},
}
"""numpy arrays and scalars (of any dtype: object elements go through the same allow-list)."""
CONTAINERS: Mapping[tuple[str, str], object] = {
    **ARRAYS, ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set, ("__builtin__", "frozenset"): frozenset,
}
"""Plain containers, numbers and strings: what NAS-Bench-201 / NATS-Bench results hold."""


class UnsafePickle(EvoproxyError):
    """A pickle asked for a global outside the allow-list (it could have run code)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``allowed``; any other raises :class:`UnsafePickle`."""

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], object], **kwargs):
        super().__init__(file, **kwargs)
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickle(f"global {module}.{name} is not allowed") from None


def load_restricted(data: Union[bytes, BinaryIO], where: Union[str, Path],
                    allowed: Mapping[tuple[str, str], object] = CONTAINERS, encoding: str = "ASCII") -> object:
    """Unpickle ``data`` through the allow-list; one line naming ``where`` for anything wrong."""
    f = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return RestrictedUnpickler(f, allowed, encoding=encoding).load()
    except UnsafePickle as err:
        raise UnsafePickle(f"refusing to read {where}: {err} (loading it could run code); "
                           "use the official release file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, OverflowError, MemoryError) as err:
        raise EvoproxyError(f"{where} is not a readable pickle ({type(err).__name__}: "
                            f"{str(err)[:100]}; truncated?); re-download it") from None


def torch_load_plain(path: Union[str, Path]) -> object:
    """A torch file of plain containers (no code), through ``weights_only=True`` + :data:`CONTAINERS`."""
    import torch
    safe = [(obj, f"{m}.{n}") for (m, n), obj in CONTAINERS.items()]
    try:
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError, zipfile.BadZipFile,
            KeyError, AttributeError, TypeError) as err:
        text = str(err)
        glob = re.search(r"GLOBAL ([\w.]+)", text)
        if glob:
            raise UnsafePickle(f"refusing to read {path}: global {glob.group(1)} is not allowed (loading it "
                               "could run code); use the official release file") from None
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(err).__name__)
        raise EvoproxyError(f"{path} is not a readable torch file ({first[:160]}; truncated?); "
                            "re-download it") from None
