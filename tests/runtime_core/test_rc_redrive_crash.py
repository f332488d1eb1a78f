"""Redrive crash safety on the local backend: SIGKILL at every event boundary of a
`baton retry`, then `baton resume`: the same final state as an uncrashed redrive,
committed steps never run again, nothing committed twice, fold == stored state.

The failed run is made once and its database copied for each crash point.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rc_support import baton, ledger, normalized, shown

from baton.runtime.core.apply import fold
from baton.runtime.store import Store

RUN = "rd"
INPUT = json.dumps({"topic": "tea"})


def _count(db: Path) -> int:
    with Store(db) as store:
        return len(store.load_events(RUN))


def _fresh(base: Path, name: str, failed: Path) -> Path:
    tmp = base / name
    tmp.mkdir()
    shutil.copy(failed / "baton.db", tmp / "baton.db")
    (tmp / "left.fixed").write_text("")
    return tmp


def test_sigkill_at_every_event_boundary_of_a_redrive(tmp_path: Path) -> None:
    failed = tmp_path / "failed"
    failed.mkdir()
    started = baton(failed, "run", "rc_workflows:REDRIVE", "--input", INPUT, "--run-id", RUN)
    assert started.returncode == 1, (started.stdout, started.stderr)
    before = _count(failed / "baton.db")

    reference = _fresh(tmp_path, "reference", failed)
    clean = baton(reference, "retry", RUN, "--as", "alice")
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    expected = normalized(shown(reference, RUN))
    added = _count(reference / "baton.db") - before
    assert added > 8
    ignore = {"last_seq": 0}

    for kill_after in range(1, added):
        tmp = _fresh(tmp_path, f"kill{kill_after}", failed)
        crashed = baton(
            tmp,
            "retry",
            RUN,
            "--as",
            "alice",
            extra_env={"BATON_TEST_KILL_AFTER_EVENT": str(kill_after)},
        )
        if crashed.returncode == 0:
            break  # the last commit held every remaining event: no boundary left
        assert crashed.returncode == -9, (kill_after, crashed.stdout, crashed.stderr)
        assert _count(tmp / "baton.db") - before >= kill_after
        with Store(tmp / "baton.db") as store:
            events = store.load_events(RUN)
            assert fold(events).to_json() == store.load_state(RUN).to_json()
        assert events[before].type == "run_redriven"
        resumed = baton(tmp, "resume", RUN)
        assert resumed.returncode == 0, (kill_after, resumed.stdout, resumed.stderr)
        final = shown(tmp, RUN)
        assert normalized(final) | ignore == expected | ignore, kill_after
        with Store(tmp / "baton.db") as store:
            events = store.load_events(RUN)
            assert fold(events).to_json() == store.load_state(RUN).to_json()
        commits = [e.step for e in events if e.type == "step_committed"]
        assert len(commits) == len(set(commits)), kill_after  # nothing committed twice
        assert [e.type for e in events].count("run_redriven") == 1
        calls = ledger(tmp)
        # committed before the redrive: never called again
        assert [c["step"] for c in calls].count("fetch") == 0
        assert {c["step"] for c in calls} <= {"left", "right", "deliver", "summary"}
