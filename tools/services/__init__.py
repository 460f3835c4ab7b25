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
package holds no polling loop of its own.

PostgreSQL refuses to run as root; as root (CI containers) its programs run as the
`postgres` system user, created when missing, on a data directory it owns.

One concept per module: `postgres` and `redis` (one daemon each), `local` (the two under
one directory, its state file, `real_backends` for tests), `binaries` (finding the
programs), `daemon` (what both share), `__main__` (the command line).

Exit codes: 0 done (for `status`: both running), 1 a service failed to start or stop,
2 usage, 3 (`status`) nothing running, 4 (`status`) only one of them running,
69 a binary is missing (the message names the Debian package to install).
"""

from tools.services.binaries import find_postgres_bindir, find_redis_server, unavailable_reason
from tools.services.daemon import (
    EXIT_FAILED,
    EXIT_MISSING_BINARY,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_PARTLY_RUNNING,
    EXIT_USAGE,
    HOST,
    MissingBinaryError,
    PortTakenError,
    ServicesError,
    ServiceStatus,
    port_is_free,
)
from tools.services.local import (
    DEFAULT_DIR,
    DEFAULT_TIMEOUT_S,
    BackendsUnavailable,
    LocalServices,
    ServiceUrls,
    State,
    real_backends,
)
from tools.services.postgres import DATABASE, ROLE, PostgresServer, PostgresState
from tools.services.redis import RedisServer, RedisState

__all__ = [
    "DATABASE",
    "DEFAULT_DIR",
    "DEFAULT_TIMEOUT_S",
    "EXIT_FAILED",
    "EXIT_MISSING_BINARY",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_PARTLY_RUNNING",
    "EXIT_USAGE",
    "HOST",
    "ROLE",
    "BackendsUnavailable",
    "LocalServices",
    "MissingBinaryError",
    "PortTakenError",
    "PostgresServer",
    "PostgresState",
    "RedisServer",
    "RedisState",
    "ServiceStatus",
    "ServiceUrls",
    "ServicesError",
    "State",
    "find_postgres_bindir",
    "find_redis_server",
    "port_is_free",
    "real_backends",
    "unavailable_reason",
]
