"""SendBatchSms: the SMS sends under way at once that share a template go in one call.

The outbox hands the SMS channel one message at a time, many people at once (one lane per
batch, each person's messages one after the other). Each send that passed its own checks
(template, number, an unsure earlier send settled, the caps of its number and the
organisation) joins the open group of its template and signature here, and waits for that
group's answer; a group goes when it holds ``[sms] batch_size`` numbers, or a moment
(:data:`LINGER`) after its first joined. So a batch of the outbox becomes one signed request
per template instead of one per message, and nothing about a message's own rules changes:
a number over a cap never joins, one person's next message joins a later group.

Exactly once, per recipient:

* one fresh ``OutId`` per call (18 digits, from :data:`OUT_ID_MIN` up: never a message id, which
  single sends use), written to every member's row *before* the request leaves, so that a
  receipt or the settling query finds each message by (OutId, phone) even after a crash;
* an unknown outcome (timeout, connection closed, an HTTP 5xx after the request left) makes
  every member unsure, each settled number by number (``QuerySendDetails``) before any resend:
  a batch is never re-sent as a whole;
* a business error that may blame one number (``isv.MOBILE_NUMBER_ILLEGAL``,
  ``isv.BUSINESS_LIMIT_CONTROL``, any refusal not ours) sends each member by itself with
  ``SendSms``, so one bad number does not hold the others; a fault of our own set-up
  (credentials, template, balance) or Aliyun's API rate is every member's answer, as it would
  have been for each alone (the channel pauses, or they wait). A refusal of SendBatchSms itself
  (the RAM user may call SendSms only) sends each by itself, and this process stops batching.

A member whose lease on its message could end before the call does leaves the group (a
deferral); the call is bounded by the earliest lease of those left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.channels.aliyun_rpc import NotSent, Reply, Unsure, denied
from bot.channels.base import DEADLINE, ChannelError
from bot.channels.sms_callbacks import BATCH_OUT_ID_MIN
from bot.clock import Clock
from models import Message

log = logging.getLogger(__name__)

# How long a group waits for more members after its first: the outbox hands a batch's
# messages over within one pass of the event loop, so a few milliseconds gather them all.
LINGER = 0.005
# Batch OutIds are 18 digits from here up (what a receipt's out_id may be): message ids, the
# OutId of single sends, stay far below.
OUT_ID_MIN = BATCH_OUT_ID_MIN
# Codes that are every member's answer (nothing in them blames one number).
_SHARED_PREFIXES = ("Throttling",)


def not_permitted(code: str) -> bool:
    """Aliyun's answer says the RAM user may not call the action: for SendBatchSms (it may
    still call SendSms), this process stops batching and each message goes by itself, meeting
    SendSms's own answer (a pause if that is refused too)."""
    return code == "isp.RAM_PERMISSION_DENY" or denied(code)


def batch_out_id() -> str:
    """A fresh OutId for one SendBatchSms call."""
    return str(OUT_ID_MIN + secrets.randbelow(9 * OUT_ID_MIN))


@dataclass(eq=False)
class _Member:
    message_id: int
    phone: str
    values: dict[str, str]
    deadline: datetime | None
    answer: asyncio.Future[Reply | None]


@dataclass(eq=False)
class _Group:
    template: str
    sign: str
    members: list[_Member] = field(default_factory=list)
    phones: set[str] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None


Call = Callable[[str, dict[str, str]], Awaitable[Reply]]


class SmsBatcher:
    """Gathers concurrent sends of one template into SendBatchSms calls (see the module)."""

    def __init__(self, call: Call, clock: Clock, *, size: int, request_seconds: float,
                 is_fault: Callable[[str], bool]) -> None:
        self._call = call
        self.clock = clock
        self.size = size
        self.request_seconds = request_seconds
        self._is_fault = is_fault
        self._open: dict[tuple[str, str], list[_Group]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused: str | None = None  # the code that stopped batching in this process

    async def send(self, message_id: int, phone: str, template: str, sign: str,
                   values: dict[str, str]) -> Reply | None:
        """Join the open group of ``template``; that call's answer for this number.

        Returns a :class:`Reply` as a SendSms would have answered for this number alone, or
        None when the message must be sent by itself (a group of one, or a refusal that may
        blame one number). Raises :class:`~bot.channels.aliyun_rpc.Unsure` when the call's
        outcome is unknown, :class:`~bot.channels.aliyun_rpc.NotSent` when it never left, and
        a deferral when this member's lease could not cover the call.
        """
        if self.refused is not None:
            return None
        loop = asyncio.get_running_loop()
        groups = self._open.setdefault((template, sign), [])
        group = next((g for g in groups if phone not in g.phones), None)
        if group is None:
            # One number at most once per call: its receipts could not tell two apart.
            group = _Group(template, sign)
            groups.append(group)
            group.timer = loop.call_later(LINGER, self._go, group)
        member = _Member(message_id, phone, values, DEADLINE.get(), loop.create_future())
        group.members.append(member)
        group.phones.add(phone)
        if len(group.members) >= self.size:
            self._go(group)
        return await member.answer

    def _go(self, group: _Group) -> None:
        """Close ``group`` to newcomers and send it (in a task of its own)."""
        groups = self._open.get((group.template, group.sign), [])
        if group not in groups:
            return  # already gone
        groups.remove(group)
        if group.timer is not None:
            group.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._run(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Send what is still gathering and wait for the calls under way."""
        for groups in list(self._open.values()):
            for g in list(groups):
                self._go(g)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, group: _Group) -> None:
        members = [m for m in group.members if not m.answer.done()]
        state = {"left": False}
        try:
            await self._send(group, members, state)
        except BaseException as e:  # every member learns what happened to its call
            err: Exception
            if isinstance(e, Unsure | NotSent | ChannelError):
                err = e
            elif state["left"]:
                # Anything else once the request may have left: it may have gone.
                err = Unsure(f"{type(e).__name__} during SendBatchSms")
            else:
                err = ChannelError(f"the SMS batch could not start: {type(e).__name__}",
                                   code="sms.batch", defer=True, retry_after=1.0)
            if isinstance(e, Exception) and err is not e:
                log.warning("SMS batch: %s", type(e).__name__, exc_info=e)
            for m in members:
                if not m.answer.done():
                    m.answer.set_exception(err)
            if not isinstance(e, Exception):
                raise

    async def _send(self, group: _Group, members: list[_Member], state: dict[str, bool]
                    ) -> None:
        now = self.clock.now()
        need = now + timedelta(seconds=self.request_seconds)
        fits = []
        for m in members:
            if m.deadline is not None and need > m.deadline:
                m.answer.set_exception(ChannelError(
                    "this worker's lease on the message ends before the batch could be "
                    "answered: not sending it", code="outbox.lease", defer=True,
                    retry_after=0.1))
            else:
                fits.append(m)
        if len(fits) <= 1:
            for m in fits:
                _answer(m, None)  # by itself: SendSms, with its own OutId
            return
        out_id = batch_out_id()
        # Before the request leaves: whoever settles one of these later asks for this OutId.
        await Message.filter(id__in=[m.message_id for m in fits]).update(out_id=out_id)
        deadlines = [m.deadline for m in fits if m.deadline is not None]
        DEADLINE.set(min(deadlines) if deadlines else None)  # this task's own context
        state["left"] = True
        reply = await self._call("SendBatchSms", {
            "PhoneNumberJson": json.dumps([m.phone for m in fits]),
            "SignNameJson": json.dumps([group.sign] * len(fits), ensure_ascii=False),
            "TemplateCode": group.template,
            "TemplateParamJson": json.dumps([m.values for m in fits], ensure_ascii=False),
            "OutId": out_id,
        })
        code = str(reply.body.get("Code", ""))
        if reply.status >= 500:
            # The request reached Aliyun: whether it sent some of them is unknown.
            raise Unsure(f"HTTP {reply.status} {code}")
        if reply.status == 200 and code == "OK":
            for m in fits:
                _answer(m, reply)
            return
        if not_permitted(code):
            if self.refused is None:
                log.warning("SendBatchSms is not permitted (%s): this process sends each SMS "
                            "by itself; allow dysms:SendBatchSms or set [sms] batch_size = 1",
                            code)
            self.refused = code
            for m in fits:
                _answer(m, None)
            return
        if self._is_fault(code) or code.startswith(_SHARED_PREFIXES):
            for m in fits:
                _answer(m, reply)  # what each would have met alone
            return
        log.info("SMS batch of %d refused (%s): each sent by itself", len(fits), code)
        for m in fits:
            _answer(m, None)


def _answer(member: _Member, reply: Reply | None) -> None:
    """Give ``member`` its answer, unless it stopped waiting (its sender was cancelled: the
    outcome is then settled from the row's OutId, as after a crash)."""
    if not member.answer.done():
        member.answer.set_result(reply)
