"""`python -m tools.mutation`: gate strength, measured (DESIGN §7).

Mutation testing with cosmic-ray over the modules of `chat/` that hold the contract's
promises (sign-in, the gateway and its frames, the runs, the store's repositories, the
cache, the engine's tools), with the embedded suite as the test command: a mutant the
suite still passes is a promise nobody checks. It runs in a scratch copy of the project,
so the checkout is never edited; `--sample N` tries N mutants picked at random (`--seed`
makes the pick repeatable), no option tries them all.

It writes `reports/mutation.json` (`tool`, `modules`, `mutants`, `killed`, `survived`,
`equivalent`, each mutant with its module, line, operator and diff) and
`reports/mutation.md` for people. A mutant is equivalent when no program can tell it from
the original; `tools.mutation.equivalent` holds the rules and the listed cases, each with
its reason.
"""

from __future__ import annotations

MODULES = (
    "chat/auth.py",
    "chat/gateway.py",
    "chat/connection.py",
    "chat/frames.py",
    "chat/runs",
    "chat/store/conversations.py",
    "chat/store/runs.py",
    "chat/store/sessions.py",
    "chat/store/repositories.py",
    "chat/cache.py",
    "chat/engine/tools.py",
)

__all__ = ["MODULES"]
