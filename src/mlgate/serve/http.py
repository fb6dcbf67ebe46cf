"""uvicorn's HTTP/1.1 protocol (h11) with a header read timeout, and one write per answer.

uvicorn times out an idle keep-alive connection, but not one that opened and never sent a
complete request head: a client sending its headers a byte at a time (slowloris) holds a
connection for as long as it likes. Here the head of every request must arrive within
``header_timeout`` seconds of the connection opening or the previous response ending, or
the connection is closed. (Body read timeouts are the app's: ``mlgate.serve.app``.)

uvicorn writes a response's head as soon as the app starts the response, and its body
next: two system calls, and a client woken twice, per answer. Here the head waits for the
body (written in the same step of the event loop by every handler here) and both go out
in one write; a head alone is written at the end of that step.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class _OneWrite:
    """A transport whose response head is held until the next write (or the end of this
    step of the event loop) and then written with it; everything else passes through."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            self._held = data
            self._loop.call_soon(self.flush)
            return
        if data:
            self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            data, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, pause_reading, get_extra_info...
        return getattr(self._transport, name)


def with_header_timeout(header_timeout: float) -> type[asyncio.Protocol]:
    """An h11 protocol class closing connections whose request head is late, and writing
    each answer's head and body in one write."""

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(cast(asyncio.Transport, _OneWrite(transport, self.loop)))
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the head is in: the app has it
                self._disarm()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
