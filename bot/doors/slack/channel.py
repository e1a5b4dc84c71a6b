"""A Slack conversation as a pipeline Channel: chat.postMessage (in threads) and chat.update.
Rate limits (429 + Retry-After), server errors and dropped connections are retried by the
slack_sdk retry handlers installed on the client (bot.doors.slack.door.make_client)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.channel import MessageRef, Reply
from bot.doors.slack.blocks import fallback_text, render
from bot.models import Transport


class SlackChannel:
    transport: Transport = "slack"

    def __init__(self, client: AsyncWebClient, channel_id: str) -> None:
        self.client = client
        self.channel_id = channel_id

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        if reply.ephemeral_to:
            await self.client.chat_postEphemeral(
                channel=self.channel_id,
                user=reply.ephemeral_to,
                text=fallback_text(reply),
                blocks=render(reply),
                thread_ts=thread,
            )
            return MessageRef(channel=self.channel_id, id="", thread=thread)
        response = await self.client.chat_postMessage(
            channel=self.channel_id,
            text=fallback_text(reply),
            blocks=render(reply),
            thread_ts=thread,
        )
        ref = MessageRef(channel=str(response["channel"]), id=str(response["ts"]), thread=thread)
        if reply.image is not None:  # the chart goes into the same thread
            await self.client.files_upload_v2(
                channel=ref.channel,
                thread_ts=thread or ref.id,
                content=reply.image,
                filename=reply.image_name,
                title=reply.image_name,
            )
        return ref

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        await self.client.chat_update(
            channel=ref.channel, ts=ref.id, text=fallback_text(reply), blocks=render(reply)
        )
