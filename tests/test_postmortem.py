"""A postmortem drafted from a recorded incident (deploy, declare, ack, note, resolve through
the pipeline) contains every timeline entry, the right duration and a citation for every
root-cause candidate; it is written as Markdown and published to a local Notion API
(tests/notion_server.py) through the real notion-client, 429 included."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.postmortem import draft, render
from tests.conftest import Harness, make_harness
from tests.notion_server import TOKEN, LocalNotion
from tools.notion.publisher import NotionError, NotionPublisher, blocks


@pytest.fixture
async def notion() -> AsyncIterator[LocalNotion]:
    server = await LocalNotion().start()
    yield server
    await server.stop()


async def _recorded_incident(h: Harness) -> None:
    await h.say("alice", "/deploy checkout 1.5.0 to staging")
    h.clock.advance(600)
    await h.say("alice", "/incident declare checkout errors after release sev2 checkout")
    h.clock.advance(240)
    await h.say("bob", "/incident ack INC-1")
    await h.say("bob", "/incident note INC-1 TODO add an error-rate canary step for checkout")
    h.clock.advance(1560)
    await h.say("bob", "/incident resolve INC-1")


async def test_draft_holds_the_whole_story(tmp_path: Path, notion: LocalNotion) -> None:
    notion.rate_limit = 1  # the first Notion call meets a 429 with Retry-After
    h = make_harness(
        tmp_path / "home",
        notion_token=TOKEN,
        notion_api_url=notion.url,
        notion_data_source_id="ds-postmortems",
        incident_archive_after_seconds=0,
    )
    try:
        await _recorded_incident(h)
        h.channel.clear()
        await h.say("bob", "/postmortem INC-1")
        texts = h.channel.texts()
        assert any(t.startswith("Postmortem draft for INC-1:") for t in texts), texts
        md = (h.app.settings.home / "postmortems" / "INC-1.md").read_text()
        timeline = h.app.desk.timeline("INC-1")
        for entry in timeline[:-1]:  # the last entry is the draft itself
            assert entry.text in md, entry.text
        assert "- Duration: 30 min" in md  # declared, +4 min ack, +26 min resolved
        candidates = re.findall(r"^\d+\. (.*) \(evidence: (.*)\)$", md, re.M)
        assert candidates, md
        for text, evidence in candidates:
            assert evidence.strip(), text
        assert candidates[0][0].startswith("A deploy finished 10 min before the incident")
        assert "E:" in candidates[0][1]  # cites the deploy's event
        assert "- [ ] add an error-rate canary step for checkout (owner: alice)" in md
        (page,) = notion.pages.values()
        assert page["parent"] == {"type": "data_source_id", "data_source_id": "ds-postmortems"}
        children = notion.children[page["id"]]
        assert children[0]["type"] == "heading_1"
        assert sum(1 for r in notion.requests if r == ("POST", "/v1/pages")) == 2  # 429, then ok
    finally:
        await h.app.close()


async def test_draft_without_changes_says_so_and_cites_the_search(tmp_path: Path) -> None:
    h = make_harness(tmp_path / "home", incident_archive_after_seconds=0)
    try:
        await h.say("alice", "/incident declare search slow sev3 search")
        h.clock.advance(1200)
        await h.say("bob", "/incident resolve INC-1")
        incident = h.app.desk.get("INC-1")
        assert incident is not None
        pm = draft(incident, h.app.desk.timeline("INC-1"), h.app.events.read(), h.clock.now())
        assert pm.duration == "20 min" and pm.changes == ()
        (only,) = pm.candidates
        assert only.text.startswith("No deploy, rollback or drift")
        assert only.evidence[0].startswith("search: deployments and drift events for search")
        assert "Acknowledged after 20 min." in pm.went_badly  # resolving acknowledges
        assert "## Timeline" in render(pm)
    finally:
        await h.app.close()


async def test_long_documents_are_appended_in_batches(notion: LocalNotion) -> None:
    publisher = NotionPublisher(TOKEN, parent_page_id="page-parent", base_url=notion.url)
    try:
        text = "# Title\n" + "\n".join(f"- line {i}" for i in range(250)) + "\n" + "x" * 4500
        url = await publisher.publish("Long", text)
        (page_id,) = notion.pages
        assert url.startswith("https://www.notion.so/")
        assert len(notion.children[page_id]) == 252
        assert sum(1 for m, p in notion.requests if m == "PATCH") == 2
        assert len(blocks("p " * 1)[0]["paragraph"]["rich_text"]) == 1
    finally:
        await publisher.close()
    bad = NotionPublisher(TOKEN, parent_page_id="page-missing", base_url=notion.url)
    try:
        with pytest.raises(NotionError, match="object_not_found"):
            await bad.publish("x", "y")
    finally:
        await bad.close()


async def test_llm_narrative_is_marked_and_every_sentence_cites(tmp_path: Path) -> None:
    from tests.openai_server import LocalOpenAI

    def answer(facts: str) -> dict[str, object]:
        assert facts.startswith("Incident INC-1") and "T1:" in facts
        return {
            "sentences": [
                {"text": "The incident was declared for checkout.", "sources": ["T1"]},
                {"text": "A cosmic ray flipped a bit.", "sources": ["T99"]},  # no such fact
                {"text": "Nobody knows why.", "sources": []},
            ]
        }

    llm = await LocalOpenAI(answer).start()
    h = make_harness(
        tmp_path / "home",
        openai_api_key="sk-test-key-0000000000000000",
        llm_base_url=llm.base_url,
        incident_archive_after_seconds=0,
    )
    try:
        await h.say("alice", "/incident declare checkout errors sev2 checkout")
        await h.say("bob", "/incident resolve INC-1")
        await h.say("bob", "/postmortem INC-1")
        md = (h.app.settings.home / "postmortems" / "INC-1.md").read_text()
        assert "### Narrative (written by an LLM" in md
        assert "The incident was declared for checkout. [T1]" in md
        assert "cosmic ray" not in md and "Nobody knows" not in md
        assert "2 sentence(s) citing nothing that exists were dropped" in md
        assert llm.requests[0]["tools"][0]["function"]["name"] == "Narrative"
    finally:
        await h.app.close()
        await llm.stop()
