"""`survey-bot doctor` checks the voice set-up against the fake Aliyun Voice Service: the
AccessKey (a read-only query: nothing is called), the call template of each survey's first
score question, and voice in ``[channels] order``. Run as an operator runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_aliyun_vms import APPROVED, SHOW_NUMBER, FakeAliyunVms, voice_section
from tests.test_doctor import _section, cli, findings, healthy, public_url, write_config

__all__ = ["public_url"]  # the fixture, shared with test_doctor


@pytest.fixture
async def vms() -> AsyncIterator[FakeAliyunVms]:
    f = await FakeAliyunVms(show_numbers={SHOW_NUMBER}, tts_codes=APPROVED).start()
    yield f
    await f.close()


def config_with(tmp_path: Path, url: str, vms: FakeAliyunVms, order: str, **voice: Any) -> Path:
    values = voice_section(vms, **voice)
    menu, questions = values.pop("menu"), values.pop("questions")
    text = (f"[channels]\norder = {order}\n" + _section("voice", values)
            + _section("voice.menu", menu) + _section("voice.questions", questions))
    return write_config(tmp_path, url, text)


async def test_a_healthy_voice_set_up_passes_and_calls_nobody(
        tmp_path: Path, db_url: str, public_url: str, vms: FakeAliyunVms) -> None:
    await healthy(tmp_path, db_url, public_url)
    config = config_with(tmp_path, public_url, vms, '["simulator", "voice"]')
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 0, found
    assert found["voice credentials"]["status"] == "ok"
    assert found["voice template overall"]["status"] == "ok"
    assert vms.calls == []


async def test_wrong_voice_secrets_and_missing_templates_are_found(
        tmp_path: Path, db_url: str, public_url: str, vms: FakeAliyunVms) -> None:
    await healthy(tmp_path, db_url, public_url)
    config = config_with(tmp_path, public_url, vms, '["simulator", "voice"]',
                         access_key_secret="not-the-secret")
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 1
    assert "SignatureDoesNotMatch" in found["voice credentials"]["detail"]
    assert "AliyunDyvmsFullAccess" in found["voice credentials"]["todo"]
    config = config_with(tmp_path, public_url, vms, '["simulator"]', questions={
        "doctor": {"code": "TTS_OVERALL", "params": {}}})
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert found["voice order"]["status"] == "warn"
    assert found["voice template overall"]["status"] == "warn"
    assert "asked in writing" in found["voice template overall"]["detail"]
