"""The thread rule every command runs under (see :mod:`evoproxy.scoring.cores`)."""
from evoproxy.scoring.cores import free_core_threads, free_cores

__all__ = ["free_core_threads", "free_cores"]
