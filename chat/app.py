"""Assembly of the chat service: storage, cache, engine, run service and gateway.

`start_service` is the one entry point for everything that runs the service in-process
(the acceptance suite's embedded stack, the benchmark, `python -m chat serve`).

The listening socket is bound first, because it names the gateway: the gateway id is the
host name, address and port (`gwy_HOST@ADDRESS:PORT`), which only one live process can
hold at a time. A gateway restarted on the same port therefore knows the runs still
`running` under its id were its predecessor's, and fails them at start-up (chat.runs.recovery).
Connections that arrive while start-up recovery runs wait in the listen backlog.

Slow clients are bounded: each connection buffers at most `MAX_INBOUND_FRAMES` frames it
has not handled and `WRITE_LIMIT_BYTES` it could not send yet (websockets' `max_queue` and
`write_limit`); the gateway bounds what waits to be sent to it (chat.connection).

Compression stays on (permessage-deflate), sized for many small frames: the compressor
and decompressor of each connection keep their state between frames, and that state is
most of what an idle connection costs (`DEFLATE_WINDOW_BITS`, `DEFLATE_MEM_LEVEL`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from websockets.asyncio.server import Server, serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from chat.agui import PATH as AGUI_PATH
from chat.agui import AguiEndpoint
from chat.auth import TokenVerifier
from chat.cache import Cache
from chat.config import Settings
from chat.engine import EngineFactory
from chat.front import RoutingConnection, Streams
from chat.gateway import MAX_FRAME_BYTES, PATH, Gateway
from chat.redis_hub import RedisEventHub
from chat.runs import RunService, stored_events_after
from chat.store import Store, create_schema, make_engine, sqlite_url_in

log = logging.getLogger("chat")

BACKLOG = 1024
MAX_INBOUND_FRAMES = 16
WRITE_LIMIT_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 5.0
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_SOCKET_TIMEOUT_S = 5.0
# A crowd of handshakes and runs waits for one of these connections instead of failing.
REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_WAIT_S = 5.0
REDIS_RETRIES = 2
FAKE_REDIS_MAX_CONNECTIONS = 10_000
GATEWAY_ID_CHARS = 64
# permessage-deflate with small windows and a small compressor state: events are small
# JSON frames, and websockets' default (12-bit windows, memLevel 5) costs an idle
# connection about twice the memory for no better ratio on them.
DEFLATE_WINDOW_BITS = 10
DEFLATE_MEM_LEVEL = 2


class ServiceStartError(RuntimeError):
    """A backend the service needs cannot be reached; the message says which and where."""


def masked_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class ChatService:
    """A running chat service; `url` is what clients connect to."""

    host: str
    port: int
    database_url: str
    store: Store
    cache: Cache
    runs: RunService
    gateway: Gateway
    server: Server
    redis: Any
    hub: RedisEventHub | None = None
    streams: Streams = field(default_factory=Streams)
    _owns_redis: bool = False
    _temp_dir: str | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"ws://{host}:{self.port}{PATH}"

    @property
    def agui_url(self) -> str:
        """The AG-UI endpoint on the same port (chat.agui)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}{AGUI_PATH}"

    async def close(self) -> None:
        """Stop accepting, close connections, stop runs (recorded failed), release all."""
        if self._closed:
            return
        self._closed = True
        self.server.close()
        await self.server.wait_closed()
        await self.streams.close()
        await self.runs.close()
        if self.hub is not None:
            await self.hub.close()
        await self.store.dispose()
        if self._owns_redis:
            await self.redis.aclose()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def make_redis(settings: Settings) -> Any:
    """A client for settings.redis_url (a pool that makes callers wait for a free
    connection, bounded in time), or an in-process fakeredis when it is unset."""
    if settings.redis_url:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=REDIS_POOL_WAIT_S,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
            socket_timeout=REDIS_SOCKET_TIMEOUT_S,
            # A pooled connection left over from before a Redis restart fails once and
            # is replaced: retry on a fresh one rather than fail the caller.
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), REDIS_RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        return redis.asyncio.Redis(connection_pool=pool)
    import fakeredis

    return fakeredis.FakeAsyncRedis(max_connections=FAKE_REDIS_MAX_CONNECTIONS)


def deflate_extension() -> ServerPerMessageDeflateFactory:
    """permessage-deflate with small windows on both sides and a small compressor."""
    return ServerPerMessageDeflateFactory(
        server_max_window_bits=DEFLATE_WINDOW_BITS,
        client_max_window_bits=DEFLATE_WINDOW_BITS,
        compress_settings={"memLevel": DEFLATE_MEM_LEVEL},
    )


def gateway_id_for(host_name: str, address: str, port: int) -> str:
    """`gwy_HOST@ADDRESS:PORT`, or a digest of it when that is too long for the column."""
    readable = f"gwy_{host_name}@{address}:{port}"
    if len(readable) <= GATEWAY_ID_CHARS:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:40]
    return f"gwy_{digest}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 = an ephemeral port), Nagle off.

    asyncio turns Nagle's algorithm off only for sockets it made with the TCP protocol
    number; `create_server` leaves it 0, so without TCP_NODELAY here (inherited by each
    accepted connection on Linux) every event after the first waits for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


async def start_service(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    redis: Any | None = None,
    engine_factory: EngineFactory | None = None,
) -> ChatService:
    """Start the service on `host:port` (0 = an ephemeral port, read back in `.port`).

    `settings.database_url` None means a SQLite file in a private temporary directory
    (removed on close). `redis` replaces the client built from `settings.redis_url`.
    Creates the schema, then fails runs left `running` by a gateway that died.
    """
    temp_dir = None
    database_url = settings.database_url
    if database_url is None:
        temp_dir = tempfile.mkdtemp(prefix="golden-path-chat-")
        database_url = sqlite_url_in(temp_dir)
    engine = make_engine(database_url)
    store = Store(engine)
    owns_redis = redis is None
    client = make_redis(settings) if redis is None else redis
    runs: RunService | None = None
    hub: RedisEventHub | None = None
    listener: socket.socket | None = None
    streams = Streams()
    try:
        try:
            await create_schema(engine)
        except (OSError, SQLAlchemyError) as exc:
            shown = make_url(database_url).render_as_string(hide_password=True)
            raise ServiceStartError(f"cannot reach the database at {shown}: {exc}") from exc
        try:
            await client.ping()
        except (OSError, RedisError) as exc:
            shown = masked_redis_url(settings.redis_url or "the given Redis client")
            raise ServiceStartError(f"cannot reach Redis at {shown}: {exc}") from exc
        try:
            listener = bind(host, port)
        except OSError as exc:
            raise ServiceStartError(f"cannot listen on {host}:{port}: {exc}") from exc
        address, bound = listener.getsockname()[:2]
        cache = Cache(client)
        hub = RedisEventHub(client, stored_events_after(store))
        runs = RunService(store, cache, hub, engine_factory or EngineFactory(),
                          gateway_id_for(socket.gethostname(), address, bound))
        await hub.start()
        await runs.start_heartbeat()
        await runs.recover()
        verifier = TokenVerifier(settings, cache)
        gateway = Gateway(runs, verifier)
        agui = AguiEndpoint(runs, verifier)
        server = await serve(
            gateway.handle,
            sock=listener,
            process_request=gateway.process_request,
            select_subprotocol=gateway.select_subprotocol,
            max_size=MAX_FRAME_BYTES,
            max_queue=MAX_INBOUND_FRAMES,
            write_limit=WRITE_LIMIT_BYTES,
            close_timeout=CLOSE_TIMEOUT_S,
            compression=None,
            extensions=[deflate_extension()],
            backlog=BACKLOG,
            create_connection=functools.partial(  # type: ignore[arg-type]
                RoutingConnection, handler=agui.handle, streams=streams),
        )
    except BaseException:
        await streams.close()
        if runs is not None:
            await runs.close()
        if hub is not None:
            await hub.close()
        if listener is not None:
            listener.close()
        await store.dispose()
        if owns_redis:
            await client.aclose()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    bound_port = server.sockets[0].getsockname()[1] if server.sockets else port
    log.info("chat service on ws://%s:%s%s as gateway %s (database %s)", host, bound_port,
             PATH, runs.gateway_id, engine.url.render_as_string(hide_password=True))
    return ChatService(
        host=host, port=bound_port, database_url=database_url, store=store, cache=cache,
        runs=runs, gateway=gateway, server=server, redis=client, hub=hub, streams=streams,
        _owns_redis=owns_redis,
        _temp_dir=temp_dir,
    )
