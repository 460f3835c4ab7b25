"""One accepted WebSocket connection of the gateway: a `ClientSession`.

All frames to a client go through one queue and one writer task (`pump`), so replayed
and live events never interleave out of order, and errors keep their place among
events. Every text frame of the client gets an answer in its place: an `error` event
(the codes of chat.frames, `not_found`, `unavailable` while the database is away and
nothing of the frame was written, `internal_error` if handling it failed unexpectedly,
which is logged) or the events of the run it starts. A client that leaves more than
`MAX_OUTBOUND_ITEMS` frames unread is closed 1013 "too slow"; a session whose token runs
out gets `token_expired` and is closed 4401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection

from chat.auth import Claims
from chat.frames import FrameError, Resume, UserMessage, parse_frame
from chat.hub import Subscription
from chat.ids import new_connection_id, new_session_id
from chat.runs import NotFound, RunService, Unavailable

__all__ = [
    "ALL_RUNS",
    "CLOSE_GRACE_S",
    "MAX_OUTBOUND_ITEMS",
    "TOKEN_EXPIRED_CLOSE",
    "TOKEN_EXPIRED_REASON",
    "TRY_AGAIN_CLOSE",
    "ClientSession",
]

log = logging.getLogger(__name__)

TOKEN_EXPIRED_CLOSE = 4401
TOKEN_EXPIRED_REASON = "token expired"
# After the close of an expired session is queued, how long a stalled writer may delay it.
CLOSE_GRACE_S = 5.0
# Frames and events waiting to be sent to one client; beyond this it is closed as too slow.
MAX_OUTBOUND_ITEMS = 256
TRY_AGAIN_CLOSE = 1013
# Longest single timer wait while a session runs towards its token's end.
MAX_TIMER_S = 86400.0
ALL_RUNS = None


@dataclass
class _Following:
    """What one connection streams live: per thread, every run (`ALL_RUNS`, after a
    resume) or a set of runs (those it started or re-requested)."""

    runs: dict[str, set[str] | None] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    # Per thread, the `after_seq` of the latest resume: the client has everything up to
    # it, so a live event at or below it (published late by another gateway) is not sent.
    floor: dict[str, int] = field(default_factory=dict)


class ClientSession:
    """One accepted connection: its ids, its outbound queue and what it follows."""

    def __init__(self, service: RunService, websocket: ServerConnection, claims: Claims,
                 leeway_s: float) -> None:
        self.service = service
        self.websocket = websocket
        self.claims = claims
        self.user_id = claims.user_id
        self.connection_id = new_connection_id()
        self.session_id = new_session_id()
        # Recording the session runs beside the greeting; frames and the close wait for it.
        self.recording: asyncio.Task[bool] | None = None
        self.outbound: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.following = _Following()
        self.sent_seq: dict[str, int] = {}
        self.closed = False
        self.ends_at = claims.session_ends_at(leeway_s)
        self.expired = False
        self.too_slow = False
        self._closing: asyncio.Task[None] | None = None

    # outbound -----------------------------------------------------------------------

    def _put(self, item: tuple[str, Any]) -> None:
        """Queue for the writer; a client that lets the queue fill up is closed."""
        if self.too_slow:
            return
        if self.outbound.qsize() >= MAX_OUTBOUND_ITEMS:
            self._too_slow()
            return
        self.outbound.put_nowait(item)

    def _too_slow(self) -> None:
        log.warning("connection %s does not read; closed as too slow", self.connection_id)
        self.too_slow = True
        self.unfollow_all()
        while not self.outbound.empty():
            self.outbound.get_nowait()
        self._closing = asyncio.get_running_loop().create_task(self._close_too_slow())

    async def _close_too_slow(self) -> None:
        """Close 1013; the close frame waits behind what the client did not read, so
        after CLOSE_GRACE_S the TCP connection is dropped."""
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await self.websocket.close(TRY_AGAIN_CLOSE, "too slow")
        except TimeoutError:
            self.websocket.transport.abort()

    def send_frame(self, frame: dict[str, Any]) -> None:
        self._put(("frame", frame))

    def send_error(self, code: str, message: str) -> None:
        self.send_frame({"type": "error", "code": code, "message": message})

    def _on_live(self, event: dict[str, Any]) -> None:
        self._put(("live", event))

    async def pump(self) -> None:
        """The single writer: frames, replays and live events, in queue order."""
        while True:
            kind, item = await self.outbound.get()
            if kind == "frame":
                await self.websocket.send(json.dumps(item))
            elif kind == "close":
                code, reason = item
                await self.websocket.close(code, reason)
                return
            elif kind == "live":
                if self._wants(item):
                    await self._send_event(item)
            elif kind == "replay":
                try:
                    events = await item()
                except NotFound as exc:
                    await self.websocket.send(json.dumps(
                        {"type": "error", "code": "not_found", "message": str(exc)}))
                    continue
                except Unavailable as exc:
                    await self.websocket.send(json.dumps(
                        {"type": "error", "code": "unavailable", "message": str(exc)}))
                    continue
                for event in events:
                    await self._send_event(event)

    def _wants(self, event: dict[str, Any]) -> bool:
        thread_id, run_id = event.get("thread_id"), event.get("run_id")
        if thread_id not in self.following.runs:
            return False
        runs = self.following.runs[thread_id]
        if runs is not ALL_RUNS and run_id not in runs:
            return False
        if event.get("type") == "error":
            return True
        seq = int(event["seq"])
        return seq > self.sent_seq.get(str(run_id), 0) and seq > self.following.floor.get(
            str(thread_id), 0)

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "error":
            await self.websocket.send(json.dumps(
                {"type": "error", "code": event["code"], "message": event["message"]}))
            return
        run_id = str(event["run_id"])
        self.sent_seq[run_id] = max(self.sent_seq.get(run_id, 0), int(event["seq"]))
        await self.websocket.send(json.dumps(event))

    def follow(self, thread_id: str, run_id: str | None) -> None:
        """Stream live events of `run_id` (or of every run when None) in the thread."""
        if self.closed:
            return
        if thread_id not in self.following.subscriptions:
            self.following.subscriptions[thread_id] = self.service.hub.subscribe(
                self.user_id, thread_id, self._on_live)
            self.following.runs[thread_id] = set()
        runs = self.following.runs[thread_id]
        if run_id is None:
            self.following.runs[thread_id] = ALL_RUNS
        elif runs is not ALL_RUNS:
            runs.add(run_id)

    async def expire(self) -> None:
        """End the session when its token does: an `error` event `token_expired`, then
        close code 4401, in queue order after what was already on its way."""
        while (remaining := self.ends_at - time.time()) > 0:
            await asyncio.sleep(min(remaining, MAX_TIMER_S))
        self.expired = True
        self.send_error("token_expired", "the sign-in has expired; connect again with a new one")
        self.outbound.put_nowait(("close", (TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_REASON)))
        await asyncio.sleep(CLOSE_GRACE_S)
        await self.websocket.close(TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_REASON)

    def unfollow_all(self) -> None:
        self.closed = True
        for subscription in self.following.subscriptions.values():
            subscription.close()
        self.following = _Following()

    # session ------------------------------------------------------------------------

    def start_recording(self) -> None:
        self.recording = asyncio.get_running_loop().create_task(
            self._record(), name=f"open {self.connection_id}")

    async def _record(self) -> bool:
        """Record the session (users row, `active` session, cache keys). When the
        database cannot take it, the client is told `unavailable` and the connection is
        closed 1013, in queue order after the greeting; False then."""
        try:
            await self.service.open_session(
                self.user_id, self.session_id, self.connection_id, self.claims.jti)
        except Unavailable as exc:
            message = str(exc)
        except Exception:
            log.exception("session of connection %s not recorded", self.connection_id)
            message = "the session could not be recorded; connect again shortly"
        else:
            return True
        self.send_error("unavailable", message)
        self.outbound.put_nowait(("close", (TRY_AGAIN_CLOSE, "service unavailable")))
        return False

    async def recorded(self) -> bool:
        """Whether the session is on record (waiting for the recording to finish)."""
        return self.recording is not None and await asyncio.shield(self.recording)

    # inbound ------------------------------------------------------------------------

    async def handle_frame(self, raw: str | bytes) -> None:
        if not await self.recorded():
            return  # the session could not be recorded: the connection is closing
        if self.expired or time.time() >= self.ends_at:
            return  # the token has run out: nothing more is done for this session
        if self.too_slow:
            return  # closing: nothing more is done for a client that does not read
        try:
            frame = parse_frame(raw)
            if isinstance(frame, UserMessage):
                await asyncio.shield(self._start(frame))
            else:
                await self._resume(frame)
        except FrameError as exc:
            self.send_error(exc.code, exc.message)
        except NotFound as exc:
            self.send_error("not_found", str(exc))
        except Unavailable as exc:
            self.send_error("unavailable", str(exc))
        except Exception:
            log.exception("frame of connection %s not handled", self.connection_id)
            self.send_error("internal_error", "the service could not handle this message")

    async def _start(self, message: UserMessage) -> None:
        """Commit the message, follow the run, then launch it (or replay a repeated one).
        Shielded: once the message is committed its run starts even if the client left."""
        service = self.service
        user_id = self.user_id
        submission = await service.prepare(user_id, self.session_id, message.content,
                                           message.thread_id, message.message_id)
        self.follow(submission.thread_id, submission.run_id)
        if submission.repeated:
            run_id = submission.run_id
            self._put(("replay", lambda: service.run_events(user_id, run_id)))
        else:
            service.launch(submission)

    async def _resume(self, frame: Resume) -> None:
        service = self.service
        thread_id, after_seq = frame.thread_id, frame.after_seq
        if not await service.thread_exists(self.user_id, thread_id):
            raise NotFound(f"thread {thread_id} not found")
        self.follow(thread_id, ALL_RUNS)
        self.following.floor[thread_id] = after_seq
        user_id = self.user_id
        self._put(
            ("replay", lambda: service.thread_events_after(user_id, thread_id, after_seq)))
