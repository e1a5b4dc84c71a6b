"""Kafka: the production event bus (aiokafka)."""
