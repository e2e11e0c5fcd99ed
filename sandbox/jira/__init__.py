"""A faithful Jira Cloud sandbox (platform REST v3 + Agile 1.0): a generated site behind the real paths.

Behaviour follows ``shared/jira-api.md``: API-token basic auth with Jira's plain-text 401 and
reduced anonymous answers (§2.1); offset PageBeans with silent caps (§3.1); ``/search/jql`` with
bounded JQL, ``fields`` defaulting to ``id``, opaque expiring ``nextPageToken`` values and 410 on
the removed ``/search`` (§3.2); numeric-string platform ids and integer Agile ids; ``-0700`` times;
ADF bodies; hidden emails; 404 for what the caller cannot see; a burst limit with 429s (§5); the
``api.atlassian.com`` gateway and OAuth 2.0 (3LO) (§2.2, §2.3); webhooks with signed, retried
deliveries (§6).

Modules, by job:
    app, __main__           the Starlette app; ``python -m sandbox.jira``
    model, generator        the site in memory; a deterministic generated site
    state                   the mutable sandbox: site, clock, switches, error bodies
    endpoint                authentication, burst limit and error bodies around every API route
    platform, search, agile platform v3 routes, ``/search/jql``, Agile 1.0 routes
    issues, render, adf     issue documents with field selection; JSON shapes; ADF bodies
    jql, pagetokens, times  the JQL subset; opaque page tokens; Jira's time shapes
    ratelimit               the burst limit (token buckets)
    gateway, oauth          ``api.atlassian.com`` routing and scopes; 3LO apps, grants, tokens
    authorize               ``auth.atlassian.com``: the consent page and the token endpoint
    webhooks                webhook registration routes (admin and dynamic)
    webhook_filter          the JQL subset webhooks filter by
    delivery                the webhook hub: queues, signing, retries, hold and flush
    payloads                webhook bodies in the v2 form
    issue_mutator, mutator  the site's mutations and the events they emit
    mutations, chaos        the ``/_sandbox`` mutation routes; ``/_sandbox/mutate``'s random mutations
    admin                   the rest of ``/_sandbox``: state, tokens, config, webhook steering
"""
