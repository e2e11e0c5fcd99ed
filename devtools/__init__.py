"""Developer tooling: code generation, a local Neo4j and the demo stack. Never imported by the product."""
