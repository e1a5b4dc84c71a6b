"""Business logic, one module per capability. Skills import bot.sdk and pure helpers only."""
