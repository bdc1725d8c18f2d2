"""`notify.email`: e-mail through the SMTP server set in server.toml (`[smtp]`), sent with the
standard library's `smtplib` in a worker thread so the loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import as_text

MAX_RECIPIENTS = 50
MAX_SUBJECT_CHARS = 900
MAX_BODY_CHARS = 1024 * 1024


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    tls: bool
    username: str
    password: str

    @classmethod
    def of(cls, raw: Any) -> SmtpSettings:
        settings = raw if isinstance(raw, dict) else {}
        host, sender = str(settings.get("host") or ""), str(settings.get("from") or "")
        if not host or not sender:
            raise NodeError(
                "e-mail is not configured on this server: set host and from under [smtp] in server.toml",
                retryable=False,
            )
        starttls, tls = bool(settings.get("starttls", False)), bool(settings.get("tls", False))
        return cls(
            host=host,
            port=int(settings.get("port") or (465 if tls else 587 if starttls else 25)),
            sender=sender,
            starttls=starttls,
            tls=tls,
            username=str(settings.get("username") or ""),
            password=str(settings.get("password") or ""),
        )


def addresses(value: Any, name: str) -> list[str]:
    """Addresses from text (comma-separated) or a list of texts; each must look like `x@y`."""
    raw = value if isinstance(value, list) else [value] if value else []
    texts = [as_text(entry, name) for entry in raw]
    if any("\r" in text or "\n" in text for text in texts):
        raise NodeError(f"{name} may not contain line breaks", retryable=False)
    found = [address for _, address in getaddresses(texts) if address]
    bad = [address for address in found if "@" not in address.strip("@")]
    if bad:
        raise NodeError(f"{name}: not e-mail addresses: {', '.join(bad[:5])}", retryable=False)
    return found


def message_of(smtp: SmtpSettings, params: dict[str, Any]) -> EmailMessage:
    """The e-mail the parameters describe, from the configured sender; `NodeError` when it has no recipient."""
    to, cc = addresses(params.get("to"), "to"), addresses(params.get("cc"), "cc")
    if not to:
        raise NodeError("no recipient: `to` is empty", retryable=False)
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise NodeError(f"at most {MAX_RECIPIENTS} recipients", retryable=False)
    subject = as_text(params.get("subject"), "subject")
    if "\r" in subject or "\n" in subject or len(subject) > MAX_SUBJECT_CHARS:
        raise NodeError(
            f"the subject must be one line of at most {MAX_SUBJECT_CHARS} characters", retryable=False
        )
    body = as_text(params.get("body"), "body")
    if len(body) > MAX_BODY_CHARS:
        raise NodeError(f"the body is longer than {MAX_BODY_CHARS} characters", retryable=False)
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2].strip("> ") or None)
    if params.get("html"):
        message.set_content("This message is HTML; your mail reader shows only text.")
        message.add_alternative(body, subtype="html")
    else:
        message.set_content(body)
    return message


def send(smtp: SmtpSettings, message: EmailMessage, timeout_s: float) -> None:
    """One SMTP session (blocking: run it in a thread); smtplib's errors classified as NodeError."""
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout_s, context=ssl.create_default_context())
            if smtp.tls
            else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s)
        )
        with client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
        raise NodeError(f"the SMTP server refused: {exc}", retryable=False) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))[:300]
        raise NodeError(f"the SMTP server refused the recipients {refused}", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        raise NodeError(
            f"the SMTP server answered {exc.smtp_code} {str(text)[:300]}",
            retryable=400 <= exc.smtp_code < 500,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NodeError(f"cannot send through {smtp.host}:{smtp.port}: {exc}") from None


class NotifyEmail:
    type = "notify.email"
    version = 1
    category = "notify"
    title = "E-mail"
    doc = (
        "Sends e-mail through the server's SMTP settings (server.toml `[smtp]`: host, port, from, starttls, "
        "tls (implicit TLS, port 465), username, password; without host and from the node fails, not "
        "retried). `to` and `cc` are addresses (text, comma-separated, or a list; at most 50 in all), "
        "`subject` one line, `body` text — or HTML with `html: true`; all may use expressions. `mode: all` "
        "(default) sends one message rendered over the whole input (`{{ items }}`, `{{ length(items) }}`); "
        "`mode: each` sends one message per item (`{{ json.hostname }}`). Emits one item per message: "
        "`{to, cc, subject, message_id}`. Authentication failures and refused recipients are not retried; "
        "connection failures and 4xx answers are, per the node's settings."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["to", "subject", "body"],
        "properties": {
            "to": {"type": ["string", "array"], "maxItems": MAX_RECIPIENTS, "items": {"type": "string"}},
            "cc": {"type": ["string", "array"], "maxItems": MAX_RECIPIENTS, "items": {"type": "string"}},
            "subject": {"type": "string", "maxLength": MAX_SUBJECT_CHARS},
            "body": {"type": "string"},
            "html": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["all", "each"]},
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 300},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        smtp = SmtpSettings.of(ctx.services.smtp)
        items = all_items(inputs)
        each = ctx.params.get("mode") == "each"
        rendered = [ctx.params_for(entry) for entry in items] if each and items else [ctx.params_for(None)]
        messages = [(params, message_of(smtp, params)) for params in rendered]
        out: list[Item] = []
        for params, message in messages:
            await asyncio.to_thread(send, smtp, message, float(params.get("timeout_s", 30.0)))
            out.append(
                {
                    "json": {
                        "to": addresses(params.get("to"), "to"),
                        "cc": addresses(params.get("cc"), "cc"),
                        "subject": message["Subject"],
                        "message_id": message["Message-ID"],
                    },
                    "binary_ref": None,
                }
            )
        return {MAIN: out}


NODE = NotifyEmail()
