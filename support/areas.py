"""The areas of the golden path a target cannot be checked on, by tag, and why (DESIGN §4).

A scenario tagged with an area this run cannot check is skipped before it starts, with
the reason; the console and every report name those areas, so a run never counts what it
did not check as passed. Over contract v1 every area is checked. Over AG-UI the areas
only v1 can express are left out; against an AG-UI agent the suite did not start, also
everything that reads the product's storage or cache, the operator's revocation, the
reference service's numbering of events and its multi-agent plan.
"""

from __future__ import annotations

from collections.abc import Iterable

from support.config import SuiteConfig

__all__ = ["AREAS", "not_checked", "reason_to_skip"]

AREAS: dict[str, str] = {
    "v1_only": "only contract v1 can express it: the greeting, the sessions of a connection, "
               "resuming a conversation, raw frames, a browser's subprotocol",
    "storage": "the suite cannot read this agent's storage",
    "cache": "the suite cannot read this agent's cache",
    "revocation": "the suite cannot revoke a sign-in at this agent",
    "seq": "this agent does not number its events as contract v1 does",
    "agents": "this agent does not follow the reference service's multi-agent plan",
}
OVER_AGUI = ("v1_only",)


def not_checked(config: SuiteConfig) -> dict[str, str]:
    """Area tag -> why this run cannot check it."""
    if config.protocol != "ag-ui":
        return {}
    areas = tuple(AREAS) if config.external_agent else OVER_AGUI
    return {area: AREAS[area] for area in areas}


def reason_to_skip(tags: Iterable[str], areas: dict[str, str]) -> str | None:
    """Why a scenario with these tags is not checked in this run, or None."""
    hit = [tag for tag in tags if tag in areas]
    if not hit:
        return None
    return "not checked: " + "; ".join(f"{tag} ({areas[tag]})" for tag in hit)
