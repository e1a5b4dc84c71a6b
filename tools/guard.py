"""The tripwire: writer methods refuse to run unless the Gate's executor granted the call."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

_grant: ContextVar[str | None] = ContextVar("shipmate_write_grant", default=None)

P = ParamSpec("P")
R = TypeVar("R")


class WriteOutsideGate(RuntimeError):
    """A writer was called by something other than the Gate's executor."""


@contextmanager
def granted(action_id: str) -> Iterator[None]:
    """Held by the executor (and only it) while it runs one approved action."""
    token = _grant.set(action_id)
    try:
        yield
    finally:
        _grant.reset(token)


def current_grant() -> str | None:
    return _grant.get()


def writer(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if _grant.get() is None:
            raise WriteOutsideGate(
                f"{fn.__qualname__} changes the world and may only run inside the Gate"
            )
        return await fn(*args, **kwargs)

    return guarded
