"""`baton --help` lists every command without importing any command module."""

from __future__ import annotations

import subprocess
import sys

from baton.cli import COMMANDS, SUMMARIES


def test_every_command_has_a_summary() -> None:
    assert set(SUMMARIES) == set(COMMANDS)


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\nfrom baton.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('baton.commands.', 'baton.runtime')))"
        ")"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "worker" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
