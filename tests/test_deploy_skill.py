"""The deploy skill through the whole pipeline: threads, parent updates, bad input changing
nothing, automatic rollback of a bad version, /rollback, /status."""

from __future__ import annotations

from bot.channel import ReplyKind
from tests.conftest import Harness


async def test_staging_deploy_tells_its_story_in_one_thread(harness: Harness) -> None:
    await harness.say("alice", "/deploy checkout 1.5.0 to stg --strategy bluegreen")
    parent, *rest = harness.channel.posts
    assert (
        parent.thread is None and "Deploy checkout 1.4.0 -> 1.5.0 to staging" in parent.reply.text
    )
    assert all(p.thread == parent.id for p in rest)
    plan = rest[0].reply
    assert plan.text.startswith("Plan:")
    suggestion = dict(plan.fields)["Suggestion"]
    assert suggestion.startswith("Learner suggests ") and "You chose bluegreen" in suggestion
    assert rest[-1].reply.kind is ReplyKind.SUCCESS
    statuses = [
        dict(r.fields)["Status"] for ref, r in harness.channel.updates if ref.id == parent.id
    ]
    assert statuses == ["in progress", "done"]


async def test_bad_input_changes_nothing(harness: Harness) -> None:
    before = await harness.app.fleet.services()
    for text in (
        "/deploy checkout",
        "/deploy checkout 1.5.0 to mars",
        "/deploy nosuch 1.0",
        "/deploy checkout 1.5.0 --strategy yolo",
        "/deploy checkout $(rm) to prod",
        "/rollback",
        "/status nosuch",
        "/nope",
    ):
        harness.channel.clear()
        await harness.say("alice", text)
        assert harness.channel.kinds() == [ReplyKind.ERROR], (text, harness.channel.texts())
    assert await harness.app.fleet.services() == before
    kinds = {r.kind for r in harness.app.audit.records()}
    assert kinds == {"request"}  # nothing reached the Gate


async def test_already_on_version_is_an_answer(harness: Harness) -> None:
    await harness.say("alice", "/deploy checkout 1.4.0 to staging")
    assert harness.channel.kinds() == [ReplyKind.INFO]
    assert "already on 1.4.0" in harness.channel.texts()[0]


async def test_bad_version_is_rolled_back_automatically(harness: Harness) -> None:
    await harness.say("alice", "/sandbox break checkout 1.6.0")
    harness.channel.clear()
    await harness.say("alice", "/deploy checkout 1.6.0 to staging --strategy canary")
    texts = harness.channel.texts()
    assert any("Canary verdict at 10%" in t and "fail" in t for t in texts)
    verdict = next(p.reply for p in harness.channel.posts if "verdict" in p.reply.text)
    assert dict(verdict.fields)["success_rate"].startswith("Low, effect size")
    assert any("Policy allows the automatic deploy.abort" in t for t in texts)
    assert harness.channel.posts[-1].reply.kind is ReplyKind.ERROR
    assert "back on 1.4.0" in texts[-1]
    state = await harness.app.fleet.service("checkout", "staging")
    assert state is not None and state.version == "1.4.0" and state.status == "stable"


async def test_rollback_defaults_to_last_changed_environment(harness: Harness) -> None:
    await harness.say("alice", "/deploy cart 2.4.0 to staging")
    harness.channel.clear()
    harness.clock.advance(60)
    await harness.say("alice", "/rollback cart")
    assert "Roll cart back 2.4.0 -> 2.3.1 in staging" in harness.channel.texts()[0]
    state = await harness.app.fleet.service("cart", "staging")
    assert state is not None and state.version == "2.3.1"


async def test_rollback_without_history_is_refused(harness: Harness) -> None:
    await harness.say("alice", "/rollback cart production")
    assert harness.channel.kinds() == [ReplyKind.ERROR]
    assert "no earlier version" in harness.channel.texts()[0]


async def test_status_lists_the_fleet(harness: Harness) -> None:
    await harness.say("carol", "/status")
    text = harness.channel.texts()[0]
    assert text.startswith("Fleet (sandbox):")
    assert text.count("\n") == 8  # 4 services x 2 environments


async def test_unknown_person_may_not_deploy(harness: Harness) -> None:
    await harness.say("mallory", "/deploy cart 2.4.0")
    assert harness.channel.of(ReplyKind.DENIED)


async def test_secrets_never_reach_a_reply(harness: Harness) -> None:
    await harness.say("alice", "/deploy xoxb-123456789012-abcdefghijkl 1.0")
    assert "xoxb-1234" not in " ".join(harness.channel.texts())
    records = list(harness.app.audit.records())
    assert "xoxb-1234" not in records[0].payload["text"]
