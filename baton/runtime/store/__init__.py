"""The durable event store of the local runtime (SQLite)."""

from baton.runtime.store.errors import LeaseLost, RunExists, StoreError, UnknownRun
from baton.runtime.store.lease import LeaseHolder, new_owner
from baton.runtime.store.records import Batch, InboxRequest, RunSummary
from baton.runtime.store.sqlite import Store, db_path

__all__ = [
    "Batch",
    "InboxRequest",
    "LeaseHolder",
    "LeaseLost",
    "RunExists",
    "RunSummary",
    "Store",
    "StoreError",
    "UnknownRun",
    "db_path",
    "new_owner",
]
