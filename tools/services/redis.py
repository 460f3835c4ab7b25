"""A private redis-server: loopback, a password, no persistence, daemonised; stopped with
SHUTDOWN NOSAVE."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.services.daemon import (
    HOST,
    PortTakenError,
    ServicesError,
    ServiceStatus,
    detached_executor,
    mirakuru_module,
    pid_alive,
    read_pid,
    read_text,
    tail,
    write_private,
)


@dataclass
class RedisState:
    home: str
    port: int
    password: str


def redis_module() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise ServicesError(
            f"redis-py cannot be imported ({exc}): pip install -e '.[real]'"
        ) from None
    return redis


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
        redis = redis_module()
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
        pid = read_pid(self.pid_file)
        if pid is None or not pid_alive(pid):
            return False, None
        return True, pid

    def start(self) -> None:
        """redis-server CONF (daemonize yes) under a mirakuru TCPExecutor, then PING."""
        self.home.mkdir(parents=True, exist_ok=True)
        conf = self.home / "redis.conf"
        write_private(conf, self._config())
        mirakuru = mirakuru_module()
        executor = detached_executor(mirakuru)(
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
                f"log {self.log_file}: {tail(read_text(self.log_file))}"
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
        redis = redis_module()
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
