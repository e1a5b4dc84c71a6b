"""The Slack door: slash commands, mentions, DMs and buttons into the pipeline (slack_bolt)."""
