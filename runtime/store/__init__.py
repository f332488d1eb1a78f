"""The durable event store of the local runtime (SQLite)."""

from runtime.store.errors import LeaseLost, RunExists, StoreError, UnknownRun
from runtime.store.lease import LeaseHolder, new_owner
from runtime.store.records import Batch, InboxRequest, RunSummary
from runtime.store.sqlite import Store, db_path

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
