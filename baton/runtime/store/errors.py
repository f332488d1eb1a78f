"""What the store reports: each a clear sentence for the command line, never a traceback."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used: missing, corrupt, written by a newer Baton."""


class UnknownRun(StoreError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"unknown run '{run_id}' (see `baton runs`)")
        self.run_id = run_id


class RunExists(StoreError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run '{run_id}' already exists")
        self.run_id = run_id


class LeaseLost(StoreError):
    """Another process took the run over: this one must stop driving it."""

    def __init__(self, run_id: str, holder: str | None) -> None:
        super().__init__(f"run '{run_id}' is now driven by another process ({holder or 'none'})")
        self.run_id = run_id
        self.holder = holder
