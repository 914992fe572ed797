"""Example third-party collector plugins for monitor."""
