"""The Gate: the one choke point for side effects (policy -> approval -> executor -> audit)."""
