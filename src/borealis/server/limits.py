"""Bounded request bodies: an ASGI middleware that refuses anything over the limit with a 413 problem."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from borealis.core.codec import dumps_bytes


class BodyLimit:
    """Refuses a declared Content-Length over the limit at once; counts a streamed body as the app reads it.

    When a streamed body passes the limit, the 413 goes out from here and the app is told the client
    went away, so it stops reading; whatever it tries to answer after that is dropped.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # exact paths that take bigger bodies (agent wheels), with their limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = dumps_bytes(
            {
                "type": "https://borealis.dev/problems/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"request body is over the limit of {limit} bytes",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
