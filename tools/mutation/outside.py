"""Mutants a program could tell from the original, but only by a behaviour the contract
does not promise (DESIGN §5, §5.1): a bound the reference service adds of its own, the
wording of a message, the service's own start-up checks of its settings, a tool for
operators. The suite checks the contract, so it must not check these; each is listed with
the reason and set aside like an equivalent mutant, apart from it in the reports.

`OUTSIDE` names single lines, by module, operator (a suffix of its name, "" for any) and
the source line's text; `SCOPES` names whole functions or classes, by module and
qualified name, wherever their lines now are.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tools.mutation.equivalent import UNCALLED, Listed, listed_reason

__all__ = ["OUTSIDE", "SCOPES", "Scope", "why_outside"]


@dataclass(frozen=True)
class Scope:
    """Every mutant inside one function or class, and why none is a promise."""

    module: str
    qualname: str
    reason: str


_SETTINGS = ("the service's own check of its settings at start-up; the contract is what "
             "a client sees, and the settings are the deployment's (tests/chat checks them)")
_WORDING = ("only the wording of a message's free text; the contract names the code, not "
            "the words")
_OWN_BOUND = ("a bound the reference service adds of its own; the contract names none, so "
              "another backend may draw it elsewhere")

_DRIVER_PATH = ("only which driver path SQLite runs on (sqlite3 in a thread of its own, or "
                "aiosqlite): the mutants are judged on SQLite, where both keep the contract; "
                "on PostgreSQL the run on real backends would fail at once")
_TUNING = ("a tuning constant of this service (how long, how many, how often); the contract "
           "names no figure for it")

SCOPES: tuple[Scope, ...] = (
    Scope("chat/cache.py", "Cache.get_result", UNCALLED),
    Scope("chat/cache.py", "Cache.get_results", UNCALLED),
    Scope("chat/cache.py", "concurrency_for", _TUNING),
    Scope("chat/auth.py", "issue_token",
          "the service's own token issuer, for operators (`python -m chat token`); the "
          "contract's clients bring their sign-ins, and the suite mints its own"),
    Scope("chat/auth.py", "_VerificationKey.build", _SETTINGS),
    Scope("chat/auth.py", "TokenVerifier.key_ids", UNCALLED),
    Scope("chat/gateway.py", "_peer", "only how a log line names the peer's address"),
)

OUTSIDE: tuple[Listed, ...] = (
    Listed("chat/auth.py", "", "raise TokenRefused(\"bad_signature\", f\"unknown key id "
           "{kid[:80]!r}\")", _WORDING),
    Listed("chat/frames.py", "", "raise FrameError(\"unknown_type\", f\"unknown frame type "
           "{kind[:60]!r}\")", _WORDING),
    Listed("chat/frames.py", "", "f\"'content' is over {MAX_CONTENT_BYTES // 1024} KiB\")",
           _WORDING),
    Listed("chat/auth.py", "", "MAX_TOKEN_CHARS = 8192", _OWN_BOUND),
    Listed("chat/auth.py", "", "if len(token) > MAX_TOKEN_CHARS:", _OWN_BOUND),
    Listed("chat/auth.py", "", 'raise TokenRefused("malformed", f"{type(exc).__name__}: '
           '{exc}"[:200]) from None', _WORDING),
    Listed("chat/auth.py", "", 'self.algorithms = tuple(a for a in settings.jwt_algorithms '
           'if a.lower() != "none")', _SETTINGS),
    Listed("chat/auth.py", "", "if not isinstance(jti, str) or not isinstance(exp, int):",
           "the operator command's refusal of a token it cannot revoke (no jti or exp); the "
           "contract is what a client sees"),
    Listed("chat/auth.py", "", "if not isinstance(jti, str) or not jti or len(jti) > 200:",
           _OWN_BOUND),
    Listed("chat/frames.py", "", "MAX_CLIENT_ID_CHARS = 200", _OWN_BOUND),
    Listed("chat/frames.py", "",
           "if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_ID_CHARS:",
           _OWN_BOUND, after="0 < len(value)"),
    Listed("chat/frames.py", "", "MAX_SEQ = 2**31 - 1", _OWN_BOUND),
    Listed("chat/frames.py", "", "or not 0 <= after_seq <= MAX_SEQ):", _OWN_BOUND,
           after="0 <= after_seq"),
    Listed("chat/frames.py", "NumberReplacer", 'after_seq = frame.get("after_seq", 0)',
           "a resume without `after_seq`, which the contract's resume always names; reading "
           "it as 0 is this service's own leniency"),
    *(Listed(module, "", line, _TUNING) for module, line in (
        ("chat/cache.py", "RESERVED_CONNECTIONS = 4"),
        ("chat/cache.py", "DEFAULT_CONCURRENCY = 64"),
        ("chat/cache.py", "GATEWAY_TTL_S = 10"),
        ("chat/connection.py", "CLOSE_GRACE_S = 5.0"),
        ("chat/connection.py", "MAX_OUTBOUND_ITEMS = 256"),
        ("chat/connection.py", "MAX_TIMER_S = 86400.0"),
        ("chat/runs/faults.py", "CACHE_WRITE_TIMEOUT_S = 1.0"),
        ("chat/runs/faults.py", "REPAIRS_LIMIT = 10_000"),
        ("chat/runs/recovery.py", "HEARTBEAT_INTERVAL_S = 1.0"),
        ("chat/runs/recovery.py", "MISSING_GRACE_S = 2.0"),
        ("chat/runs/recovery.py", ("TAKEOVER_S = GATEWAY_TTL_S + HEARTBEAT_INTERVAL_S + "
                                   "MISSING_GRACE_S + HEARTBEAT_INTERVAL_S")),
        ("chat/engine/tools.py", "WAIT_CAP_S = 30.0"),
    )),
    *(Listed("chat/runs/faults.py", "", line,
             "only the counts log lines give: nothing else reads how many repairs were done "
             "or dropped")
      for line in ("done = 0", "done += 1", "if done:", "self.dropped = 0",
                   "self.dropped += 1")),
    Listed("chat/auth.py", "ReplaceComparisonOperator_Lt_LtE",
           "return float(self.expires_at) if current < self.expires_at else "
           "self.expires_at + leeway_s",
           "only a sign-in checked at the very instant of its whole-second `exp`, which the "
           "clock, read to the microsecond, hits by chance alone; the contract promises "
           "nothing of that instant"),
    *(Listed("chat/runs/recovery.py", "", line,
             "only the count of runs recovery failed, which no code of the service reads "
             "(a log line and tests/chat do)")
      for line in ("return 0", "return failed", "failed = 0", "failed += 1", "if failed:")),
    Listed("chat/runs/recovery.py", "ReplaceComparisonOperator_GtE_Gt",
           "if now - since >= MISSING_GRACE_S:",
           "only the very instant the grace is over, on a clock read to the nanosecond; the "
           "contract names no grace"),
    *(Listed("chat/connection.py", operator, "if self.outbound.qsize() >= MAX_OUTBOUND_ITEMS:",
             "only one frame more or fewer left unread before a client is let go as too "
             "slow; the contract names no number")
      for operator in ("ReplaceComparisonOperator_GtE_Gt", "ReplaceComparisonOperator_GtE_Is",
                       "ReplaceComparisonOperator_GtE_Eq")),
    *(Listed("chat/store/repositories.py", "", line, _DRIVER_PATH)
      for line in ('self.is_sqlite = engine.dialect.name == "sqlite"',
                   "if self._sqlite is not None:")),
    Listed("chat/runs/submission.py", "", "THREAD_TITLE_CHARS = 80",
           "a conversation's title; the contract has no titles"),
    Listed("chat/auth.py", "", "MAX_EPOCH_S = 253402300799",
           "only how a date after the year 9999 is read"),
    Listed("chat/auth.py", "", "self.leeway_s = max(0, settings.jwt_leeway_s)",
           "only a deployment set to a negative leeway could tell; any leeway of 0 to 30 s "
           "keeps the contract"),
)


@cache
def _spans(path: Path) -> dict[str, tuple[int, int]]:
    """Qualified name -> (first, last) line of every function and class in a module."""
    spans: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                spans[name] = (first, child.end_lineno or child.lineno)
                visit(child, f"{name}.")

    visit(ast.parse(path.read_text()), "")
    return spans


def why_outside(root: Path, module: str, operator: str, start: tuple[int, int]) -> str | None:
    """Why this mutant changes only what the contract does not promise, or None."""
    for scope in SCOPES:
        if scope.module == module:
            span = _spans(root / module).get(scope.qualname)
            if span is None:
                raise ValueError(f"{module} has no {scope.qualname} any more; mend its "
                                 "listing in tools/mutation/outside.py")
            first, last = span
            if first <= start[0] <= last:
                return scope.reason
    return listed_reason(OUTSIDE, root, module, operator, start)
