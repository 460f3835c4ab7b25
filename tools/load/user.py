"""The golden path as a Locust user (DESIGN §7): sign in, connect, ask, receive the whole
run, judge it, and report each step as a row of Locust's statistics.

A user holds conversations back to back: connect with a fresh sign-in, ask one to three
questions of `tools.load.mix` (the first starts a conversation, the others continue it),
close normally. The rows, all of request type `v1`:

- `connect and greeting`: the handshake with the sign-in, to `connection_established`;
- `first event`: a message sent, to the first event of its run;
- `whole run to agent_completed`: a message sent, to its `agent_completed`, the run judged
  by the contract's run rules and the outcome its question promises.

A step that goes wrong (a refusal, a broken rule, a timeout of `GOLDEN_PATH_TIMEOUT`, a lost
connection) is a failure of its row whose text says what, and ends the conversation.
Each Locust process names its users `load-<tag>-<n>`; when the test stops, a process that
knows the database (`GOLDEN_PATH_DATABASE_URL`) removes its users' rows and keys, unless
`--keep-users`.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

import gevent
from locust import User, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner

from support.config import ConfigError, SuiteConfig
from support.tokens import mint
from tools.load.cleanup import LOAD_PREFIX
from tools.load.client import StepFailed, SyncChatClient
from tools.load.mix import Question, conversation
from tools.load.settings import load_config

__all__ = ["CONNECT", "FIRST_EVENT", "ROW_TYPE", "WHOLE_RUN", "GoldenPathUser"]

ROW_TYPE = "v1"
CONNECT = "connect and greeting"
FIRST_EVENT = "first event"
WHOLE_RUN = "whole run to agent_completed"

PROJECT = Path(__file__).resolve().parents[2]  # `python -m tools.load` of this very tree

logger = logging.getLogger("golden_path.load")

# Every Locust process signs users in or hands their settings on, so a missing secret
# stops it here, before it starts, with one line.
try:
    CONFIG: SuiteConfig = load_config()
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)


class _Names:
    """The ids of this process's users, `load-<tag>-<n>`: a tag of its own per process
    (Locust forks its `--processes` after importing this module)."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self.prefix = ""
        self._numbers = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():
            self._pid, self._numbers = os.getpid(), itertools.count()
            self.prefix = f"{LOAD_PREFIX}{uuid.uuid4().hex[:8]}-"
        return f"{self.prefix}{next(self._numbers)}"

    @property
    def made_here(self) -> bool:
        return self._pid == os.getpid()


NAMES = _Names()


class GoldenPathUser(User):
    """One person of the load: conversations with the gateway at `--host` (ws://…/ws)."""

    def on_start(self) -> None:
        self.config = CONFIG
        self.user_id = NAMES.next()
        self.rng = random.Random()

    @task
    def hold_a_conversation(self) -> None:
        if not str(self.host or "").startswith(("ws://", "wss://")):
            _stop_the_test(self.environment,
                           f"--host {self.host!r} is not a gateway: give ws://HOST:PORT/ws")
        client = self._connect()
        if client is None:
            return
        try:
            thread_id: str | None = None
            for question in conversation(self.rng):
                thread_id = self._ask(client, question, thread_id)
                if thread_id is None:
                    return
        finally:
            client.close()

    def _connect(self) -> SyncChatClient | None:
        began = time.perf_counter()
        token = str(mint(self.config, self.user_id).token)
        try:
            client = SyncChatClient.open(str(self.host), token, self.user_id,
                                         timeout=self.config.timeout)
        except StepFailed as failed:
            self._row(CONNECT, began, 0, failed)
            return None
        self._row(CONNECT, began, client.received_bytes)
        return client

    def _ask(self, client: SyncChatClient, question: Question,
             thread_id: str | None) -> str | None:
        """Ask in the conversation (a new one when `thread_id` is None); its thread id, or
        None when a step failed."""
        received = client.received_bytes
        began = time.perf_counter()
        try:
            client.send_message(question.text, thread_id=thread_id)
            first = client.first_event(question.text, thread_id)
        except StepFailed as failed:
            self._row(FIRST_EVENT, began, client.received_bytes - received, failed)
            return None
        self._row(FIRST_EVENT, began, client.received_bytes - received)
        try:
            run = client.rest_of_run(question.text, first)
            problem = question.judge(run)
            if problem is not None:
                raise StepFailed(f"{question.text!r}: {problem}")
        except StepFailed as failed:
            self._row(WHOLE_RUN, began, client.received_bytes - received, failed)
            return None
        self._row(WHOLE_RUN, began, client.received_bytes - received)
        return run.thread_id

    def _row(self, name: str, began: float, length: int,
             failure: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=ROW_TYPE, name=name, response_time=(time.perf_counter() - began) * 1000,
            response_length=length, exception=failure, context={"user": self.user_id})


_stopping = False


def _stop_the_test(environment: Any, reason: str) -> NoReturn:
    """Stop the whole test once (exit status 2), saying why; this user stops at once."""
    global _stopping
    if not _stopping:
        _stopping = True
        logger.error(reason)
        environment.process_exit_code = 2
        gevent.spawn(environment.runner.quit)
    raise StopUser()


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_: Any) -> None:
    parser.add_argument("--keep-users", action="store_true", default=False,
                        help="keep the load's users (load-<tag>-<n>) in the gateway's database "
                        "when the test stops")


@events.test_stop.add_listener
def _remove_users(environment: Any, **_: Any) -> None:
    """On a process that ran users: remove them, or say how."""
    if isinstance(environment.runner, MasterRunner) or not NAMES.made_here:
        return
    options = environment.parsed_options
    command = [sys.executable, "-m", "tools.load", "clean", "--prefix", NAMES.prefix]
    if options is not None and getattr(options, "keep_users", False):
        logger.info("keeping the load's users %s*; remove them with python %s",
                    NAMES.prefix, " ".join(command[1:]))
        return
    if not CONFIG.database_url:
        logger.info("the load's users %s* stay in the gateway's database (no "
                    "GOLDEN_PATH_DATABASE_URL here); remove them with python %s and that URL",
                    NAMES.prefix, " ".join(command[1:]))
        return
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False,
                          timeout=CONFIG.timeout * 4 + 60)
    if done.returncode == 0:
        logger.info(done.stdout.strip())
    else:
        logger.error("removing the load's users %s* failed (exit %s): %s", NAMES.prefix,
                     done.returncode, done.stderr.strip()[-2000:])
