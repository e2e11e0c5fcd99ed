"""The webhook edge: a Starlette app that verifies (by signing scheme), makes durable, and forwards.

Talks to the server only through the generated gRPC contract.
"""
