"""The project's sources as one download: ``_downloads/cnn-homework-4-src.zip``.

A chapter's notebook imports the package ``cnnbook``, so the notebook alone does not
run. After every HTML build this extension writes an archive of the project, so that a
reader can go from the site to the README's two commands without a clone.

The archive holds the files git tracks (``git ls-files``), under one top folder.
Without git (a copy of the tree, not a clone) it falls back to a walk of the tree that
leaves out ``.git`` and what ``.gitignore`` names. Entries are sorted and dated alike,
so the same sources give the same bytes.
"""

from __future__ import annotations

import fnmatch
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

from sphinx.application import Sphinx

#: Where the archive lands in the built site, and the folder it unpacks into.
ARCHIVE = Path("_downloads") / "cnn-homework-4-src.zip"
TOP_FOLDER = "cnn-homework-4"
#: Every entry gets this date, so an unchanged tree gives an identical archive.
ENTRY_DATE = (2024, 5, 1, 0, 0, 0)


def git_files(root: Path) -> list[str] | None:
    """The files git tracks under ``root`` (relative, POSIX), or None without git."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [n for n in proc.stdout.decode("utf-8").split("\0") if n]
    # A tracked file deleted from the work tree (not yet committed) is not archived.
    return sorted(n for n in names if (root / n).is_file())


def _ignore_patterns(root: Path) -> list[str]:
    gitignore = root / ".gitignore"
    if not gitignore.is_file():
        return []
    lines = gitignore.read_text(encoding="utf-8").splitlines()
    return [
        ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _ignored(rel: Path, is_dir: bool, patterns: Iterable[str]) -> bool:
    """Whether ``rel`` matches a .gitignore pattern (a name, a glob, ``dir/``)."""
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if pattern.startswith("/") or "/" in pattern:
            if fnmatch.fnmatch(rel.as_posix(), pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatch(rel.name, pattern):
            return True
    return False


def walked_files(root: Path) -> list[str]:
    """The files under ``root`` that ``.gitignore`` does not exclude, minus ``.git``."""
    patterns = _ignore_patterns(root)
    found: list[str] = []

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(root)
            if path.name == ".git" or _ignored(rel, path.is_dir(), patterns):
                continue
            if path.is_dir() and not path.is_symlink():
                walk(path)
            elif path.is_file():
                found.append(rel.as_posix())

    walk(root)
    return found


def project_files(root: Path) -> list[str]:
    """The files of the project: what git tracks, else a walk honouring .gitignore."""
    tracked = git_files(root)
    return tracked if tracked else walked_files(root)


def write_archive(root: Path, target: Path, files: Iterable[str] | None = None) -> Path:
    """Zip ``files`` of ``root`` (default: :func:`project_files`) into ``target``."""
    names = sorted(project_files(root) if files is None else files)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            path = root / name
            info = zipfile.ZipInfo(f"{TOP_FOLDER}/{name}", date_time=ENTRY_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


def _write_after_build(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    write_archive(Path(app.srcdir), Path(app.outdir) / ARCHIVE)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("build-finished", _write_after_build)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
