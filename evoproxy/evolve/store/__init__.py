"""A run on disk: the SQLite run store (:mod:`.runstore`) and its value codec (:mod:`.codec`), the
readable files beside it (:mod:`.rundir`) and the one-writer lock (:mod:`.lock`)."""
from evoproxy.evolve.store.failures import damaged_store
from evoproxy.evolve.store.runstore import DB_NAME, SCHEMA_VERSION, CandidateRow, RunStore

__all__ = ["DB_NAME", "SCHEMA_VERSION", "CandidateRow", "RunStore", "damaged_store"]
