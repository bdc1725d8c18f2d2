"""The pasteable install code: server URL, the server key's fingerprint and the enrollment secret.

Shape: `BRL1-` + base64url(JSON `{"u": url, "f": fingerprint, "s": secret}`, plus `"t"`: the
fingerprint of the server's self-signed TLS certificate when it serves one, which the agent pins).
One string an operator can paste into `borealis agent enroll --code`, with nothing else to get right.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import orjson

from borealis.core.errors import InvalidInput
from borealis.protocol.keys import b64decode, b64encode

PREFIX = "BRL1-"
MAX_CODE_CHARS = 2048


@dataclass(frozen=True)
class InstallCode:
    """What an agent needs to enroll: the server's URL and key fingerprint, and a one-time secret."""

    server_url: str
    fingerprint: str
    secret: str
    tls_fingerprint: str | None = None

    def encode(self) -> str:
        """The code as text: `BRL1-` and the fields in base64url JSON."""
        fields = {"u": self.server_url, "f": self.fingerprint, "s": self.secret}
        if self.tls_fingerprint:
            fields["t"] = self.tls_fingerprint
        return PREFIX + b64encode(orjson.dumps(fields))

    @classmethod
    def decode(cls, text: str) -> InstallCode:
        """The code from its text; `InvalidInput` when it is not one."""
        text = text.strip()
        if not text.startswith(PREFIX) or len(text) > MAX_CODE_CHARS:
            raise InvalidInput("not a Borealis install code (it starts with BRL1-)")
        try:
            body = orjson.loads(b64decode(text[len(PREFIX) :]))
            pin = body.get("t")
            code = cls(
                server_url=str(body["u"]),
                fingerprint=str(body["f"]),
                secret=str(body["s"]),
                tls_fingerprint=str(pin) if pin is not None else None,
            )
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            binascii.Error,
            orjson.JSONDecodeError,
        ) as exc:
            raise InvalidInput("install code is damaged; copy it again whole") from exc
        pin_ok = code.tls_fingerprint is None or code.tls_fingerprint.startswith("sha256:")
        if not code.fingerprint.startswith("sha256:") or not code.secret or not pin_ok:
            raise InvalidInput("install code is damaged; copy it again whole")
        return code
