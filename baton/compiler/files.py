"""The one gate for every file a spec names: it resolves inside the spec set's root, or not
at all.

The root is the directory given to the command (a single file's own directory), or the
one `--root DIR` / `root = "..."` under `[tool.baton.lint]` names. `$ref`s, roster files,
the spec files found under a directory (which may be symlinks) and any later prompt file
go through `confined` before anything opens them. Symlinks count: the decision compares
real paths, so a link inside the root that points outside is refused like `../x` is.

A refusal names the reference as written and the reason; the target is never opened, so
no finding can quote a byte of a file outside the root (rule B004).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# a URI scheme (`file:`, `https:`, `urn:`): specs name files, never locations elsewhere
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Confined:
    """A reference proven to resolve inside the root: `path` as findings show it (relative
    when the reference was), `real` its real path (symlinks resolved)."""

    path: Path
    real: Path


@dataclass(frozen=True)
class Refusal:
    """A reference that leaves the root: as written, and why it is refused (each reason
    ends with "the spec root", so a message can name the root right after it)."""

    reference: str
    reason: str

    def __str__(self) -> str:
        return f"'{self.reference}' {self.reason}"


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def absolute(path: Path | str) -> Path:
    """`path` made absolute and normalized lexically (`..` removed, symlinks kept)."""
    return Path(os.path.normpath(Path(path).absolute()))


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def within(root: Path, path: Path) -> bool:
    """Whether `path`, symlinks resolved, is `root` or inside it.

    >>> within(Path("/"), Path("/etc/passwd")), within(Path("/usr"), Path("/etc/passwd"))
    (True, False)
    """
    try:
        return _inside(_real(path), _real(root))
    except (OSError, ValueError):
        return False


def confined(root: Path, base: Path, reference: str) -> Confined | Refusal:
    """`reference`, written in the file `base`, as a file inside `root`; or why not.

    Nothing is opened: only paths are compared (and symlinks read), so a refused target
    is never read. Whether the file exists is the caller's question.

    >>> confined(Path("/srv/specs"), Path("/srv/specs/wf.yaml"), "file:///etc/passwd")
    Refusal(reference='file:///etc/passwd', reason='is a URL, not a file inside the spec root')
    >>> str(confined(Path("/srv/specs"), Path("/srv/specs/wf.yaml"), "../secret.env"))
    "'../secret.env' is outside the spec root"
    """
    if _SCHEME.match(reference):
        return Refusal(reference, "is a URL, not a file inside the spec root")
    if "\x00" in reference:
        return Refusal(reference, "is not a file name inside the spec root")
    path = Path(os.path.normpath(base.parent / reference))
    try:
        real, real_root = _real(path), _real(root)
    except (OSError, ValueError):
        return Refusal(reference, "is not a file name inside the spec root")
    if _inside(real, real_root):
        return Confined(path, real)
    if _inside(absolute(path), absolute(root)):
        return Refusal(reference, "is a symlink to a file outside the spec root")
    return Refusal(reference, "is outside the spec root")


def spec_root(paths: Sequence[str], configured: str | None = None) -> Path:
    """The root of the spec set at `paths`: `configured` if given, else the directory given
    (a file's own directory), else the deepest directory holding every path given.

    >>> spec_root(["specs/wf.yaml"]), spec_root(["x.yaml"], "specs/")
    (PosixPath('specs'), PosixPath('specs'))
    >>> spec_root(["a/b/x.yaml", "a/c/y.yaml"])
    PosixPath('a')
    """
    if configured is not None:
        return Path(os.path.normpath(configured))
    directories = [
        os.path.normpath(raw if Path(raw).is_dir() else Path(raw).parent) for raw in paths
    ]
    if len(set(directories)) == 1:
        return Path(directories[0])
    common = os.path.commonpath([absolute(d) for d in directories])
    relative = os.path.relpath(common)
    return Path(common if relative.startswith("..") else relative)
