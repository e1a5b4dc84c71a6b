"""Doors: thin translators from an input (terminal, Slack, webhooks) to the pipeline's Request."""
