"""A private PostgreSQL cluster from the installed programs: initdb once, pg_ctl start,
stop and status, on 127.0.0.1 with a password.

PostgreSQL refuses to run as root; as root (CI containers) its programs run as the
`postgres` system user, created when missing, on a data directory it owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.services.daemon import (
    HOST,
    PortTakenError,
    ServicesError,
    ServiceStatus,
    answers,
    detached_executor,
    mirakuru_module,
    read_pid,
    read_text,
    tail,
    write_private,
)

DATABASE = "golden_path"
ROLE = "golden"
PG_SYSTEM_USER = "postgres"
DEFAULT_DIR = ".services"

# Settings for a throwaway test cluster: durability is traded for speed, and only the
# loopback TCP socket is opened (no Unix socket whose path length or directory could fail).
PG_CONF = """
# golden-path: private test cluster, loopback only, no durability
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
"""


@dataclass
class PostgresState:
    home: str
    port: int
    password: str
    bindir: str = ""


class PostgresServer:
    """A private PostgreSQL cluster: initdb once, pg_ctl start/stop/status."""

    def __init__(self, state: PostgresState, bindir: Path, timeout: float) -> None:
        self.state = state
        self.bindir = bindir
        self.timeout = timeout

    @property
    def home(self) -> Path:
        return Path(self.state.home)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def url(self) -> str:
        return (
            f"postgresql+asyncpg://{ROLE}:{self.state.password}@{HOST}:{self.state.port}/{DATABASE}"
        )

    def _as_owner(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _run(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C", PGPASSWORD=self.state.password)
        return subprocess.run(
            list(args),
            check=False,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            cwd=self.home,
            env=env,
            stdin=subprocess.DEVNULL,
            **self._as_owner(),
            **kwargs,
        )

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def init(self) -> None:
        """initdb with role `golden` (password auth on loopback) and the test settings."""
        pwfile = self.home / "pwfile"
        write_private(pwfile, self.state.password + "\n")
        chown_to_postgres(pwfile)
        try:
            result = self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ROLE,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServicesError(
                f"initdb failed in {self.data_dir} (exit {result.returncode}): "
                f"{tail(result.stderr or result.stdout)}"
            )
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(PG_CONF)

    def running(self) -> tuple[bool, int | None]:
        if not self.initialised():
            return False, None
        result = self._run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data_dir)])
        pid = read_pid(self.data_dir / "postmaster.pid")
        return result.returncode == 0, pid if result.returncode == 0 else None

    def start(self) -> None:
        """pg_ctl start -w under a mirakuru TCPExecutor; the database is created once."""
        mirakuru = mirakuru_module()
        executor = detached_executor(mirakuru)(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(int(self.timeout)),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.state.port}",
            ],
            host=HOST,
            port=self.state.port,
            timeout=self.timeout,
            cwd=str(self.home),
            envvars={"LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            popen_kwargs=self._as_owner(),
        )
        try:
            executor.start()
        except mirakuru.AlreadyRunning:
            raise PortTakenError(f"port {HOST}:{self.state.port} is already taken") from None
        except (mirakuru.ProcessExitedWithError, mirakuru.TimeoutExpired) as exc:
            raise ServicesError(
                f"PostgreSQL did not start on {HOST}:{self.state.port} ({exc}); "
                f"log {self.log_file}: {tail(read_text(self.log_file))}"
            ) from None
        self._create_database()

    def _create_database(self) -> None:
        result = self._run(
            [
                str(self.bindir / "createdb"),
                "-h",
                HOST,
                "-p",
                str(self.state.port),
                "-U",
                ROLE,
                DATABASE,
            ]
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ServicesError(
                f"createdb {DATABASE} failed (exit {result.returncode}): {tail(result.stderr)}"
            )

    def stop(self) -> bool:
        """pg_ctl stop -m fast; False when it was not running."""
        alive, _ = self.running()
        if not alive:
            return False
        result = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "stop",
                "-w",
                "-m",
                "fast",
                "-t",
                str(int(self.timeout)),
                "-D",
                str(self.data_dir),
            ]
        )
        if result.returncode != 0:
            raise ServicesError(
                f"pg_ctl stop failed (exit {result.returncode}): {tail(result.stderr)}"
            )
        return True

    def status(self) -> ServiceStatus:
        alive, pid = self.running()
        answering = alive and answers(self.state.port)
        detail = f"{HOST}:{self.state.port}, data {self.data_dir}"
        if alive and not answering:
            detail += " (not answering)"
        return ServiceStatus("postgres", alive and answering, detail, pid, self.url)


def ensure_postgres_user() -> None:
    """As root: the `postgres` system user PostgreSQL runs as, created when missing."""
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/var/lib/postgresql",
            "--shell",
            "/usr/sbin/nologin",
            PG_SYSTEM_USER,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise ServicesError(
            f"cannot create the system user {PG_SYSTEM_USER} that PostgreSQL runs as: "
            f"{tail(result.stderr)}"
        )


def chown_to_postgres(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def traversable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether user uid (groups gids) may reach `path` through every directory above it."""
    for directory in [*reversed(path.parents)]:
        try:
            st = directory.stat()
        except OSError:
            return False
        if st.st_uid == uid:
            bit = 0o100
        elif st.st_gid in gids:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True
