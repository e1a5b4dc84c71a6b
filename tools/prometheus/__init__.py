"""Prometheus: canary and baseline telemetry over the HTTP API (a reader only)."""
