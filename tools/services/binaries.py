"""Where the server programs are: PostgreSQL's initdb and pg_ctl, redis-server, and
whether real services can start here at all."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tools.services.daemon import MissingBinaryError

PG_PREFERRED_MAJOR = "15"
PG_DEBIAN_ROOT = Path("/usr/lib/postgresql")


def find_postgres_bindir(candidates: Iterable[Path] | None = None, path: str | None = None) -> Path:
    """The directory holding initdb and pg_ctl: Debian's /usr/lib/postgresql/15/bin
    first, then any other installed major version, `pg_config --bindir`, and PATH."""
    if candidates is None:
        candidates = _default_pg_candidates()
    for bindir in candidates:
        if _is_exe(bindir / "initdb") and _is_exe(bindir / "pg_ctl"):
            return bindir
    initdb = shutil.which("initdb", path=path)
    pg_ctl = shutil.which("pg_ctl", path=path)
    if initdb and pg_ctl:
        return Path(os.path.realpath(initdb)).parent
    raise MissingBinaryError(
        "PostgreSQL server programs (initdb, pg_ctl) are not installed: "
        "install the Debian package `postgresql` (apt-get install -y postgresql), "
        "or put their directory on PATH or in GOLDEN_PATH_PG_BINDIR"
    )


def find_redis_server(path: str | None = None) -> Path:
    """redis-server from PATH."""
    found = shutil.which("redis-server", path=path)
    if not found:
        raise MissingBinaryError(
            "redis-server is not installed: install the Debian package `redis-server` "
            "(apt-get install -y redis-server), or put it on PATH"
        )
    return Path(found)


def unavailable_reason() -> str | None:
    """Why real services cannot start here (missing binaries or client packages), or
    None when they can. Tests use it to skip, or to fail in CI."""
    reasons: list[str] = []
    for find in (find_postgres_bindir, find_redis_server):
        try:
            find()
        except MissingBinaryError as exc:
            reasons.append(str(exc))
    for module in ("mirakuru", "asyncpg", "redis"):
        try:
            __import__(module)
        except ImportError:
            reasons.append(f"the python package {module} is missing: pip install -e '.[real]'")
    return "; ".join(reasons) or None


def _default_pg_candidates() -> list[Path]:
    found: list[Path] = []
    if override := os.environ.get("GOLDEN_PATH_PG_BINDIR", "").strip():
        found.append(Path(override))
    found.append(PG_DEBIAN_ROOT / PG_PREFERRED_MAJOR / "bin")
    if PG_DEBIAN_ROOT.is_dir():
        majors = sorted(
            (p for p in PG_DEBIAN_ROOT.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        found.extend(p / "bin" for p in majors)
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            found.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    return found


def _is_exe(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
