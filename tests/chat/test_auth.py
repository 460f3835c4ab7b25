"""Every refusal reason of the wire contract, seen by a real client over a real socket:
HTTP 401 before the upgrade with body {"error": "invalid_token", "reason": R}."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from conftest import make_settings, running_service, wire_client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chat.auth import REASONS, TokenRefused, TokenVerifier, issue_token, revoke_token
from chat.config import Settings

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def signed(settings: Settings, **claims: Any) -> str:
    return issue_token(settings, "alice", extra_claims=claims)


CASES: dict[str, Callable[[Settings], Headers]] = {
    "missing": lambda s: {},
    "malformed": lambda s: bearer("not-a-token"),
    "expired": lambda s: bearer(issue_token(s, "alice", ttl_s=60, now=time.time() - 3600)),
    "not_yet_valid": lambda s: bearer(signed(s, nbf=int(time.time()) + 600)),
    "bad_signature": lambda s: bearer(issue_token(s, "alice", key=secrets.token_urlsafe(48))),
    "wrong_audience": lambda s: bearer(signed(s, aud="someone-else")),
    "wrong_issuer": lambda s: bearer(signed(s, iss="someone-else")),
    "unsupported_algorithm": lambda s: bearer(issue_token(s, "alice", algorithm="HS512")),
}


async def refusal(url: str, headers: Headers, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    try:
        async with connect(url, additional_headers=headers, **kwargs):
            pass
    except InvalidStatus as exc:
        return exc.response.status_code, json.loads(bytes(exc.response.body))
    raise AssertionError("the connection was accepted")


def test_every_reason_has_a_case() -> None:
    assert set(CASES) | {"revoked"} == set(REASONS)


@pytest.mark.parametrize("reason", sorted(CASES))
def test_refusal_reason_over_a_socket(reason: str, settings: Settings) -> None:
    async def scenario() -> tuple[int, dict[str, Any]]:
        async with running_service(settings) as service:
            return await refusal(service.url, CASES[reason](settings))

    assert asyncio.run(scenario()) == (401, {"error": "invalid_token", "reason": reason})


def test_more_malformed_and_unsupported_forms(settings: Settings) -> None:
    none_token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60, "iat": 0,
                             "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
                             "jti": "j"}, None, algorithm="none")
    no_jti = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60, "iat": int(time.time()),
                         "iss": settings.jwt_issuer, "aud": settings.jwt_audience},
                        settings.jwt_secret, algorithm="HS256")

    async def scenario() -> list[str]:
        async with running_service(settings) as service:
            reasons = []
            for headers in ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, bearer(no_jti),
                            bearer(none_token), bearer(signed(settings, sub="a:b"))):
                reasons.append((await refusal(service.url, headers))[1]["reason"])
            token = issue_token(settings, "alice")
            reasons.append((await refusal(f"{service.url}?token={token}", {}))[1]["reason"])
            return reasons

    assert asyncio.run(scenario()) == [
        "malformed", "malformed", "unsupported_algorithm", "malformed", "missing"]


def test_revoked_token_is_refused_and_others_still_open(settings: Settings) -> None:
    async def scenario() -> tuple[tuple[int, dict[str, Any]], str]:
        async with running_service(settings) as service:
            revoked = issue_token(settings, "alice", jti="revoked-1")
            await revoke_token(service.redis, "revoked-1", int(time.time()) + 3600, leeway_s=5)
            outcome = await refusal(service.url, bearer(revoked))
            async with wire_client(service, "alice") as client:
                return outcome, client.established["type"]

    assert asyncio.run(scenario()) == (
        (401, {"error": "invalid_token", "reason": "revoked"}), "connection_established")


def test_revocation_key_lives_until_the_token_is_refused_anyway(settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        async with running_service(settings) as service:
            exp = int(time.time()) + 120
            await revoke_token(service.redis, "j1", exp, leeway_s=5)
            await revoke_token(service.redis, "j2", int(time.time()) - 50, leeway_s=5)
            expires_at = await service.redis.expiretime("gp:revoked:j1")
            return expires_at - exp, await service.redis.pttl("gp:revoked:j2")

    after_exp, left_ms = asyncio.run(scenario())
    assert after_exp == 5  # exp, then the leeway the gateway lets an expired token in for
    assert left_ms == -2  # refused as expired anyway: no entry


def test_subprotocol_form_selects_bearer(settings: Settings) -> None:
    async def scenario() -> tuple[str | None, dict[str, Any]]:
        async with running_service(settings) as service:
            token = issue_token(settings, "alice")
            async with connect(service.url, subprotocols=["bearer", token]) as ws:  # type: ignore[list-item]
                return ws.subprotocol, json.loads(await ws.recv())

    subprotocol, established = asyncio.run(scenario())
    assert subprotocol == "bearer"
    assert established["type"] == "connection_established"
    assert established["user_id"] == "alice"


def _pem_pair(kind: str) -> tuple[str, str]:
    private = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RS256"
               else ec.generate_private_key(ec.SECP256R1()))
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_public_key_algorithms(algorithm: str) -> None:
    private_pem, public_pem = _pem_pair(algorithm)
    settings = make_settings(jwt_algorithms=(algorithm,), jwt_public_key=public_pem)
    verifier = TokenVerifier(settings)
    good = issue_token(settings, "alice", algorithm=algorithm, key=private_pem)
    assert verifier.decode(good).user_id == "alice"
    other_private, _ = _pem_pair(algorithm)
    forged = issue_token(settings, "alice", algorithm=algorithm, key=other_private)
    hs = issue_token(settings, "alice")
    reasons = []
    for token in (forged, hs):
        with pytest.raises(TokenRefused) as refused:
            verifier.decode(token)
        reasons.append(refused.value.reason)
    assert reasons == ["bad_signature", "unsupported_algorithm"]


def test_public_key_settings_from_environment(tmp_path: Any) -> None:
    private_pem, public_pem = _pem_pair("ES256")
    key_file = tmp_path / "public.pem"
    key_file.write_text(public_pem)
    settings = Settings.from_env({"GOLDEN_PATH_JWT_PUBLIC_KEY_FILE": str(key_file),
                                  "GOLDEN_PATH_JWT_ALGORITHMS": "ES256"})

    async def scenario() -> tuple[str, str]:
        async with running_service(settings) as service:
            token = issue_token(settings, "carol", algorithm="ES256", key=private_pem)
            async with wire_client(service, "carol", token=token) as client:
                hs = issue_token(make_settings(), "carol")
                refused = await refusal(service.url, bearer(hs))
                return client.established["user_id"], refused[1]["reason"]

    assert asyncio.run(scenario()) == ("carol", "unsupported_algorithm")
