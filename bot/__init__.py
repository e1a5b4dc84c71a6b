"""shipmate: the agent itself (pipeline, Gate, doors, composition root)."""

__version__ = "0.1.0"
