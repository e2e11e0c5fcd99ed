"""The ClickUp webhook edge: a separate Starlette app that verifies, makes durable, and forwards.

Talks to the server only through the generated gRPC contract.
"""
