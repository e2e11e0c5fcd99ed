"""The supervisor's log: an expected refusal for one registration (its settings sealed with a key this
replica lacks, say) is one WARNING line with the reason, not an ERROR with a traceback every interval;
and the other registrations are still checked."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import neo4j
import pytest

from graph.import_jobs import ImportJobStore
from graph.integration_store import IntegrationKey
from graph.webhook_inbox import WebhookRegistration
from server.gallery import Gallery, IntegrationView, SettingsUnreadable
from server.live_sync import LiveSync
from server.webhooks import WebhookDesk


def registration(webhook_id: str, project_id: str) -> WebhookRegistration:
    return WebhookRegistration("planner", webhook_id, "org", project_id, "ws", "sealed")


class Desk:
    async def registrations(self) -> list[WebhookRegistration]:
        return [registration("wh-1", "p1"), registration("wh-2", "p2")]


class UnreadableGallery:
    """Every project's settings were sealed with a key this replica does not have."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def enabled(self) -> list[IntegrationKey]:
        return []

    async def get(self, org_id: str, project_id: str, name: str) -> IntegrationView:
        self.asked.append(project_id)
        raise SettingsUnreadable(name)


async def test_an_unreadable_registration_is_one_warning_line_and_the_rest_are_checked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gallery = UnreadableGallery()
    supervisor = LiveSync(
        cast(WebhookDesk, Desk()),
        cast(Gallery, gallery),
        cast(ImportJobStore, None),
        cast(neo4j.AsyncDriver, None),
        "neo4j",
        None,
    )
    with caplog.at_level(logging.INFO, logger="server.live_sync"):
        await supervisor.check_once()

    checks = [r for r in caplog.records if "live-sync check of webhook" in r.getMessage()]
    assert [r.levelno for r in checks] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in caplog.records), "no traceback for an expected refusal"
    assert "SETTINGS_UNREADABLE" in checks[0].getMessage()
    assert "wh-1" in checks[0].getMessage()
    assert gallery.asked == ["p1", "p2", "p1", "p2"], "reconciled, then each registration checked"


class StuckGallery:
    """The first project's check does not get on until the second project's check has started (each
    project is read twice a round: by the reconcile pass, then by its webhook's check)."""

    def __init__(self) -> None:
        self.reads: dict[str, int] = {}
        self.second_checked = asyncio.Event()

    async def enabled(self) -> list[IntegrationKey]:
        return []

    async def get(self, org_id: str, project_id: str, name: str) -> IntegrationView:
        self.reads[project_id] = self.reads.get(project_id, 0) + 1
        if self.reads[project_id] == 2:  # the webhook checks
            if project_id == "p2":
                self.second_checked.set()
            else:
                await asyncio.wait_for(self.second_checked.wait(), 5)  # TimeoutError when checked one by one
        raise SettingsUnreadable(name)


async def test_a_webhook_whose_check_hangs_does_not_hold_up_the_others(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = LiveSync(
        cast(WebhookDesk, Desk()),
        cast(Gallery, StuckGallery()),
        cast(ImportJobStore, None),
        cast(neo4j.AsyncDriver, None),
        "neo4j",
        None,
    )
    with caplog.at_level(logging.INFO, logger="server.live_sync"):
        async with asyncio.timeout(10):
            await supervisor.check_once()
    checks = [r for r in caplog.records if "live-sync check of webhook" in r.getMessage()]
    assert [r.levelno for r in checks] == [logging.WARNING, logging.WARNING], "both checked, neither timed out"
