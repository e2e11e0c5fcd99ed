"""Everything Neo4j: connection, schema migrations, the integration store and graph writers.

Knows nothing of RPC, HTTP or plugins: callers hand it plain values.
"""
