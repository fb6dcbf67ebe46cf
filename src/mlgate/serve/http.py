"""uvicorn's HTTP/1.1 protocol (h11) with a header read timeout.

uvicorn times out an idle keep-alive connection, but not one that opened and never sent a
complete request head: a client sending its headers a byte at a time (slowloris) holds a
connection for as long as it likes. Here the head of every request must arrive within
``header_timeout`` seconds of the connection opening or the previous response ending, or
the connection is closed. (Body read timeouts are the app's: ``mlgate.serve.app``.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def with_header_timeout(header_timeout: float) -> type[asyncio.Protocol]:
    """An h11 protocol class closing connections whose request head is late."""

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
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
