"""Pending sign-ins: the server side of an OAuth ``state``.

Only the state's SHA-256 is stored (a database read does not hand out live states), with what it is
bound to: org, project, integration, caller and redirect URI, plus the sealed PKCE verifier. It is
in Neo4j so any replica can complete what another started. ``take`` is single use: the node is
deleted in the transaction that reads it, and only when every binding matches, so a foreign or
replayed attempt changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import neo4j
from neo4j.exceptions import ConstraintError


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class PendingAuthorization:
    state_hash: str
    org_id: str
    project_id: str
    integration: str
    caller: str
    redirect_uri: str
    verifier_ciphertext: str | None  # sealed (sealed_values.AUTHORIZATION_VERIFIER); None without PKCE
    expires_at: datetime


class StateCollision(Exception):
    """The same state hash twice: never with 256 random bits; the caller starts again."""


class AuthorizationStates:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def add(self, pending: PendingAuthorization) -> None:
        """Store a new pending sign-in, and drop the expired ones (they are never completed)."""
        try:
            await self._driver.execute_query(
                """
                CREATE (s:AuthorizationState {stateHash: $hash, orgId: $org, projectId: $project,
                        integration: $integration, caller: $caller, redirectUri: $redirect,
                        verifierCiphertext: $verifier, expiresAt: $expires, createdAt: datetime()})
                """,
                hash=pending.state_hash,
                org=pending.org_id,
                project=pending.project_id,
                integration=pending.integration,
                caller=pending.caller,
                redirect=pending.redirect_uri,
                verifier=pending.verifier_ciphertext,
                expires=pending.expires_at,
                database_=self._database,
                routing_=neo4j.RoutingControl.WRITE,
            )
        except ConstraintError:
            raise StateCollision from None
        await self._driver.execute_query(
            "MATCH (s:AuthorizationState) WHERE s.expiresAt < datetime() WITH s LIMIT 1000 DELETE s",
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def take(
        self, state_hash: str, org_id: str, project_id: str, integration: str, caller: str
    ) -> PendingAuthorization | None:
        """The pending sign-in, removed so it cannot be used twice; None unless it exists and every
        binding matches (then nothing is removed). An expired one is returned too: the caller says
        "expired" rather than "unknown"."""
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (s:AuthorizationState {stateHash: $hash})
            WHERE s.orgId = $org AND s.projectId = $project AND s.integration = $integration
              AND s.caller = $caller
            WITH s, properties(s) AS p
            DELETE s
            RETURN p
            """,
            hash=state_hash,
            org=org_id,
            project=project_id,
            integration=integration,
            caller=caller,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        if not records:
            return None
        p = records[0]["p"]
        return PendingAuthorization(
            str(p["stateHash"]),
            str(p["orgId"]),
            str(p["projectId"]),
            str(p["integration"]),
            str(p["caller"]),
            str(p["redirectUri"]),
            str(p["verifierCiphertext"]) if p.get("verifierCiphertext") else None,
            p["expiresAt"].to_native(),
        )
