"""Integration plugins: one interface (``base.Integration``), found through ``registry``."""
