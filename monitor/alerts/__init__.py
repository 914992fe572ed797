"""Thresholds and alerts: one definition in config.yaml colours the dashboard, fires alerts,
shows them on /metrics and /api/v1/alerts, and becomes a Prometheus rules file (docs/ALERTS.md)."""
