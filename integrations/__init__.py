"""Generated from protos/ by `python -m devtools.gen_protos`. Do not edit."""
