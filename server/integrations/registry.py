"""Where the server finds integrations. A new integration is one module plus one line here."""

from __future__ import annotations

from collections.abc import Iterable

from envconfig import Config
from server.integrations.base import AnyIntegration
from server.integrations.clickup.plugin import ClickUpIntegration
from server.integrations.jira.plugin import JiraIntegration


class IntegrationRegistry:
    def __init__(self, plugins: Iterable[AnyIntegration] = ()) -> None:
        self._plugins: dict[str, AnyIntegration] = {}
        for plugin in plugins:
            self.register(plugin)

    def register(self, plugin: AnyIntegration) -> None:
        if plugin.name in self._plugins:
            raise ValueError(f"integration {plugin.name!r} is registered twice")
        self._plugins[plugin.name] = plugin

    def get(self, name: str) -> AnyIntegration | None:
        return self._plugins.get(name)

    def all(self) -> list[AnyIntegration]:
        return [self._plugins[name] for name in sorted(self._plugins)]


def default_registry(config: Config) -> IntegrationRegistry:
    """Every integration this server ships, each configured from the server's environment."""
    registry = IntegrationRegistry()
    registry.register(ClickUpIntegration.from_config(config))
    registry.register(JiraIntegration.from_config(config))
    return registry
