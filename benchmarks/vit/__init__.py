"""ViT students distilled from a CNN teacher: the published Auto-Prox tables and the one built
here (:mod:`.benchmark`), and that table's build (:mod:`.build`)."""
from .benchmark import DATASETS, ViTBenchmark, load_built, load_published

__all__ = ["DATASETS", "ViTBenchmark", "load_built", "load_published"]
