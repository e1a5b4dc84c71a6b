"""The sandbox's AWS: moto's server (a local AWS API emulator) in its own process on
127.0.0.1, the sandbox workspace applied to it on first use, and drift made out of band on
request (`/sandbox drift <workspace>`, through the Gate like every sandbox control)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from bot.models import Action, ExecutionResult
from bot.ports import Progress
from bot.terraform import TerraformError
from tools.guard import writer

BUNDLED = Path(__file__).with_name("sandbox") / "aws"
PREFIX = "shipmate-sandbox"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAws:
    """moto's server as a child process (`python -m moto.server`), bound to 127.0.0.1."""

    def __init__(self, log_path: Path | None = None, port: int | None = None) -> None:
        self.log_path = log_path
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        if self._process is not None and self._process.poll() is None:
            return self.endpoint
        self.port = self.port or free_port()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=log,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise TerraformError(f"the local AWS emulator exited ({self._process.returncode})")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return self.endpoint
            time.sleep(0.05)
        self.stop()
        raise TerraformError(f"the local AWS emulator did not start within {timeout:g} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def make_drift(aws: LocalAws, prefix: str = PREFIX) -> list[str]:
    """Out-of-band changes to the sandbox workspace's objects, as a person in the console
    would make them: a tag changed, SSH opened to the world, a role edited, a role deleted."""
    done = []
    s3, ec2, iam = aws.client("s3"), aws.client("ec2"), aws.client("iam")
    s3.put_bucket_tagging(
        Bucket=f"{prefix}-artifacts",
        Tagging={
            "TagSet": [{"Key": "team", "Value": "search"}, {"Key": "service", "Value": "checkout"}]
        },
    )
    done.append(f"tag team=search on bucket {prefix}-artifacts")
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{prefix}-web"]}]
    )["SecurityGroups"]
    if groups:
        ec2.authorize_security_group_ingress(
            GroupId=groups[0]["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        done.append(f"SSH from 0.0.0.0/0 on {prefix}-web")
    iam.update_role(RoleName=f"{prefix}-deployer", Description="edited by hand")
    done.append(f"description of role {prefix}-deployer")
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        iam.delete_role(RoleName=f"{prefix}-reader")
        done.append(f"role {prefix}-reader deleted")
    return done


class SandboxAws:
    """The sandbox workspace's world: starts the emulator when first needed."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws

    async def variables(self) -> dict[str, str]:
        endpoint = await asyncio.to_thread(self.aws.start)
        return {"endpoint": endpoint}

    @writer
    async def inject_drift(self, action: Action, progress: Progress) -> ExecutionResult:
        await asyncio.to_thread(self.aws.start)
        try:
            done = await asyncio.to_thread(make_drift, self.aws)
        except Exception as exc:  # boto3's errors are many; the sentence says which
            return ExecutionResult(
                status="failed",
                summary=f"Could not change the sandbox AWS ({type(exc).__name__}: {exc}); "
                "has the workspace been applied? Run /drift on it first.",
            )
        return ExecutionResult(
            status="succeeded",
            summary="Sandbox: changed outside Terraform: " + "; ".join(done) + ".",
        )

    def close(self) -> None:
        self.aws.stop()
