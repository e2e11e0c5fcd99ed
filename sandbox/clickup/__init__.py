"""A faithful ClickUp API v2 sandbox: a generated workspace behind the real paths and shapes.

Behaviour follows ``shared/clickup-api.md`` §2-§5 and §8: default filters that hide closed,
archived and subtask items; 0-based pages of 100; ids and ms timestamps as strings; per-token
fixed-window rate limiting with ``X-RateLimit-*`` headers and 429s; ClickUp's 401 envelopes;
webhooks signed with hex HMAC-SHA256 over the compact JSON body; ClickUp's OAuth (§1.2): a consent
page at ``/api``, the code exchange, tokens bound to the workspaces chosen at consent.
"""
