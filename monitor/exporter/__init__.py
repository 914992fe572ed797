"""The Prometheus endpoint and JSON API over the store's snapshots (see docs/EXPORTER.md)."""

from monitor.exporter.render import MetricsRenderer
from monitor.exporter.server import ExporterServer, ExporterStartError

__all__ = ["ExporterServer", "ExporterStartError", "MetricsRenderer"]
