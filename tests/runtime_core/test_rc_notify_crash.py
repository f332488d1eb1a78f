"""SIGKILL right after a `notification_failed` is durable, then resume: the same end as a
run that never crashed, each delivery made once (a redelivery carries the same
Idempotency-Key), a final failure never retried. A real receiver on 127.0.0.1 that
answers 500 to every try; real `baton` processes (the helpers of test_rc_notify)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rc_support import baton, normalized, rows
from test_rc_notify import QUICK_STEPS, RUN, _env, _events, _folds_to_stored, _key, _run, _sink
from test_rc_notify import _spec as spec_in
from webhook_receiver import receiver

from baton.runtime.store import Store

SINK = _sink("run_succeeded").replace("max_attempts: 3", "max_attempts: 2")


def _state(tmp: Path) -> dict[str, Any]:
    with Store(tmp / "baton.db") as store:
        state = normalized(store.load_state(RUN).to_json())
    return state | {"spec": None}  # each run's own wf.yaml


def _failures(events: list[dict[str, Any]]) -> list[tuple[int, bool]]:
    return [
        (e["data"]["attempts"], e["data"]["final"])
        for e in events
        if e["type"] == "notification_failed"
    ]


@pytest.mark.parametrize("final", [False, True], ids=["retried", "final"])
def test_sigkill_after_notification_failed_then_resume(tmp_path: Path, final: bool) -> None:
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    reference.mkdir()
    crashed.mkdir()
    with receiver(script=[500, 500]) as hook:
        done = _run(reference, spec_in(reference, QUICK_STEPS, SINK), _env(hook))
        assert done.returncode == 0, (done.stdout, done.stderr)
        expected = _events(reference)
        assert len(hook.keys()) == 2
    assert _failures(expected) == [(1, False), (2, True)]
    failed = [e for e in expected if e["type"] == "notification_failed"]
    kill_after = failed[int(final)]["seq"]

    with receiver(script=[500, 500]) as hook:
        env = _env(hook)
        spec = spec_in(crashed, QUICK_STEPS, SINK)
        died = _run(crashed, spec, {**env, "BATON_TEST_KILL_AFTER_EVENT": str(kill_after)})
        assert died.returncode == -9, (died.stdout, died.stderr)
        durable = rows(crashed / "baton.db", "SELECT type FROM events WHERE run_id = ?", RUN)
        assert durable[-1] == ("notification_failed",) and len(durable) == kill_after
        tried = len(hook.keys())
        assert tried == (2 if final else 1)
        again = baton(crashed, "resume", RUN, extra_env=env)
        assert again.returncode == 0, (again.stdout, again.stderr)
        events = _events(crashed)
        key = _key(events, "run_succeeded")
        # the retry owed was made once, under the same key; a final failure is not retried
        assert hook.keys() == [key, key]
        assert [r.headers["X-Baton-Delivery"] for r in hook.received] == ["1", "2"]
        assert baton(crashed, "resume", RUN, extra_env=env).returncode == 0
        assert len(hook.keys()) == 2  # nothing more is owed
    assert [e["type"] for e in events] == [e["type"] for e in expected]
    assert _failures(events) == _failures(expected)
    assert key == _key(expected, "run_succeeded")  # (run id, the event's seq, the sink)
    notified = [e["data"].get("notification") for e in events]
    assert notified == [e["data"].get("notification") for e in expected]
    assert _state(crashed) == _state(reference)
    _folds_to_stored(crashed)
