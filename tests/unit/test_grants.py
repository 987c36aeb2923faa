"""Incident grants: a signed, expiring grant opens one incident, in one scope, until it expires."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from service.api.grants import GrantSigner
from service.config.settings import ConfigError, load_settings
from service.domain.messages import Message
from service.runtime.clock import ManualClock

KEY = SecretStr("k" * 16 + "-unit-test-link-key-0123456789")
TTL = 3600


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 5, 7, 16, 31, tzinfo=UTC))


@pytest.fixture
def signer(clock: ManualClock) -> GrantSigner:
    return GrantSigner(KEY, ttl_s=TTL, clock=clock)


def test_a_grant_opens_its_incident_in_its_scope(signer: GrantSigner) -> None:
    for scope in ("read", "owner"):
        grant = signer.mint("inc-1", scope)  # type: ignore[arg-type]
        assert signer.verify(grant, "inc-1").scope == scope


def test_a_grant_does_not_open_another_incident(signer: GrantSigner) -> None:
    grant = signer.mint("inc-1", "owner")
    verdict = signer.verify(grant, "inc-2")
    assert verdict.scope is None and verdict.problem == "invalid"


def test_a_grant_expires_after_its_lifetime(signer: GrantSigner, clock: ManualClock) -> None:
    grant = signer.mint("inc-1", "read")
    clock.advance(TTL)
    assert signer.verify(grant, "inc-1").scope == "read"
    clock.advance(1)
    verdict = signer.verify(grant, "inc-1")
    assert verdict.scope is None and verdict.problem == "expired"


def test_a_grant_from_the_future_is_refused(signer: GrantSigner, clock: ManualClock) -> None:
    clock.advance(600)
    grant = signer.mint("inc-1", "read")
    clock.advance(-600)
    assert signer.verify(grant, "inc-1").scope is None


@pytest.mark.parametrize("tamper", [
    lambda g: "owner" + g[len("read"):],                  # a read grant made an owner one
    lambda g: g[:-1] + ("A" if g[-1] != "A" else "B"),     # the signature changed
    lambda g: g.rsplit(".", 1)[0],                         # the signature dropped
    lambda g: "",
    lambda g: "read.x.y",
    lambda g: "é" * 40,
])
def test_an_altered_grant_is_refused(signer: GrantSigner, tamper) -> None:  # type: ignore[no-untyped-def]
    grant = signer.mint("inc-1", "read")
    assert signer.verify(tamper(grant), "inc-1").scope is None


def test_another_key_does_not_verify(signer: GrantSigner, clock: ManualClock) -> None:
    other = GrantSigner(SecretStr("x" * 40), ttl_s=TTL, clock=clock)
    assert other.verify(signer.mint("inc-1", "read"), "inc-1").scope is None


def test_only_messages_to_the_owners_own_sink_carry_an_owner_grant(signer: GrantSigner) -> None:
    def message(audience: str) -> Message:
        return Message(incident_id="inc-1", event="escalated", key="k", audience=audience,
                       title="t", summary="s", incident_url="https://r.example/incidents/inc-1",
                       created_at=datetime(2026, 12, 5, tzinfo=UTC))

    scopes = {}
    for audience in ("oncall", "owner", "all"):
        for sink in ("oncall", "owner", "all"):
            url = signer.for_message(message(audience), sink).incident_url  # type: ignore[arg-type]
            parts = urlsplit(url)
            assert parts.path == "/incidents/inc-1"
            (grant,) = parse_qs(parts.query)["grant"]
            scopes[audience, sink] = signer.verify(grant, "inc-1").scope
    # Only a message to the Owner, on a sink only the Owner reads, can approve.
    assert {k for k, v in scopes.items() if v == "owner"} == {("owner", "owner")}
    assert set(scopes.values()) == {"read", "owner"}


def test_link_key_settings(tmp_path: Path) -> None:
    keyfile = tmp_path / "link-key"
    keyfile.write_text("f" * 40 + "\n")
    settings = load_settings(overrides={"auth": {"link_key_file": str(keyfile)}})
    assert settings.auth.link_key is not None
    assert settings.auth.link_key.get_secret_value() == "f" * 40
    assert "f" * 40 not in repr(settings)
    with pytest.raises(ConfigError, match=r"auth\.link_key"):
        load_settings(overrides={"auth": {"link_key": "too-short"}})
    with pytest.raises(ConfigError, match="not both"):
        load_settings(overrides={"auth": {"link_key": "f" * 40, "link_key_file": str(keyfile)}})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(overrides={"auth": {"link_key_file": str(tmp_path / "missing")}})
