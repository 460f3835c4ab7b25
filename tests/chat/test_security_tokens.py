"""Hostile sign-ins against the chat service (RFC 8725): algorithms outside the allow-list,
`none`, the HS/RS confusion, unknown key ids, claims at the edge of the leeway, revoked
tokens, tokens in the query string, a token that runs out during a session, and thousands
of generated tokens that must each be refused with a reason of the contract, never crash
the check. Refusals are seen by a real client over a real socket where the gateway is
involved; claim edges are checked on the verifier, where the clock can be set exactly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from typing import Any

import jwt
import pytest
from conftest import make_settings, probe_engine, query, running_service, wire_client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.auth import (
    MAX_EPOCH_S,
    REASONS,
    Claims,
    TokenRefused,
    TokenVerifier,
    issue_token,
    key_id,
    revoke_token,
)
from chat.config import Settings, SettingsError
from support.wire.garbage import random_json, random_text

TOKENS_TRIED: dict[str, int] = {}


def tried(kind: str, count: int = 1) -> None:
    TOKENS_TRIED[kind] = TOKENS_TRIED.get(kind, 0) + count


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims_for(s: Settings, user: str = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "iat": now, "exp": now + 600, "iss": s.jwt_issuer,
                              "aud": s.jwt_audience, "jti": secrets.token_hex(8)}
    claims.update(overrides)
    return claims


def hand_made(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A compact JWS built by hand, HMAC-SHA256 over the signing input with `secret` (None:
    an empty signature), whatever `alg` the header claims: what an attacker can craft."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(),
                                                    hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def pem_pair(kind: str) -> tuple[str, str]:
    private = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA"
               else ec.generate_private_key(ec.SECP256R1()))
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def reason_of(verifier: TokenVerifier, token: str) -> str:
    """The refusal reason, or "accepted"."""
    tried("verifier")
    try:
        verifier.decode(token)
    except TokenRefused as refused:
        return refused.reason
    return "accepted"


async def handshake(url: str, headers: dict[str, str] | None = None,
                    **kwargs: Any) -> str:
    """What the gateway answers a handshake: "accepted" or the reason of its 401."""
    tried("handshake")
    try:
        async with connect(url, additional_headers=headers, **kwargs) as ws:
            greeting = json.loads(await ws.recv())
            assert greeting["type"] == "connection_established"
            return "accepted"
    except InvalidStatus as exc:
        body = json.loads(bytes(exc.response.body))
        assert exc.response.status_code == 401 and body["error"] == "invalid_token", body
        return str(body["reason"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- algorithms ------------------------------------------------------------------------


MADE_UP = ["none", "None", "NONE", "nOnE", "HS1024", "SHA256", "HS256 ", "hs256", "", "RS256",
           "ES256", "EdDSA", "PS256"]


def test_made_up_and_unsigned_algorithms_are_refused_over_a_socket() -> None:
    s = make_settings()

    async def scenario() -> dict[str, str]:
        async with running_service(s) as service:
            seen = {}
            for alg in MADE_UP:
                for secret in (None, s.jwt_secret.encode()):
                    token = hand_made({"alg": alg, "typ": "JWT"}, claims_for(s), secret)
                    seen[f"{alg!r} signed={secret is not None}"] = await handshake(
                        service.url, bearer(token))
            for header in ({"typ": "JWT"}, {"alg": None}, {"alg": 256}, {"alg": ["HS256"]}):
                token = hand_made(header, claims_for(s), s.jwt_secret.encode())
                seen[repr(header)] = await handshake(service.url, bearer(token))
            seen["good"] = await handshake(service.url, bearer(issue_token(s, "alice")))
            return seen

    seen = asyncio.run(scenario())
    assert seen.pop("good") == "accepted"
    assert set(seen.values()) == {"unsupported_algorithm"}, seen


def test_hs_rs_confusion_is_refused() -> None:
    private_pem, public_pem = pem_pair("RSA")
    rs_only = make_settings(jwt_algorithms=("RS256",), jwt_public_key=public_pem)
    both = make_settings(jwt_algorithms=("RS256", "HS256"), jwt_public_key=public_pem)
    der = serialization.load_pem_public_key(public_pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    secrets_an_attacker_knows = [public_pem.encode(), public_pem.strip().encode(), der,
                                 public_pem.replace("\n", "\r\n").encode()]

    async def scenario(s: Settings) -> dict[str, set[str]]:
        async with running_service(s) as service:
            reasons: dict[str, set[str]] = {}
            for secret in secrets_an_attacker_knows:
                for alg in ("HS256", "HS384", "HS512"):
                    token = hand_made({"alg": alg, "typ": "JWT"}, claims_for(s), secret)
                    reasons.setdefault(alg, set()).add(await handshake(service.url,
                                                                       bearer(token)))
            good = issue_token(s, "alice", algorithm="RS256", key=private_pem)
            reasons["RS256"] = {await handshake(service.url, bearer(good))}
            return reasons

    assert asyncio.run(scenario(rs_only)) == {
        "HS256": {"unsupported_algorithm"}, "HS384": {"unsupported_algorithm"},
        "HS512": {"unsupported_algorithm"}, "RS256": {"accepted"}}
    # With HS256 allowed as well, an HS256 token is only ever checked against the secret.
    assert asyncio.run(scenario(both)) == {
        "HS256": {"bad_signature"}, "HS384": {"unsupported_algorithm"},
        "HS512": {"unsupported_algorithm"}, "RS256": {"accepted"}}


def test_settings_that_cannot_verify_fail_at_start_up() -> None:
    _, rsa_public = pem_pair("RSA")
    broken = [
        make_settings(jwt_algorithms=("RS256",)),
        make_settings(jwt_algorithms=("HS1024",)),
        make_settings(jwt_algorithms=("none",)),
        make_settings(jwt_algorithms=("ES256",), jwt_public_key=rsa_public),
        make_settings(jwt_algorithms=("RS256",), jwt_public_key="not a key"),
        make_settings(jwt_algorithms=("HS256", "RS256"), jwt_public_key=rsa_public,
                      jwt_secret="short"),
    ]
    for s in broken:
        with pytest.raises(SettingsError):
            TokenVerifier(s)

    async def start(s: Settings) -> None:
        async with running_service(s):
            pass

    with pytest.raises(SettingsError):
        asyncio.run(start(broken[0]))


# -- key ids ---------------------------------------------------------------------------


def test_kid_must_name_the_configured_key() -> None:
    s = make_settings()
    verifier = TokenVerifier(s)
    own = key_id(s)
    assert verifier.key_ids == {"HS256": own}
    assert own == key_id(make_settings(jwt_secret=s.jwt_secret))
    assert own != key_id(make_settings())
    cases = {
        own: "accepted",
        "": "bad_signature",
        "other-key": "bad_signature",
        own.upper(): "bad_signature",
        own + " ": "bad_signature",
        "../../dev/null": "bad_signature",
    }
    for kid, expected in cases.items():
        assert reason_of(verifier, issue_token(s, "alice", kid=kid)) == expected, kid
    for kid in (5, None, ["x"], {"k": own}):
        token = hand_made({"alg": "HS256", "kid": kid}, claims_for(s), s.jwt_secret.encode())
        assert reason_of(verifier, token) == "malformed", kid


def test_kid_of_a_public_key_is_its_rfc7638_thumbprint() -> None:
    private_pem, public_pem = pem_pair("EC")
    s = make_settings(jwt_algorithms=("ES256", "HS256"), jwt_public_key=public_pem)
    verifier = TokenVerifier(s)
    ids = verifier.key_ids
    public = serialization.load_pem_public_key(public_pem.encode())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                           separators=(",", ":"), sort_keys=True)
    assert ids["ES256"] == b64(hashlib.sha256(canonical.encode()).digest())
    assert ids["HS256"] != ids["ES256"]
    es = issue_token(s, "alice", algorithm="ES256", key=private_pem, kid=ids["ES256"])
    assert reason_of(verifier, es) == "accepted"
    crossed = issue_token(s, "alice", algorithm="ES256", key=private_pem, kid=ids["HS256"])
    assert reason_of(verifier, crossed) == "bad_signature"
    crossed = issue_token(s, "alice", kid=ids["ES256"])
    assert reason_of(verifier, crossed) == "bad_signature"


def test_extensions_and_foreign_types_are_refused() -> None:
    s = make_settings()
    verifier = TokenVerifier(s)
    key = s.jwt_secret.encode()
    cases = [
        ({"alg": "HS256", "crit": ["exp"]}, "malformed"),
        ({"alg": "HS256", "crit": []}, "malformed"),
        ({"alg": "HS256", "typ": "JWE"}, "malformed"),
        ({"alg": "HS256", "typ": "secevent+jwt"}, "malformed"),
        ({"alg": "HS256", "typ": 1}, "malformed"),
        ({"alg": "HS256", "typ": "JWT"}, "accepted"),
        ({"alg": "HS256", "typ": "at+jwt"}, "accepted"),
        ({"alg": "HS256"}, "accepted"),
        # Keys offered by the token itself are never used to verify it.
        ({"alg": "HS256", "jku": "http://127.0.0.1:1/keys"}, "accepted"),
        ({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(b"attacker")}}, "accepted"),
    ]
    for header, expected in cases:
        assert reason_of(verifier, hand_made(header, claims_for(s), key)) == expected, header
    attacker = b"attacker"
    token = hand_made({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(attacker)}},
                      claims_for(s), attacker)
    assert reason_of(verifier, token) == "bad_signature"


# -- claims and the leeway -------------------------------------------------------------


def test_time_claims_respect_the_configured_leeway() -> None:
    s = make_settings(jwt_leeway_s=5)
    strict = TokenVerifier(make_settings(jwt_secret=s.jwt_secret, jwt_leeway_s=0))
    verifier = TokenVerifier(s)
    now = int(time.time())

    def token(**claims: Any) -> str:
        return jwt.encode(claims_for(s, **claims), s.jwt_secret)

    assert reason_of(verifier, token(exp=now - 2)) == "accepted"
    assert reason_of(strict, token(exp=now - 2)) == "expired"
    assert reason_of(verifier, token(exp=now - 9)) == "expired"
    assert reason_of(verifier, token(nbf=now + 2)) == "accepted"
    assert reason_of(strict, token(nbf=now + 2)) == "not_yet_valid"
    assert reason_of(verifier, token(nbf=now + 9)) == "not_yet_valid"
    assert reason_of(verifier, token(iat=now + 9)) == "not_yet_valid"
    assert reason_of(verifier, token(iat=now + 2)) == "accepted"


def test_issuer_audience_and_required_claims() -> None:
    s = make_settings()
    verifier = TokenVerifier(s)

    def token(**claims: Any) -> str:
        return jwt.encode(claims_for(s, **claims), s.jwt_secret)

    cases = [
        (token(iss="someone-else"), "wrong_issuer"),
        (token(iss=s.jwt_issuer.upper()), "wrong_issuer"),
        (token(aud="someone-else"), "wrong_audience"),
        (token(aud=[s.jwt_audience, "another"]), "accepted"),
        (token(aud=["another"]), "wrong_audience"),
        (token(aud=[]), "malformed"),  # an empty audience is no audience at all
        (token(sub=5), "malformed"),
        (token(sub="a" * 41), "malformed"),
        (token(jti=7), "malformed"),
        (token(exp="tomorrow"), "malformed"),
        (token(exp=float("inf")), "malformed"),
        (token(exp=float("nan")), "malformed"),
        (token(iat=None), "malformed"),
        (token(nbf=[1]), "malformed"),
    ]
    for name in ("sub", "exp", "iat", "iss", "aud", "jti"):
        claims = claims_for(s)
        del claims[name]
        cases.append((jwt.encode(claims, s.jwt_secret), "malformed"))
    for made, expected in cases:
        assert reason_of(verifier, made) == expected, jwt.decode(
            made, options={"verify_signature": False})


def test_absurd_expiry_is_read_as_the_end_of_the_calendar() -> None:
    s = make_settings()
    verifier = TokenVerifier(s)
    claims = verifier.decode(jwt.encode(claims_for(s, exp=10**400), s.jwt_secret))
    assert claims.expires_at == MAX_EPOCH_S
    assert claims.session_ends_at(5) == MAX_EPOCH_S


def test_session_end_time() -> None:
    claims = Claims(user_id="alice", jti="j", issued_at=0, expires_at=1000)
    assert claims.session_ends_at(5, now=990) == 1000
    assert claims.session_ends_at(5, now=1002) == 1005


# -- revocation and where the token travels ---------------------------------------------


def test_revoked_token_refused_and_revocation_bounded() -> None:
    s = make_settings()

    async def scenario() -> tuple[list[str], int]:
        async with running_service(s) as service:
            revoked = issue_token(s, "alice", jti="revoked-jti")
            before = await handshake(service.url, bearer(revoked))
            await revoke_token(service.redis, "revoked-jti", int(time.time()) + 600, leeway_s=5)
            after = await handshake(service.url, bearer(revoked))
            via_subprotocol = await handshake(service.url, None,
                                              subprotocols=["bearer", revoked])
            fresh = await handshake(service.url, bearer(issue_token(s, "alice")))
            await revoke_token(service.redis, "forever", 10**30, leeway_s=5)
            return [before, after, via_subprotocol, fresh], await service.redis.ttl(
                "gp:revoked:forever")

    outcomes, ttl = asyncio.run(scenario())
    assert outcomes == ["accepted", "revoked", "revoked", "accepted"]
    assert 0 < ttl <= 100 * 365 * 86400


def test_a_token_in_the_query_string_is_never_read() -> None:
    s = make_settings()

    async def scenario() -> list[str]:
        async with running_service(s) as service:
            good, expired = issue_token(s, "alice"), issue_token(s, "alice", ttl_s=-600)
            return [
                await handshake(f"{service.url}?token={good}"),
                await handshake(f"{service.url}?access_token={good}"),
                await handshake(f"{service.url}?jwt={good}&token={good}"),
                await handshake(f"{service.url}?token={good}", bearer(expired)),
                await handshake(f"{service.url}?token={expired}", bearer(good)),
            ]

    assert asyncio.run(scenario()) == ["missing", "missing", "missing", "expired", "accepted"]


# -- a token that runs out during a session ---------------------------------------------


def test_a_token_that_runs_out_ends_its_session_with_4401() -> None:
    s = make_settings(jwt_leeway_s=5)

    async def scenario() -> None:
        async with running_service(s) as service, probe_engine(service) as probe:
            now = time.time()
            token = issue_token(s, "alice", ttl_s=2, now=now)
            expires_at = int(now) + 2
            async with connect(service.url, additional_headers=bearer(token)) as ws:
                established = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "user_message", "content": "What is 1 + 1?",
                                          "thread_id": None, "message_id": None}))
                frames = []
                while not frames or frames[-1].get("type") != "agent_completed":
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                told = json.loads(await asyncio.wait_for(ws.recv(), 5))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                ended_at = time.time()
            assert frames[-1]["payload"]["response"] == "1 + 1 = 2"
            assert told["type"] == "error" and told["code"] == "token_expired"
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token expired")
            # Ended at the token's exp by the gateway's clock, not exp + leeway.
            assert expires_at <= ended_at < expires_at + 1.5
            async with asyncio.timeout(5):
                while service.gateway.sessions:
                    await asyncio.sleep(0.01)
            row = (await query(probe, "SELECT id, status, ended_at FROM user_sessions WHERE "
                               "connection_id = :c", c=established["connection_id"]))[0]
            assert row["status"] == "ended" and row["ended_at"] is not None
            assert not await service.redis.exists(f"gp:alice:session:{row['id']}")
            async with wire_client(service, "alice") as again:
                await again.send({"type": "resume", "thread_id": frames[0]["thread_id"],
                                  "after_seq": 0})
                assert await again.until_completed() == frames

    asyncio.run(scenario())


def test_a_token_admitted_within_the_leeway_lasts_until_the_leeway_is_over() -> None:
    s = make_settings(jwt_leeway_s=3)

    async def scenario() -> float:
        async with running_service(s) as service:
            now = time.time()
            token = issue_token(s, "alice", ttl_s=-2, now=now)
            async with connect(service.url, additional_headers=bearer(token)) as ws:
                opened = time.time()
                assert json.loads(await ws.recv())["type"] == "connection_established"
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["code"] == "token_expired"
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
                return time.time() - opened

    lasted = asyncio.run(scenario())
    assert 0 < lasted < 2.5


def test_a_message_sent_once_the_token_ran_out_starts_nothing() -> None:
    s = make_settings()

    async def scenario() -> tuple[list[str], list[dict[str, Any]]]:
        async with running_service(s) as service, probe_engine(service) as probe:
            now = time.time()
            token = issue_token(s, "alice", ttl_s=1, now=now)
            async with connect(service.url, additional_headers=bearer(token)) as ws:
                await ws.recv()
                await asyncio.sleep(max(0.0, int(now) + 1 - time.time()))
                await ws.send(json.dumps({"type": "user_message", "content": "What is 1 + 1?"}))
                seen = []
                with pytest.raises(ConnectionClosed):
                    while True:
                        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"])
            return seen, await query(probe, "SELECT id FROM agent_executions")

    seen, runs = asyncio.run(scenario())
    assert seen == ["error"] and runs == []


# -- thousands of generated tokens -------------------------------------------------------


SECRET_SETTINGS = make_settings()
VERIFIER = TokenVerifier(SECRET_SETTINGS)
TOKEN_KINDS = ("noise", "segments", "signed", "tampered", "claims", "header")
TOKENS_PER_EXAMPLE = 10


def _value(rng: random.Random) -> Any:
    """A claim or header value: anything JSON, or one that is nearly right."""
    s = SECRET_SETTINGS
    return rng.choice([random_json(rng), random_json(rng), s.jwt_issuer, s.jwt_audience,
                       "alice", int(time.time()) + rng.randint(-20, 20), 10**rng.randrange(40),
                       [s.jwt_audience, random_json(rng, 2)]])


def random_token(rng: random.Random, kind: str) -> str:
    """A token an attacker could send: noise, hand-made segments, tokens signed with the
    real secret around any header and claims (so every claim rule is reached), or a valid
    token with one part replaced."""
    s = SECRET_SETTINGS
    names = ("alg", "kid", "typ", "crit", "jku", "jwk", "b64", "x5u")
    header: dict[str, Any] = {"alg": rng.choice(["HS256", "HS256", "none", "RS256", "HS512",
                                                 _value(rng)])}
    header.update({rng.choice(names): _value(rng) for _ in range(rng.randrange(3))})
    claims = claims_for(s, **{rng.choice(("sub", "exp", "iat", "nbf", "iss", "aud", "jti")):
                              _value(rng) for _ in range(rng.randrange(4))})
    for name in [n for n in claims if rng.random() < 0.1]:
        del claims[name]
    if kind == "noise":
        return random_text(rng, rng.randrange(300), surrogates=rng.random() < 0.2)
    if kind == "segments":
        parts = [rng.choice([segment(header), segment(claims), random_text(rng, 8),
                             b64(rng.randbytes(rng.randrange(40)))])
                 for _ in range(rng.randrange(1, 6))]
        return ".".join(parts)
    if kind == "header":
        header = {"alg": "HS256"}
        header.update({rng.choice(names[1:]): rng.choice([
            random_text(rng, rng.randrange(8), surrogates=False), "JWT", "at+jwt", ["b64"],
            VERIFIER.key_ids["HS256"], _value(rng)]) for _ in range(rng.randrange(1, 3))})
        return hand_made(header, claims_for(s), s.jwt_secret.encode())
    if kind in ("signed", "claims"):
        if kind == "claims":
            header = {"alg": "HS256", "typ": "JWT"}
        return hand_made(header, claims, s.jwt_secret.encode())
    good = issue_token(s, "alice").split(".")
    position = rng.randrange(3)
    good[position] = rng.choice([segment(header), segment(claims), "", good[position][::-1],
                                 good[position][:-1], b64(rng.randbytes(32))])
    return ".".join(good)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(TOKEN_KINDS), st.integers(0, 2**32)),
                min_size=TOKENS_PER_EXAMPLE, max_size=TOKENS_PER_EXAMPLE))
def test_generated_tokens_are_refused_with_a_reason_never_a_crash(
        batch: list[tuple[str, int]]) -> None:
    for kind, seed in batch:
        token = random_token(random.Random(seed), kind)
        tried("generated")
        try:
            claims = VERIFIER.decode(token)
        except TokenRefused as refused:
            assert refused.reason in REASONS
            continue
        # Only a token signed with the secret that keeps every rule is let through.
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "HS256" and "crit" not in header, header
        assert header.get("kid", VERIFIER.key_ids["HS256"]) == VERIFIER.key_ids["HS256"]
        assert str(header.get("typ", "JWT")).lower() in ("jwt", "at+jwt"), header
        assert claims.user_id and claims.jti and claims.expires_at > time.time() - 10


def test_report_tokens_tried(record_property: Any) -> None:
    """The figure for the report (when the whole module ran)."""
    total = sum(TOKENS_TRIED.values())
    record_property("tokens_tried", total)
    print(f"tokens tried: {total} ({TOKENS_TRIED})")
