"""The ClickUp webhook edge (a separate Starlette app); arrives with the webhook work."""
