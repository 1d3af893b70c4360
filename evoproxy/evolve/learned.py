"""Learned baselines: a model fitted on the run's own labelled networks, the alternative a researcher
would reach for instead of evolving a formula.

Each model in :data:`LEARNED` is trained per benchmark on the search and selection networks (the
labels the search used: their accuracies) with the run's baseline proxies as features, and predicts
the final-holdout networks' accuracy; its prediction is reported like a proxy's scores. ``graf``
adds the architecture's own features where the benchmark has them (``arch_features``: NB201's op
counts and paths, as in GRAF, Kadlecova et al., ICML 2024). scikit-learn is an optional extra
(``pip install 'evoproxy[learned]'``); without it the run says so in one line and reports none.
"""
from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from evoproxy.errors import EvoproxyNote
from evoproxy.registry import Registry

INSTALL = "pip install 'evoproxy[learned]' (scikit-learn)"


@dataclass(frozen=True)
class LearnedModel:
    name: str
    make: Callable[[int], object]
    """``make(seed)``: an unfitted scikit-learn regressor (``fit``, ``predict``)."""
    uses_arch: bool = False
    """Adds the benchmark's ``arch_features`` (skipped where a benchmark has none)."""


LEARNED: Registry[LearnedModel] = Registry("learned model")


def register_learned(model: LearnedModel) -> LearnedModel:
    return LEARNED.add(model.name, model)


def _forest(seed: int):
    from sklearn.ensemble import RandomForestRegressor
    return RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1)


def _boosted(seed: int):
    from sklearn.ensemble import GradientBoostingRegressor
    return GradientBoostingRegressor(n_estimators=300, learning_rate=0.05, max_depth=3, subsample=0.8,
                                     random_state=seed)


register_learned(LearnedModel("random_forest", _forest))
register_learned(LearnedModel("boosted", _boosted))
register_learned(LearnedModel("graf", _forest, uses_arch=True))


def available() -> bool:
    """Whether scikit-learn is installed (one note otherwise, from :func:`skip_note`)."""
    return importlib.util.find_spec("sklearn") is not None


def skip_note(names) -> None:
    warnings.warn(f"learned baselines ({', '.join(names)}) skipped: {INSTALL}", EvoproxyNote, stacklevel=2)


def squash(x: np.ndarray) -> np.ndarray:
    """sign(x) log(1 + |x|): monotone, so a tree sees the same order, and within float32's range."""
    return np.sign(x) * np.log1p(np.abs(x))


def clean(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite features: each column squashed; NaN and -inf below its training minimum, +inf above
    its maximum (a proxy that fails on a network ranks it lowest, as in every figure here)."""
    train, test = squash(np.asarray(train, float)), squash(np.asarray(test, float))
    out = []
    for cols in (train, test):
        cols = cols.copy()
        for j in range(cols.shape[1]):
            seen = train[:, j][np.isfinite(train[:, j])]
            low, high = (seen.min(), seen.max()) if seen.size else (0.0, 0.0)
            column = cols[:, j]
            column[np.isnan(column) | (column == -np.inf)] = low - 1.0
            column[column == np.inf] = high + 1.0
        out.append(cols)
    return out[0], out[1]


def fit_predict(model: LearnedModel, seed: int, train_x: np.ndarray, train_y: np.ndarray,
                test_x: np.ndarray) -> np.ndarray:
    """The model fitted on ``(train_x, train_y)``, predicting ``test_x`` (networks x features)."""
    train_x, test_x = clean(train_x, test_x)
    regressor = model.make(seed)
    regressor.fit(train_x, np.asarray(train_y, float))
    return np.asarray(regressor.predict(test_x), float)


def arch_matrix(features: list[Optional[dict]]) -> Optional[np.ndarray]:
    """Networks x architecture features, or None when any network has none."""
    if not features or any(f is None for f in features):
        return None
    names = sorted(features[0])
    return np.array([[f[n] for n in names] for f in features], float)

