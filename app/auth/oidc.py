"""Single sign-on with an OpenID Connect provider (LOUPE_AUTH=oidc), through Authlib.

The authorization code flow with PKCE: `start` gives the provider's URL to send the browser to
and what to remember until it comes back (state, nonce, code verifier: kept in a short-lived
HttpOnly cookie by the web layer); `finish` trades the code for tokens, checks the ID token
(signature against the provider's keys, issuer, audience, expiry, nonce) and returns the
person's name and team.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.errors import LoupeError

TIMEOUT_SECONDS = 10.0
METADATA_TTL_SECONDS = 3600.0
MAX_PENDING_COOKIE = 1500
SCOPE = "openid profile email"
NAME_CLAIMS = ("preferred_username", "email", "sub")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]")


class SignOnFailed(LoupeError):
    """The provider could not be reached, or what it sent back does not hold up."""

    status_code = 401


@dataclass(frozen=True)
class Pending:
    """What the browser carries to the provider and back (in a cookie, never in the URL)."""

    state: str
    nonce: str
    verifier: str
    next_path: str

    def dump(self) -> str:
        return json.dumps([self.state, self.nonce, self.verifier, self.next_path])

    @classmethod
    def load(cls, raw: str | None) -> Pending | None:
        if not raw or len(raw) > MAX_PENDING_COOKIE:
            return None
        try:
            state, nonce, verifier, next_path = json.loads(raw)
        except (ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (state, nonce, verifier, next_path)):
            return None
        return cls(state, nonce, verifier, next_path)


@dataclass(frozen=True)
class Person:
    name: str
    team: str | None


class Provider:
    """One OpenID Connect provider: its metadata and keys, fetched and kept for an hour."""

    def __init__(
        self, issuer: str, client_id: str, client_secret: str | None, team_claim: str | None
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.team_claim = team_claim
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_SECONDS,
        )

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_TTL_SECONDS:
                url = self.issuer + "/.well-known/openid-configuration"
                found = _get_json(url)
                if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                    raise SignOnFailed(
                        f"The sign-on provider at {self.issuer} names itself "
                        f"'{found.get('issuer')}': check LOUPE_OIDC_ISSUER."
                    )
                self._metadata, self._fetched_at = found, time.monotonic()
            return self._metadata

    def start(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """The provider URL to send the browser to, and what to remember until it returns."""
        pending = Pending(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            next_path=next_path,
        )
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending.state,
                nonce=pending.nonce,
                code_verifier=pending.verifier,
            )
        return str(url), pending

    def finish(self, pending: Pending, code: str, state: str, redirect_uri: str) -> Person:
        """Check the answer of the provider and return who signed on; SignOnFailed otherwise."""
        if not hmac.compare_digest(pending.state.encode(), state.encode()):
            raise SignOnFailed("The sign-on answer does not match this browser: log in again.")
        metadata = self.metadata()
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=pending.verifier
                )
                claims = self._id_claims(str(token.get("id_token", "")), pending.nonce)
                if metadata.get("userinfo_endpoint"):
                    info = client.get(metadata["userinfo_endpoint"]).json()
                    if isinstance(info, dict) and info.get("sub") == claims.get("sub"):
                        claims = {**info, **claims}
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise SignOnFailed(f"The sign-on provider did not complete the login ({exc}).") from exc
        except Exception as exc:  # Authlib's OAuth errors (invalid_grant, ...)
            if isinstance(exc, SignOnFailed):
                raise
            raise SignOnFailed(f"The sign-on provider refused the login ({exc}).") from exc
        return person_from(claims, self.team_claim)

    def _id_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignOnFailed("The sign-on provider sent no ID token.")
        keys = KeySet.import_key_set(_get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(id_token, keys)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
            ).validate(decoded.claims)
        except JoseError as exc:
            raise SignOnFailed(
                f"The ID token of the sign-on provider is not valid ({exc})."
            ) from exc
        return dict(decoded.claims)


def person_from(claims: dict[str, Any], team_claim: str | None) -> Person:
    """The account name (preferred_username, else email, else sub) and the team claim."""
    name = next((str(claims[c]) for c in NAME_CLAIMS if claims.get(c)), "")
    name = UNSAFE_NAME.sub("_", name)[:100]
    if not name:
        raise SignOnFailed("The sign-on provider sent no user name.")
    team: str | None = None
    if team_claim:
        value = claims.get(team_claim)
        if isinstance(value, list):
            value = value[0] if value else None
        team = UNSAFE_NAME.sub("_", str(value))[:100] if value else None
    return Person(name=name, team=team or None)


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
        response.raise_for_status()
        found = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignOnFailed(f"The sign-on provider is not reachable at {url} ({exc}).") from exc
    if not isinstance(found, dict):
        raise SignOnFailed(f"The sign-on provider answered {url} with something unexpected.")
    return found
