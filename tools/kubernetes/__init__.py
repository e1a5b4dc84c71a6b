"""Kubernetes: a deploy target (official client)."""
