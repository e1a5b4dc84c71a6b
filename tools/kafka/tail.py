"""`shipmate events tail` against Kafka: read topics from the earliest offsets without joining
a consumer group (so tailing never takes partitions from the bot's own consumers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from bot.events import TOPICS, Event
from bot.settings import Settings


async def tail_kafka(
    settings: Settings, topic: str | None, follow: bool, limit: int, show: Callable[[Event], None]
) -> None:
    names = [f"{settings.kafka_topic_prefix}{t}" for t in ([topic] if topic else TOPICS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in (consumer.partitions_for_topic(name) or ())
        ]
        if not partitions:
            await consumer.topics()  # refresh metadata once
            partitions = [
                TopicPartition(name, p)
                for name in names
                for p in (consumer.partitions_for_topic(name) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        shown, idle = 0, 0.0
        while follow or idle < 2.0:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0.0 if batch else idle + 0.5
            for records in batch.values():
                for record in records:
                    try:
                        show(Event.model_validate_json(record.value))
                    except ValidationError:
                        continue
                    shown += 1
                    if limit and shown >= limit:
                        return
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
