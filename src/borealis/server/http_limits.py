"""Bounded request heads: uvicorn's httptools protocol with a limit on header bytes and header count.

llhttp keeps an unfinished header in memory for as long as the client keeps sending it (32 MB of one
header, before any login, was held). Here the bytes a request's head has taken so far are counted
as they arrive, and a head over `max_bytes` or with more than `max_count` headers is answered
`431 Request Header Fields Too Large` and the connection closed, before the app sees anything.
"""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from borealis.core.codec import dumps_bytes
from borealis.core.errors import BorealisError


class HeadTooLarge(BorealisError):
    """Raised inside a parser callback to stop parsing; never leaves this module."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's protocol, counting a request head's bytes and headers; the limits are set on the
    subclass `bounded_http_protocol` makes."""

    head_limit_bytes = 0
    head_limit_count = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_bytes = 0
        self.head_count = 0
        self.reading_head = True

    def data_received(self, data: bytes) -> None:
        # As uvicorn's own: a request arriving on a kept-alive connection cancels the idle timer,
        # which would otherwise close the connection under a long answer (an event stream).
        self._unset_keepalive_if_required()
        if self.reading_head:
            self.head_bytes += len(data)
        if not self._parse(data):
            return
        # Still inside the head after this chunk: everything since it began is head bytes.
        if self.reading_head and self.head_bytes > self.head_limit_bytes and not self.transport.is_closing():
            self.refuse_head()

    def _parse(self, data: bytes) -> bool:
        """Feeds the parser; False when the request was answered or upgraded instead."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self.refuse_head()
            else:
                self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return True

    def on_message_begin(self) -> None:
        self.head_count = 0
        self.reading_head = True
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_count += 1
        if self.head_count > self.head_limit_count:
            raise HeadTooLarge("request head over the limits")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        head = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if head > self.head_limit_bytes:
            raise HeadTooLarge("request head over the limits")
        self.reading_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head = True

    def refuse_head(self) -> None:
        body = dumps_bytes(
            {
                "type": "https://borealis.dev/problems/headers-too-large",
                "title": "Request header fields too large",
                "status": 431,
                "detail": (
                    f"request headers are limited to {self.head_limit_bytes} bytes"
                    f" and {self.head_limit_count} fields"
                ),
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()
        self.reading_head = False


def bounded_http_protocol(max_bytes: int, max_count: int) -> type[HttpToolsProtocol]:
    """An `HttpToolsProtocol` class with these limits, for `uvicorn.Config(http=...)`."""

    class Bounded(BoundedHttpToolsProtocol):
        head_limit_bytes = max_bytes
        head_limit_count = max_count

    return Bounded
