"""NAS-Bench-Suite-Zero: NASLib's reference proxies on NB201 (:mod:`.proxies`), the NB101 and
NB301 spaces it sampled (:mod:`.spaces`), and the import of its JSON release (:mod:`.release`)."""
from .proxies import SUITE_ZERO, load_suite_zero, reference_spearman
from .spaces import SuiteZeroSpace, load_suite_zero_space

__all__ = ["SUITE_ZERO", "SuiteZeroSpace", "load_suite_zero", "load_suite_zero_space", "reference_spearman"]
