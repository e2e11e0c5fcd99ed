"""A faithful Jira Cloud sandbox (platform REST v3 + Agile 1.0): a generated site behind the real paths.

Behaviour follows ``shared/jira-api.md``: API-token basic auth with Jira's plain-text 401 and
reduced anonymous answers (§2.1); offset PageBeans with silent caps (§3.1); ``/search/jql`` with
bounded JQL, ``fields`` defaulting to ``id``, opaque expiring ``nextPageToken`` values and 410 on
the removed ``/search`` (§3.2); numeric-string platform ids and integer Agile ids; ``-0700`` times;
ADF bodies; hidden emails; 404 for what the caller cannot see; a burst limit with 429s (§5).

Next slices: the ``api.atlassian.com`` gateway routes and scope 401s, OAuth 2.0 (3LO) with rotating
refresh tokens and accessible-resources, webhook registration and signed deliveries (identifier,
retry and flow headers, duplicates, reordering, cascades), changelogs, worklogs, bulk fetch,
users search, search-index lag and issue moves.
"""
