"""Mutants a program could tell from the original, but only by a behaviour the contract
does not promise (DESIGN §5, §5.1): a bound the reference service adds of its own, the
wording of a message, a tuning constant. The suite checks the contract, so it must not
check these; each is listed with the reason, by module, operator (a suffix of its name,
"" for any) and the source line's text, and set aside like an equivalent mutant, apart
from it in the reports.
"""

from __future__ import annotations

from pathlib import Path

from tools.mutation.equivalent import Listed, listed_reason

__all__ = ["OUTSIDE", "why_outside"]

OUTSIDE: tuple[Listed, ...] = ()


def why_outside(root: Path, module: str, operator: str, start: tuple[int, int]) -> str | None:
    """Why this mutant changes only what the contract does not promise, or None."""
    return listed_reason(OUTSIDE, root, module, operator, start)
