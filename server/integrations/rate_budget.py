"""The request budget a provider gives one token, as plugins see it when several replicas share it.

The server hands the store (``graph.rate_budgets.RateBudgets``) to plugins through the project's
settings; a plugin's rate limiter asks it for every request, so all replicas together stay within
what the provider allows the token.
"""

from __future__ import annotations

from typing import Protocol

from graph.rate_budgets import BudgetAnswer, ProviderCount


class SharedBudget(Protocol):
    async def take(
        self, key: str, limit: int, window_seconds: float, seen: ProviderCount | None = None, want: int = 1
    ) -> BudgetAnswer: ...
