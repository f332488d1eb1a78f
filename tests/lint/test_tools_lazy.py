"""`baton lint` of a spec set with tools loads neither the MCP SDK nor runtime.tools
(only `--probe-tools` does: rule B703 starts the servers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CASE = Path(__file__).resolve().parents[1] / "golden" / "lint" / "ok" / "tools"


def test_lint_imports_no_mcp() -> None:
    code = (
        "import sys\nfrom baton.cli import main\n"
        f"try:\n    main(['lint', {str(CASE)!r}])\nexcept SystemExit as e:\n    print(e.code)\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', "
        "'baton.runtime.tools'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert lines[-2:] == ["0", "[]"], out.stdout
