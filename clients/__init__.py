"""What callers use: a typed Python client over the generated stubs and a CLI."""
