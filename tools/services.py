"""Real PostgreSQL and Redis on this machine, without Docker, for `backends=real`.

`python -m tools.services up` starts a private PostgreSQL cluster (initdb + pg_ctl) and
a private redis-server from the locally installed binaries, both on 127.0.0.1 at free
ports, with their data, logs and a generated password under one directory (`./.services`
by default, git-ignored). It waits until each answers, then prints the settings to use
as eval-able shell lines and writes them to `.services/env` (shell) and
`.services/services.json` (for `-D services=PATH`):

    eval "$(python -m tools.services up)"
    behave features/golden_path -D backends=real
    python -m tools.services down

`down` stops both (pg_ctl stop -m fast; Redis SHUTDOWN NOSAVE) and is idempotent;
`down --purge` also deletes their data. `status` says what runs. Process start-up and
readiness checks are mirakuru executors, the supervisor pytest-postgresql uses, so this
file holds no polling loop of its own.

PostgreSQL refuses to run as root; as root (CI containers) its programs run as the
`postgres` system user, created when missing, on a data directory it owns.

Exit codes: 0 done (for `status`: both running), 1 a service failed to start or stop,
2 usage, 3 (`status`) nothing running, 4 (`status`) only one of them running,
69 a binary is missing (the message names the Debian package to install).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from support.processes import free_port

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_PARTLY_RUNNING = 4
EXIT_MISSING_BINARY = 69

HOST = "127.0.0.1"
DATABASE = "golden_path"
ROLE = "golden"
PG_SYSTEM_USER = "postgres"
DEFAULT_DIR = ".services"
DEFAULT_TIMEOUT_S = 60.0
PG_PREFERRED_MAJOR = "15"
PG_DEBIAN_ROOT = Path("/usr/lib/postgresql")

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


class ServicesError(Exception):
    """A service cannot be started or stopped; the message says which and what to do."""

    exit_code = EXIT_FAILED


class PortTakenError(ServicesError):
    """Someone else started listening on the port chosen a moment ago."""


class MissingBinaryError(ServicesError):
    """A program is not installed; the message names the Debian package that provides it."""

    exit_code = EXIT_MISSING_BINARY


@dataclass(frozen=True)
class ServiceUrls:
    """The settings the suite and the service read (DESIGN §4)."""

    database_url: str
    redis_url: str

    def shell_lines(self) -> list[str]:
        return [
            f"export GOLDEN_PATH_DATABASE_URL={shlex.quote(self.database_url)}",
            f"export GOLDEN_PATH_REDIS_URL={shlex.quote(self.redis_url)}",
        ]


@dataclass
class PostgresState:
    home: str
    port: int
    password: str
    bindir: str = ""


@dataclass
class RedisState:
    home: str
    port: int
    password: str


@dataclass
class State:
    """What `up` chose (directories, ports, passwords), kept between commands."""

    postgres: PostgresState | None = None
    redis: RedisState | None = None

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            postgres=PostgresState(**raw["postgres"]) if raw.get("postgres") else None,
            redis=RedisState(**raw["redis"]) if raw.get("redis") else None,
        )

    def save(self, path: Path) -> None:
        _write_private(path, json.dumps(asdict(self), indent=2) + "\n")


@dataclass
class ServiceStatus:
    """One service as `status` reports it."""

    name: str
    running: bool
    detail: str
    pid: int | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        pid = f", pid {self.pid}" if self.pid else ""
        return f"{self.name}: {state}{pid}, {self.detail}"


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


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR, as servers bind, so
    connections of a stopped server still in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _answers(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect((host, port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _mirakuru() -> Any:
    try:
        import mirakuru
    except ImportError:
        raise ServicesError("mirakuru is not installed: pip install -e '.[real]'") from None
    return mirakuru


def _redis_py() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise ServicesError(
            f"redis-py cannot be imported ({exc}): pip install -e '.[real]'"
        ) from None
    return redis


def _detached_executor(mirakuru: Any) -> Any:
    """mirakuru's TCPExecutor for a start command that leaves a daemon behind.

    mirakuru tags every process it starts with an environment variable and, when this
    program exits, kills whatever still carries it. The daemons here must outlive
    `up`, so the tag is left out; they are stopped by `down` instead.
    """

    class DetachedTCPExecutor(mirakuru.TCPExecutor):  # type: ignore[misc,name-defined]
        @property
        def envvars(self) -> dict[str, str]:
            env = os.environ.copy()
            env.update(self._envvars)
            return env

    return DetachedTCPExecutor


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
        _write_private(pwfile, self.state.password + "\n")
        _chown_to_postgres(pwfile)
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
                f"{_tail(result.stderr or result.stdout)}"
            )
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(PG_CONF)

    def running(self) -> tuple[bool, int | None]:
        if not self.initialised():
            return False, None
        result = self._run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data_dir)])
        pid = _read_pid(self.data_dir / "postmaster.pid")
        return result.returncode == 0, pid if result.returncode == 0 else None

    def start(self) -> None:
        """pg_ctl start -w under a mirakuru TCPExecutor; the database is created once."""
        mirakuru = _mirakuru()
        executor = _detached_executor(mirakuru)(
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
                f"log {self.log_file}: {_tail(_read_text(self.log_file))}"
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
                f"createdb {DATABASE} failed (exit {result.returncode}): {_tail(result.stderr)}"
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
                f"pg_ctl stop failed (exit {result.returncode}): {_tail(result.stderr)}"
            )
        return True

    def status(self) -> ServiceStatus:
        alive, pid = self.running()
        answering = alive and _answers(self.state.port)
        detail = f"{HOST}:{self.state.port}, data {self.data_dir}"
        if alive and not answering:
            detail += " (not answering)"
        return ServiceStatus("postgres", alive and answering, detail, pid, self.url)


class RedisServer:
    """A private redis-server: loopback, password, no persistence, daemonised."""

    def __init__(self, state: RedisState, binary: Path, timeout: float) -> None:
        self.state = state
        self.binary = binary
        self.timeout = timeout

    @property
    def home(self) -> Path:
        return Path(self.state.home)

    @property
    def pid_file(self) -> Path:
        return self.home / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://:{self.state.password}@{HOST}:{self.state.port}/0"

    def _config(self) -> str:
        return "\n".join(
            [
                f"bind {HOST}",
                "protected-mode yes",
                f"port {self.state.port}",
                f'requirepass "{self.state.password}"',
                'save ""',
                "appendonly no",
                f'dir "{self.home}"',
                "daemonize yes",
                f'pidfile "{self.pid_file}"',
                f'logfile "{self.log_file}"',
                "",
            ]
        )

    def _client(self) -> Any:
        redis = _redis_py()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host=HOST,
            port=self.state.port,
            password=self.state.password,
            socket_timeout=self.timeout,
            socket_connect_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )

    def running(self) -> tuple[bool, int | None]:
        pid = _read_pid(self.pid_file)
        if pid is None or not _pid_alive(pid):
            return False, None
        return True, pid

    def start(self) -> None:
        """redis-server CONF (daemonize yes) under a mirakuru TCPExecutor, then PING."""
        self.home.mkdir(parents=True, exist_ok=True)
        conf = self.home / "redis.conf"
        _write_private(conf, self._config())
        mirakuru = _mirakuru()
        executor = _detached_executor(mirakuru)(
            [str(self.binary), str(conf)],
            host=HOST,
            port=self.state.port,
            timeout=self.timeout,
            cwd=str(self.home),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            executor.start()
        except mirakuru.AlreadyRunning:
            raise PortTakenError(f"port {HOST}:{self.state.port} is already taken") from None
        except (mirakuru.ProcessExitedWithError, mirakuru.TimeoutExpired) as exc:
            raise ServicesError(
                f"redis-server did not start on {HOST}:{self.state.port} ({exc}); "
                f"log {self.log_file}: {_tail(_read_text(self.log_file))}"
            ) from None
        client = self._client()
        try:
            if not client.ping():
                raise ServicesError(f"redis-server on {HOST}:{self.state.port} did not PONG")
        finally:
            client.close()

    def stop(self) -> bool:
        """SHUTDOWN NOSAVE (the server closes the connection as it exits); False when it
        was not running."""
        alive, pid = self.running()
        if not alive:
            self.pid_file.unlink(missing_ok=True)
            return False
        redis = _redis_py()
        client = self._client()
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError as exc:
            raise ServicesError(
                f"redis-server pid {pid} does not answer on {HOST}:{self.state.port} ({exc}); "
                f"stop it with: kill {pid}"
            ) from None
        finally:
            client.close()
        return True

    def status(self) -> ServiceStatus:
        alive, pid = self.running()
        answering = False
        if alive:
            client = self._client()
            try:
                answering = bool(client.ping())
            except Exception:  # noqa: BLE001 - any failure means "not answering"
                answering = False
            finally:
                client.close()
        detail = f"{HOST}:{self.state.port}, dir {self.home}"
        if alive and not answering:
            detail += " (not answering)"
        return ServiceStatus("redis", alive and answering, detail, pid, self.url)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def _ensure_postgres_user() -> None:
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
            f"{_tail(result.stderr)}"
        )


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _traversable_by(path: Path, uid: int, gids: set[int]) -> bool:
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


class LocalServices:
    """PostgreSQL and Redis under one private directory: up, down, status."""

    def __init__(self, root: Path, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.root = root.resolve()
        self.timeout = timeout

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def json_file(self) -> Path:
        return self.root / "services.json"

    def _postgres_home(self, state: State) -> Path:
        """The cluster's directory: root/postgres, unless root runs this and the
        `postgres` user cannot reach it (a home directory of mode 700 on the way), then
        a private directory under the system temp directory, owned by `postgres`."""
        if state.postgres is not None and Path(state.postgres.home).is_dir():
            return Path(state.postgres.home)
        home = self.root / "postgres"
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            gids = set(os.getgrouplist(PG_SYSTEM_USER, entry.pw_gid))
            if not _traversable_by(home, entry.pw_uid, gids):
                home = Path(tempfile.mkdtemp(prefix="golden-path-postgres-"))
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        _chown_to_postgres(home)
        return home

    def _postgres(self, state: State) -> PostgresServer:
        assert state.postgres is not None
        bindir = find_postgres_bindir()
        return PostgresServer(state.postgres, bindir, self.timeout)

    def _redis(self, state: State) -> RedisServer:
        assert state.redis is not None
        return RedisServer(state.redis, find_redis_server(), self.timeout)

    def up(self) -> ServiceUrls:
        """Start what is not running yet; write and return the URLs."""
        bindir = find_postgres_bindir()
        redis_binary = find_redis_server()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _ensure_postgres_user()
            # Others may pass through (not list) so `postgres` can reach its directory.
            self.root.chmod(0o711)
        state = State.load(self.state_file)

        if state.postgres is None or not Path(state.postgres.home).is_dir():
            home = self._postgres_home(state)
            state.postgres = PostgresState(
                home=str(home), port=free_port(), password=secrets.token_hex(16)
            )
        state.postgres.bindir = str(bindir)
        postgres = PostgresServer(state.postgres, bindir, self.timeout)
        if not postgres.initialised():
            _say(f"postgres: initdb in {postgres.data_dir}")
            postgres.init()
        if not postgres.running()[0]:
            self._start_on_a_free_port(postgres, state, state.postgres)
        else:
            _say(f"postgres: already running on {HOST}:{state.postgres.port}")

        if state.redis is None:
            state.redis = RedisState(
                home=str(self.root / "redis"), port=free_port(), password=secrets.token_hex(16)
            )
        redis_server = RedisServer(state.redis, redis_binary, self.timeout)
        if not redis_server.running()[0]:
            self._start_on_a_free_port(redis_server, state, state.redis)
        else:
            _say(f"redis: already running on {HOST}:{state.redis.port}")

        state.save(self.state_file)
        urls = ServiceUrls(database_url=postgres.url, redis_url=redis_server.url)
        _write_private(self.env_file, "\n".join(urls.shell_lines()) + "\n")
        _write_private(self.json_file, json.dumps(asdict(urls), indent=2) + "\n")
        return urls

    def _start_on_a_free_port(
        self,
        server: PostgresServer | RedisServer,
        state: State,
        part: PostgresState | RedisState,
    ) -> None:
        """Start on the port used last time if it is free, else on a new one; a port
        taken between choosing and binding it is chosen again (three attempts)."""
        name = "postgres" if isinstance(server, PostgresServer) else "redis"
        for attempt in range(3):
            if attempt or not port_is_free(part.port):
                part.port = free_port()
            state.save(self.state_file)
            _say(f"{name}: starting on {HOST}:{part.port}")
            try:
                server.start()
                return
            except PortTakenError as exc:
                _say(f"{name}: {exc}; choosing another port")
        raise ServicesError(f"{name}: no free port found in three attempts")

    def down(self, purge: bool = False) -> list[str]:
        """Stop whatever runs (idempotent); with purge, delete data too. Returns what
        was stopped."""
        state = State.load(self.state_file)
        stopped: list[str] = []
        errors: list[str] = []
        if state.redis is not None:
            try:
                if self._redis(state).stop():
                    stopped.append("redis")
            except ServicesError as exc:
                errors.append(str(exc))
        if state.postgres is not None and Path(state.postgres.home).is_dir():
            try:
                if self._postgres(state).stop():
                    stopped.append("postgres")
            except ServicesError as exc:
                errors.append(str(exc))
        if errors:
            raise ServicesError("; ".join(errors))
        self.env_file.unlink(missing_ok=True)
        self.json_file.unlink(missing_ok=True)
        if purge:
            if state.postgres is not None:
                shutil.rmtree(state.postgres.home, ignore_errors=True)
            if self.root.is_dir():
                shutil.rmtree(self.root, ignore_errors=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        state = State.load(self.state_file)
        found: list[ServiceStatus] = []
        if state.postgres is not None and Path(state.postgres.home).is_dir():
            found.append(self._postgres(state).status())
        else:
            found.append(ServiceStatus("postgres", False, f"not set up in {self.root}"))
        if state.redis is not None:
            found.append(self._redis(state).status())
        else:
            found.append(ServiceStatus("redis", False, f"not set up in {self.root}"))
        return found


class BackendsUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be started here; the message says why."""


@contextlib.contextmanager
def real_backends(directory: Path) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL): the running ones named by GOLDEN_PATH_DATABASE_URL
    (PostgreSQL) and GOLDEN_PATH_REDIS_URL, else private ones started under `directory`
    (`python -m tools.services`) and stopped afterwards."""
    database_url = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")
    redis_url = os.environ.get("GOLDEN_PATH_REDIS_URL", "")
    if database_url.startswith("postgresql+asyncpg://") and redis_url:
        yield database_url, redis_url
        return
    reason = unavailable_reason()
    if reason is not None:
        raise BackendsUnavailable(reason)
    services = LocalServices(directory)
    try:
        urls = services.up()
        yield urls.database_url, urls.redis_url
    finally:
        services.down(purge=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.services",
        description="Start, stop or inspect local PostgreSQL and Redis for backends=real.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("GOLDEN_PATH_SERVICES_DIR", "") or DEFAULT_DIR),
        help="private directory for data, logs and settings (default ./.services)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds to wait for a service to start or stop (default 60)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start both; print `export GOLDEN_PATH_*=...` lines")
    down = sub.add_parser("down", help="stop both (idempotent)")
    down.add_argument("--purge", action="store_true", help="also delete their data")
    sub.add_parser("status", help="say what runs")
    sub.add_parser("env", help="print the `export` lines of the running services")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    services = LocalServices(args.dir, timeout=args.timeout)
    try:
        if args.command == "up":
            urls = services.up()
            print("\n".join(urls.shell_lines()), flush=True)
            _say(f"settings written to {services.env_file} and {services.json_file}")
            return EXIT_OK
        if args.command == "down":
            stopped = services.down(purge=args.purge)
            _say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
            return EXIT_OK
        if args.command == "env":
            if not services.env_file.is_file():
                _say(f"no services are up in {services.root}; run: python -m tools.services up")
                return EXIT_NOT_RUNNING
            print(services.env_file.read_text(encoding="utf-8"), end="")
            return EXIT_OK
        found = services.status()
        for item in found:
            print(item.line())
        running = sum(item.running for item in found)
        if running == len(found):
            return EXIT_OK
        return EXIT_NOT_RUNNING if running == 0 else EXIT_PARTLY_RUNNING
    except ServicesError as exc:
        _say(f"error: {exc}")
        return exc.exit_code
    except OSError as exc:
        _say(f"error: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
