"""Mutants no program can tell from the original, each with the reason why.

A rule covers a whole kind (an operator applied inside a type annotation, which
`from __future__ import annotations` keeps from ever being evaluated); `LISTED` names
single cases found by reading a survivor, by module, operator and the source line's text,
so a listing survives edits elsewhere in the module.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["LISTED", "UNCALLED", "Listed", "listed_reason", "why_equivalent"]


@dataclass(frozen=True)
class Listed:
    """One equivalent mutant: where, which operator, the line it changes, and why;
    `after`, when given, is the text just before the changed token on that line (for a
    line with two of the same operator); `becomes`, when given, is text the line has
    once mutated (for an operator that changes one token two ways, as a number made one
    more or one less)."""

    module: str
    operator: str
    line_text: str
    reason: str
    after: str = ""
    becomes: str = ""


_CENTURY = ("it only moves a cap on revocations to a century or more (or by less than a "
            "year of it): a sign-in that expires sooner, 99 years included, is revoked until "
            "it expires either way")
_FROZEN = ("nothing assigns to a record after it is made (the frozen original would raise "
           "if anything did), so whether it refuses is never seen")
_INTERNED = ("the queue's kinds are string literals of this module, which CPython interns, "
             "so `is` and `==` agree on every one of them")
_LAST_KIND = ("`replay` is the last of the queue's four kinds, so only it reaches this test, "
              "and `replay` passes it either way")
_NONE_SENTINEL = ("ALL_RUNS is None and the other side a set, so `!=` and `is not` agree "
                  "on every value it can have")
_OWNER_KNOWN = ("the row is found by an id the service made itself and already holds as this "
                "user's (its ids are unique across users), so what this filter says of the "
                "user changes no row")
UNCALLED = ("no code of the service calls it: only tests/chat and the benchmark read "
           "through it, so no answer of the service can change")
_OPS_LEFT = ("the engine asks the calculator only for + - * / (its question pattern allows no "
             "other), and by this branch only the operator it tests is left, which passes "
             "either way")
_ENGINE_LITERAL = ("the operator comes from the engine's own question pattern, a literal of "
                   "this module that CPython interns, so `is` and `==` agree")
_RATED = ("the lookup hands over usage only of the products it found, each with its rate, so "
          "the default for a product without one is never used")
_PLANNED = "the shipped catalogue always lists plans, so the default discount is never used"
_SESSION_ORDER = ("a session is only ever 'active', 'disconnected' or 'ended', and 'active' "
                  "sorts first, so `<=` picks the same rows as `==`")
_RUN_ORDER = ("a run is only ever 'completed', 'failed' or 'running', and 'running' sorts "
              "last, so `>=` picks the same rows as `==`, and `<` the same as `!=`")
_OWN_LITERAL = ("the status is always one of this service's own string literals, which "
                "CPython interns, so `is` and `==` agree on every value it can have")
_CLOSE_CODES = ("no close code below 1000 can arrive: RFC 6455 leaves them unused and the "
                "websockets library refuses them as a protocol error, so `<=` picks the same "
                "closes as `==`")
_COMPLETED_FIRST = ("the event's type is always an EventType, a StrEnum of singletons: `==` "
                    "is `is` for its members, and 'agent_completed' sorts before every other "
                    "type, so `<=` picks it alone")
_SETTLED = ("an event is settled only after it was emitted, so the settled count never "
            "exceeds the emitted one and `>=` holds exactly when `==` does")
_SELF_ALIVE = ("the gateway that sweeps is alive itself, its heartbeat fresh, so counting "
               "its own sessions among the others' changes nothing")
_ACTIVE_ONLY = ("recovery releases only `active` sessions and fails only `running` runs, so "
                "gateways known from sessions that ended already change nothing")
_SEQ_FROM_ONE = ("a `seq` is never below 1, so a floor of -1 lets through exactly what a "
                 "floor of 0 does")
_ONE_COLUMN = "the rows have one column, so the last one is the first"
LISTED: tuple[Listed, ...] = (
    *(Listed("chat/connection.py", "NumberReplacer", line, _SEQ_FROM_ONE, becomes=change)
      for line, change in (
          ("return seq > self.sent_seq.get(str(run_id), 0) and seq > self.following.floor.get(",
           "get(str(run_id), -1)"),
          ("str(thread_id), 0)", "str(thread_id), -1)"),
          ('self.sent_seq[run_id] = max(self.sent_seq.get(run_id, 0), int(event["seq"]))',
           "get(run_id, -1)"))),
    *(Listed(module, "NumberReplacer", line, _ONE_COLUMN, becomes="row[ -1]")
      for module, line in (
          ("chat/store/runs.py", "return [row[0] for row in rows]"),
          ("chat/store/runs.py", "return {str(row[0]) for row in rows}"),
          ("chat/store/sessions.py",
           "return {str(row[0]) for row in await self.connection.execute(statement)}"))),
    Listed("chat/store/sessions.py", "AddNot", "if except_gateway is not None:", _SELF_ALIVE),
    Listed("chat/store/sessions.py", "ReplaceComparisonOperator_NotEq_IsNot",
           "statement = statement.where(sessions_t.c.gateway_id != except_gateway)",
           _SELF_ALIVE),
    *(Listed("chat/store/sessions.py", operator,
             'and_(sessions_t.c.status == "active", sessions_t.c.gateway_id.is_not(None)))',
             _ACTIVE_ONLY)
      for operator in ("ReplaceComparisonOperator_Eq_IsNot", "ReplaceComparisonOperator_Eq_GtE")),
    Listed("chat/store/sessions.py", "",
           'temp_t.c.user_id == bindparam("b_user"), temp_t.c.session_id == '
           'bindparam("b_session")))', _OWNER_KNOWN, after="temp_t.c.user_id"),
    Listed("chat/store/runs.py", "ReplaceTrueWithFalse",
           'runs_t.c.id.in_(bindparam("b_ids", expanding=True)),',
           "SQLAlchemy makes the parameter of an IN expanding whatever it is told"),
    Listed("chat/runs/submission.py", "ReplaceFalseWithTrue", "new_thread: bool = False,",
           "every caller of the submissions names `new_thread` (RunService.prepare passes "
           "its own), so the default is never used"),
    *(Listed("chat/gateway.py", operator, "if pump is not None and not pump.done():",
             "the pump, when not done, was cancelled just above with the connection's other "
             "tasks, so whether it is cancelled again changes nothing")
      for operator in ("ReplaceComparisonOperator_IsNot_Is", "ReplaceUnaryOperator_Delete_Not",
                       "AddNot")),
    Listed("chat/engine/tools.py", "ReplaceComparisonOperator_Eq_GtE",
           'return self.status == "ok"',
           "a tool's status is only ever 'ok' or 'error', and only 'ok' is >= 'ok'"),
    Listed("chat/runs/events.py", "ReplaceComparisonOperator_Eq_GtE",
           "if event.get(\"type\") == EventType.TOOL_EXECUTING.value:",
           "an event's type is one of the five of the contract, and 'tool_executing' sorts "
           "after every other, so `>=` picks it alone"),
    Listed("chat/frames.py", "ReplaceComparisonOperator_Lt_NotEq",
           "if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_ID_CHARS:",
           "a length is never negative, so `0 !=` and `0 <` agree on every one"),
    Listed("chat/runs/recovery.py", "ReplaceBinaryOperator_Sub_BitXor",
           "dead = (others - live) | {self.gateway_id}",
           "the live gateways are read among `others` only, so `live` is a subset of "
           "`others` and `^` takes away the same as `-`"),
    Listed("chat/runs/submission.py", "ReplaceAndWithOr",
           "assert submission.context is not None and not submission.repeated",
           "an assertion that holds on every path (only a fresh submission is launched), so "
           "one that asks less never fires either"),
    Listed("chat/store/conversations.py", "NumberReplacer",
           "async def next_seq(self, user_id: str, thread_id: str, count: int = 1) -> int:",
           "every caller names the count, so the default is never used"),
    *(Listed("chat/runs/events.py", f"ReplaceComparisonOperator_Is_{op}",
             "if pending.type is EventType.AGENT_COMPLETED:", _COMPLETED_FIRST)
      for op in ("Eq", "LtE")),
    Listed("chat/runs/events.py", "ReplaceComparisonOperator_Eq_GtE",
           "if self._settled == self._emitted:", _SETTLED),
    *(Listed(module, "ReplaceComparisonOperator_Eq_Is", line, _OWN_LITERAL)
      for module, line in (
          ("chat/runs/events.py", 'if status == "completed":'),
          ("chat/runs/events.py", 'result=response if status == "completed" else None,'),
          ("chat/store/sessions.py", '"ended_at": utcnow() if status == "ended" else None})'),
          ("chat/engine/tools.py", 'return self.status == "ok"'))),
    Listed("chat/gateway.py", "ReplaceComparisonOperator_Eq_LtE",
           "ended = client.expired or (close is not None and close.code == 1000)",
           _CLOSE_CODES),
    Listed("chat/store/sessions.py", "ReplaceComparisonOperator_Eq_LtE",
           'and_(sessions_t.c.status == "active", sessions_t.c.gateway_id.is_not(None)))',
           _SESSION_ORDER),
    Listed("chat/store/sessions.py", "ReplaceComparisonOperator_Eq_LtE",
           '.where(and_(sessions_t.c.status == "active",', _SESSION_ORDER),
    Listed("chat/store/runs.py", "ReplaceComparisonOperator_Eq_GtE",
           'runs_t.c.status == "running"))', _RUN_ORDER),
    Listed("chat/store/runs.py", "ReplaceComparisonOperator_Eq_GtE",
           'statement = select(*_run_columns()).where(runs_t.c.status == "running")', _RUN_ORDER),
    Listed("chat/store/runs.py", "ReplaceComparisonOperator_NotEq_Lt",
           'runs_t.c.status != "running"))', _RUN_ORDER),
    *(Listed("chat/engine/tools.py", f"ReplaceComparisonOperator_Eq_{op}", line, _OPS_LEFT)
      for line, op in (('elif op == "*":', "LtE"), ('elif op == "/":', "GtE"),
                       ('elif op == "/":', "LtE"))),
    *(Listed("chat/engine/tools.py", "ReplaceComparisonOperator_Eq_Is", line, _ENGINE_LITERAL)
      for line in ('if op == "+":', 'elif op == "-":', 'elif op == "*":', 'elif op == "/":')),
    Listed("chat/engine/tools.py", "NumberReplacer",
           'current = sum(rates.get(u["product"], 0.0) * float(u["hours"]) for u in usage)',
           _RATED),
    Listed("chat/engine/tools.py", "NumberReplacer",
           'rates.get(u["product"], 0.0) * float(u["hours"]) * (1 - float(u["idle_share"]))',
           _RATED),
    Listed("chat/engine/tools.py", "NumberReplacer",
           'best_discount = max((float(p["discount"]) for p in args.get("plans", [])), '
           'default=0.0)', _PLANNED),
    Listed("chat/auth.py", "ReplaceTrueWithFalse", "sort_keys=True)",
           "every member list of THUMBPRINT_MEMBERS is in sorted order already"),
    Listed("chat/auth.py", "NumberReplacer", "return max(0, min(int(value), MAX_EPOCH_S))",
           "it moves the floor of a date claim from the first second of 1970 to the next; no "
           "sign-in is dated then"),
    Listed("chat/store/conversations.py", "",
           '.where(and_(threads_t.c.id == bindparam("b_id"), threads_t.c.user_id == '
           'bindparam("b_user")))', _OWNER_KNOWN, after="threads_t.c.user_id"),
    Listed("chat/store/runs.py", "", 'runs_t.c.id == bindparam("b_id"), runs_t.c.user_id == '
           'bindparam("b_user"),', _OWNER_KNOWN, after="runs_t.c.user_id"),
    Listed("chat/store/runs.py", "", 'runs_t.c.user_id == bindparam("b_user"),', _OWNER_KNOWN),
    Listed("chat/store/runs.py", "",
           ".where(and_(events_t.c.user_id == user_id, events_t.c.run_id == run_id))",
           _OWNER_KNOWN, after="events_t.c.user_id"),
    Listed("chat/store/sessions.py", "", 'sessions_t.c.id == bindparam("b_id"), '
           'sessions_t.c.user_id == bindparam("b_user")))', _OWNER_KNOWN,
           after="sessions_t.c.user_id"),
    Listed("chat/store/sessions.py", "",
           "and_(sessions_t.c.id == session_id, sessions_t.c.user_id == user_id)", UNCALLED),
    Listed("chat/store/conversations.py", "",
           "and_(threads_t.c.id == thread_id, threads_t.c.user_id == user_id))", UNCALLED),
    *(Listed("chat/connection.py", "ReplaceComparisonOperator_Eq_Is", f'{word} kind == "{kind}":',
             _INTERNED)
      for word, kind in (("if", "frame"), ("elif", "close"), ("elif", "live"),
                         ("elif", "replay"))),
    *(Listed("chat/connection.py", operator, 'elif kind == "replay":', _LAST_KIND)
      for operator in ("ReplaceComparisonOperator_Eq_LtE", "ReplaceComparisonOperator_Eq_GtE")),
    Listed("chat/connection.py", "ReplaceComparisonOperator_IsNot_NotEq",
           "elif runs is not ALL_RUNS:", _NONE_SENTINEL),
    Listed("chat/connection.py", "ReplaceComparisonOperator_IsNot_NotEq",
           "if runs is not ALL_RUNS and run_id not in runs:", _NONE_SENTINEL),
    Listed("chat/store/runs.py", "",
           ".where(and_(events_t.c.user_id == user_id, events_t.c.thread_id == thread_id,",
           "a thread's events are read only after the thread was found to be the user's "
           "(EventStore.thread_events_after reads the thread first, in the same "
           "transaction), so whatever this filter says of the user changes no answer"),
    Listed("chat/store/runs.py", "", "and_(runs_t.c.id == run_id, runs_t.c.user_id == user_id)",
           UNCALLED),
    Listed("chat/store/conversations.py", "",
           '.where(and_(messages_t.c.user_id == bindparam("b_user"),', UNCALLED),
    Listed("chat/store/conversations.py", "",
           'messages_t.c.thread_id == bindparam("b_thread")))', UNCALLED),
    Listed("chat/store/runs.py", "",
           "(runs_t.c.gateway_id != except_gateway) | runs_t.c.gateway_id.is_(None))",
           "the gateway's own runs, if listed, are left alone again: recovery fails only the "
           "runs of gateways whose heartbeat has gone, and its own is alive"),
    Listed("chat/runs/events.py", "ReplaceComparisonOperator_Eq_LtE",
           'result=response if status == "completed" else None,',
           "a run's status is only ever 'completed' or 'failed', and 'failed' <= 'completed' "
           "is false just as 'failed' == 'completed' is"),
    Listed("chat/runs/faults.py", "", "if self.dropped % 1000 == 1:",
           "it only decides how often a warning is logged about dropped cache repairs"),
    Listed("chat/auth.py", "NumberReplacer", "MAX_REVOCATION_S = 100 * 365 * 86400",
           _CENTURY),
    Listed("chat/auth.py", "ReplaceBinaryOperator_Mul_Pow", "MAX_REVOCATION_S = 100 * 365 * 86400",
           _CENTURY),
    Listed("chat/auth.py", "ReplaceBinaryOperator_Mul_LShift",
           "MAX_REVOCATION_S = 100 * 365 * 86400", _CENTURY),
    *(Listed("chat/auth.py", operator, "int(time.time()) + MAX_REVOCATION_S))", _CENTURY)
      for operator in ("ReplaceBinaryOperator_Add_Mul", "ReplaceBinaryOperator_Add_Pow",
                       "ReplaceBinaryOperator_Add_LShift")),
    Listed("chat/runs/faults.py", "ReplaceComparisonOperator_Is_Eq",
           "if self._pending.get(key) is action:",
           "the actions are functions, which are equal only when they are the same object"),
)


@cache
def _annotation_spans(path: Path) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """(start, end) positions of every annotation in a module whose annotations are never
    evaluated (it imports `annotations` from `__future__`)."""
    tree = ast.parse(path.read_text())
    postponed = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                    and any(a.name == "annotations" for a in node.names) for node in tree.body)
    if not postponed:
        return ()
    found = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            found.append(((annotation.lineno, annotation.col_offset),
                          (annotation.end_lineno or annotation.lineno,
                           annotation.end_col_offset or 0)))
    return tuple(found)


def why_equivalent(root: Path, module: str, operator: str, start: tuple[int, int],
                   end: tuple[int, int],
                   mutated_line: Callable[[], str] | None = None) -> str | None:
    """The reason a mutant is equivalent, or None when it is not known to be;
    `mutated_line` gives the changed line as the mutant has it, when asked."""
    path = root / module
    for first, last in _annotation_spans(path):
        if first <= start and end <= last:
            return ("it changes a type annotation, which this module never evaluates "
                    "(from __future__ import annotations)")
    if operator.endswith("ReplaceTrueWithFalse") and _line(root, module, start) == (
            "@dataclass(frozen=True)"):
        return _FROZEN
    if operator.endswith("ReplaceBinaryOperator_Mul_Div") and _bare_star(root, module, start):
        return _STAR
    return listed_reason(LISTED, root, module, operator, start, mutated_line)


_STAR = ("a `/` in place of a signature's bare `*`: no call in the service names a "
         "parameter before it, so every call binds as before")


def _bare_star(root: Path, module: str, start: tuple[int, int]) -> bool:
    """Whether the mutant turns the bare `*` of a signature into `/` for a function (or a
    class's `__init__`) that no call in `chat/` passes an earlier parameter to by name."""
    raw = (root / module).read_text().splitlines()[start[0] - 1]
    if raw[start[1]:start[1] + 1] != "*" or not raw[start[1] + 1:].lstrip().startswith(","):
        return False
    before = _named_before_star(root / module, start[0])
    return before is not None and not (before[1] & _keywords_passed(root, before[0]))


def _named_before_star(path: Path, line: int) -> tuple[str, frozenset[str]] | None:
    """(the name callers use, the parameters before `*`) of the def whose signature holds
    `line`; a method `__init__` is called by its class's name."""
    for node in ast.walk(ast.parse(path.read_text())):
        bodies = [node] if isinstance(node, ast.ClassDef) else []
        for holder in bodies:
            for item in holder.body:
                if (isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                        and item.lineno <= line < item.body[0].lineno):
                    name = holder.name if item.name == "__init__" else item.name
                    return name, _positional(item)
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.lineno <= line < node.body[0].lineno):
            return node.name, _positional(node)
    return None


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    return frozenset(a.arg for a in [*node.args.posonlyargs, *node.args.args]
                     if a.arg not in ("self", "cls"))


@cache
def _keywords_passed(root: Path, name: str) -> frozenset[str]:
    """Every keyword any call named `name` (a function, method or class) passes in chat/."""
    found: set[str] = set()
    for path in (root / "chat").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                called = (node.func.attr if isinstance(node.func, ast.Attribute)
                          else getattr(node.func, "id", None))
                if called == name:
                    found.update(k.arg for k in node.keywords if k.arg)
    return frozenset(found)


def _line(root: Path, module: str, start: tuple[int, int]) -> str:
    return (root / module).read_text().splitlines()[start[0] - 1].strip()


def listed_reason(cases: tuple[Listed, ...], root: Path, module: str, operator: str,
                  start: tuple[int, int],
                  mutated_line: Callable[[], str] | None = None) -> str | None:
    """The reason of the case in `cases` that names this mutant, or None."""
    raw = (root / module).read_text().splitlines()[start[0] - 1]
    line, before = raw.strip(), raw[:start[1]].rstrip()
    for case in cases:
        if (case.module == module and operator.endswith(case.operator)
                and case.line_text == line and before.endswith(case.after)
                and (not case.becomes
                     or (mutated_line is not None and case.becomes in mutated_line()))):
            return case.reason
    return None
