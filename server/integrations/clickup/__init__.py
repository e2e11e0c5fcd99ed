"""The ClickUp plugin: API v2 client, rate limiting and the gallery plugin."""
