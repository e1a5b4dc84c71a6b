"""Natural language: an offline semantic router with slots, and an optional LLM path. Both only
choose an intent and its slots; the same skills and the same Gate do the rest."""
