"""A realtime monitoring dashboard for the terminal that is also a Prometheus exporter."""

__version__ = "0.1.0"
