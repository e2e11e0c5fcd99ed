"""Stand-ins for third-party services that cannot be reached from here. Test and demo tooling only."""
