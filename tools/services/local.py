"""PostgreSQL and Redis together under one private directory (`./.services` by default):
what `up` chose is kept in its state file, the URLs in `env` and `services.json`.
`real_backends` gives tests the running services, or private ones for their duration."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from support.processes import free_port
from tools.services.binaries import find_postgres_bindir, find_redis_server, unavailable_reason
from tools.services.daemon import (
    HOST,
    PortTakenError,
    ServicesError,
    ServiceStatus,
    port_is_free,
    say,
    write_private,
)
from tools.services.postgres import (
    PG_SYSTEM_USER,
    PostgresServer,
    PostgresState,
    chown_to_postgres,
    ensure_postgres_user,
    traversable_by,
)
from tools.services.redis import RedisServer, RedisState

DEFAULT_DIR = ".services"
DEFAULT_TIMEOUT_S = 60.0


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
        write_private(path, json.dumps(asdict(self), indent=2) + "\n")


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
            if not traversable_by(home, entry.pw_uid, gids):
                home = Path(tempfile.mkdtemp(prefix="golden-path-postgres-"))
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        chown_to_postgres(home)
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
            ensure_postgres_user()
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
            say(f"postgres: initdb in {postgres.data_dir}")
            postgres.init()
        if not postgres.running()[0]:
            self._start_on_a_free_port(postgres, state, state.postgres)
        else:
            say(f"postgres: already running on {HOST}:{state.postgres.port}")

        if state.redis is None:
            state.redis = RedisState(
                home=str(self.root / "redis"), port=free_port(), password=secrets.token_hex(16)
            )
        redis_server = RedisServer(state.redis, redis_binary, self.timeout)
        if not redis_server.running()[0]:
            self._start_on_a_free_port(redis_server, state, state.redis)
        else:
            say(f"redis: already running on {HOST}:{state.redis.port}")

        state.save(self.state_file)
        urls = ServiceUrls(database_url=postgres.url, redis_url=redis_server.url)
        write_private(self.env_file, "\n".join(urls.shell_lines()) + "\n")
        write_private(self.json_file, json.dumps(asdict(urls), indent=2) + "\n")
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
            say(f"{name}: starting on {HOST}:{part.port}")
            try:
                server.start()
                return
            except PortTakenError as exc:
                say(f"{name}: {exc}; choosing another port")
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
