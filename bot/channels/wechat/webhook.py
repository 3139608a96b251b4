"""Reading what WeChat posts: signatures, the clock, flat XML only, decryption (wechatpy's
WeChatCrypto), and passive replies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply

from bot.channels.wechat.channel import WechatChannel
from bot.config import WechatConfig


class WebhookRejected(Exception):
    """A webhook call we refuse: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified, decrypted, parsed webhook message."""

    fields: dict[str, str]
    raw: str
    encrypted: bool


def _sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts joined (what wechatpy's WeChatSigner
    computes; done directly because the webhook signs twice per message). Sorting the strings
    sorts their UTF-8 bytes the same way."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# Numbers WeChat sends are ASCII digits: ``str.isdigit`` (and ``int``) would also take "²",
# "①", "٣" or "１". MsgId is an unsigned 64-bit number (at most 20 digits).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MSG_ID = re.compile(r"[0-9]{1,20}")
MSG_ID_MAX = 2**64 - 1
# Characters XML 1.0 forbids (the flat reader below must not accept what the XML parser would
# refuse): C0 controls other than tab, newline and carriage return, surrogates, U+FFFE/FFFF.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def check_query(cfg: WechatConfig, query: Mapping[str, str], now: datetime) -> None:
    """Timestamp within the skew bound and, when given, a valid ``signature`` (else 403)."""
    ts, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not _TIMESTAMP.fullmatch(ts) or not nonce or len(nonce) > 64:
        raise WebhookRejected(403, "timestamp and nonce are required")
    if abs(now.timestamp() - int(ts)) > cfg.max_clock_skew_seconds:
        raise WebhookRejected(403, "timestamp too far from our clock (replay or clock skew)")
    sig = query.get("signature")
    if sig is None and query.get("encrypt_type") != "aes":
        raise WebhookRejected(403, "signature missing")
    if sig is not None and not _same(_sign(cfg.token, ts, nonce), sig):
        raise WebhookRejected(403, "bad signature")


# WeChat's documents are flat: <xml><Name><![CDATA[text]]></Name><Num>123</Num>...</xml>.
# A document made only of such elements (no declarations, entities, attributes or nesting)
# is read directly, in one pass; anything else goes through the XML parser with its checks.
# CDATA text is "anything without ]]>", written unrolled (runs of non-"]" characters) because
# a per-character lookahead made this the webhook's costliest step.
_FLAT_OPEN = re.compile(r"\s*<xml>")
_FLAT_FIELD = re.compile(
    r"\s*<([A-Za-z_][\w.-]{0,63})>"
    r"(?:<!\[CDATA\[([^\]]*(?:\](?!\]>)[^\]]*)*)\]\]>|([^<&]*))</\1>")
_FLAT_CLOSE = re.compile(r"\s*</xml>\s*")


def _flat_fields(text: str) -> dict[str, str] | None:
    if _XML_ILLEGAL.search(text):
        return None  # the XML parser refuses it, with its reason
    m = _FLAT_OPEN.match(text)
    if m is None:
        return None
    pos = m.end()
    fields: dict[str, str] = {}
    field = _FLAT_FIELD.match
    while (m := field(text, pos)) is not None:
        name, cdata = m.group(1, 2)
        # The XML parser keeps the last of repeated elements as a list: refuse those too.
        if name in fields:
            return None
        # Stripped like the XML parser's text (xmltodict strips CDATA text too).
        fields[name] = (cdata if cdata is not None else m.group(3)).strip()
        pos = m.end()
    if _FLAT_CLOSE.fullmatch(text, pos) is None:
        return None
    return fields


def parse_xml(text: str) -> dict[str, str]:
    """A flat ``<xml>`` document → its fields. Entities, DTDs and nesting are refused."""
    fast = _flat_fields(text)
    if fast is not None:
        return fast
    # The whole body: a declaration after any amount of padding is still one.
    if _DTD.search(text):
        raise WebhookRejected(400, "XML with a document type or entities is refused")
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as e:
        raise WebhookRejected(400, f"not well-formed XML: {e}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise WebhookRejected(400, "the root element must be <xml>")
    fields: dict[str, str] = {}
    for key, value in root.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise WebhookRejected(400, f"field {key} is not plain text")
        fields[key] = value
    return fields


def _msg_id_ok(value: str) -> bool:
    return _MSG_ID.fullmatch(value) is not None and int(value) <= MSG_ID_MAX


def _require(fields: Mapping[str, str]) -> None:
    """The fields every message needs, each bounded: refused (400) before anything is stored."""
    for name in ("FromUserName", "MsgType", "CreateTime"):
        if not fields.get(name):
            raise WebhookRejected(400, f"field {name} is missing")
    if not _TIMESTAMP.fullmatch(fields["CreateTime"]):
        raise WebhookRejected(400, "field CreateTime must be 1 to 12 digits 0-9")
    sender = fields["FromUserName"]
    if len(sender) > 64 or any(c.isspace() or ord(c) < 32 for c in sender):
        raise WebhookRejected(400, "field FromUserName is malformed")
    if len(fields["MsgType"]) > 32:
        raise WebhookRejected(400, "field MsgType is malformed")
    if fields["MsgType"].lower() == "event":
        if not fields.get("Event"):
            raise WebhookRejected(400, "field Event is missing")
        if len(fields["Event"]) > 64:
            raise WebhookRejected(400, "field Event is malformed")
        for name in ("MsgID", "MsgId"):  # TEMPLATESENDJOBFINISH spells it MsgID
            if fields.get(name) and not _msg_id_ok(fields[name]):
                raise WebhookRejected(400, f"field {name} must be 1 to 20 digits 0-9")
    elif not fields.get("MsgId"):
        raise WebhookRejected(400, "field MsgId is missing")
    elif not _msg_id_ok(fields["MsgId"]):
        raise WebhookRejected(400, "field MsgId must be 1 to 20 digits 0-9 (a 64-bit number)")


def read_message(ch: WechatChannel, query: Mapping[str, str], body: bytes,
                 now: datetime) -> Inbound:
    """Verify and decode one POSTed message (plain, compatible or safe mode)."""
    cfg = ch.cfg
    check_query(cfg, query, now)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not valid UTF-8") from None
    fields = parse_xml(text)
    encrypted = query.get("encrypt_type") == "aes"
    if not encrypted:
        if cfg.mode == "safe":
            raise WebhookRejected(403, "safe mode: plaintext messages are refused")
        _require(fields)
        return Inbound(fields, text, False)
    if ch.crypto is None or ch.prp is None:
        raise WebhookRejected(400, "encrypted message but no encoding_aes_key configured")
    enc, msg_sig = fields.get("Encrypt", ""), query.get("msg_signature", "")
    if not enc or not msg_sig:
        raise WebhookRejected(403, "Encrypt or msg_signature missing")
    if not _same(_sign(cfg.token, query["timestamp"], query["nonce"], enc), msg_sig):
        raise WebhookRejected(403, "bad msg_signature")
    try:
        # msg_signature is checked above; wechatpy's PrpCrypto decrypts and checks the AppID.
        plain = ch.prp.decrypt(enc, cfg.app_id)
    except (InvalidSignatureException, InvalidAppIdException):
        raise WebhookRejected(403, "message not for this app") from None
    except Exception:  # bad base64, padding, lengths: hostile or corrupt input
        raise WebhookRejected(400, "encrypted payload cannot be decrypted") from None
    inner = parse_xml(str(plain))
    _require(inner)
    return Inbound(inner, str(plain), True)


def render_reply(ch: WechatChannel, inbound: Inbound, text: str, nonce: str,
                 now: datetime) -> str:
    """A passive text reply, encrypted when the message was."""
    ts = int(now.timestamp())
    xml = TextReply(source=inbound.fields.get("ToUserName", ""),
                    target=inbound.fields["FromUserName"], content=text, time=ts).render()
    if inbound.encrypted and ch.crypto is not None:
        return str(ch.crypto.encrypt_message(xml, nonce, str(ts)))
    return str(xml)
