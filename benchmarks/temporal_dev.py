"""The Temporal dev server for benchmarks: re-exports tests/temporal_server.py (one copy).

The start/stop logic lives in `tests/temporal_server.py` (pytest's fixture uses it too); this
module loads that file under its own module name, `temporal_server`, so a process that has it
already (pytest) shares the same module object.

    from temporal_dev import start_dev_server
    with start_dev_server(tmp_dir, persistent=True) as server:
        ...  # server.address == "127.0.0.1:PORT"
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SOURCE = Path(__file__).resolve().parent.parent / "tests" / "temporal_server.py"


def _load() -> ModuleType:
    existing = sys.modules.get("temporal_server")
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location("temporal_server", _SOURCE)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise ImportError(f"cannot load {_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["temporal_server"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


_module = _load()
TemporalDevServer = _module.TemporalDevServer
TemporalServerError = _module.TemporalServerError
find_temporal_cli = _module.find_temporal_cli
free_port = _module.free_port
start_dev_server = _module.start_dev_server

__all__ = [
    "TemporalDevServer",
    "TemporalServerError",
    "find_temporal_cli",
    "free_port",
    "start_dev_server",
]
