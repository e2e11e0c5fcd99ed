"""The test suite's integration registry: the default one plus the Tracker plugin, in one line."""

from __future__ import annotations

from collections.abc import Mapping

from envconfig import Config
from server.integrations.registry import IntegrationRegistry, default_registry
from tests.tracker.plugin import TrackerIntegration


def registry_with_tracker(env: Mapping[str, str]) -> IntegrationRegistry:
    """Every shipped integration and Tracker, each configured from the server's environment."""
    config = Config(env)
    registry = default_registry(config)
    registry.register(TrackerIntegration.from_config(config))  # the one registry line
    return registry
