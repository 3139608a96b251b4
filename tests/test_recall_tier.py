"""The learned recall tier: adds only where the rules said no, never over an exclusion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.train_recall import Config, table_texts, train
from bot.config import ConfigError, Settings, TextsConfig, load_settings
from bot.runtime import Runtime
from surveys import engine
from surveys.definition import default_surveys
from surveys.parser import ReplyParser
from surveys.recall import MODEL_PATH, RecallModel, RecallModelError

WITH = ReplyParser()
RULES = ReplyParser(recall=False)

# Replies the rules miss and the shipped tier catches (label, reply).
TIER_POSITIVES = [
    ("red_flag", "我妈出院后老说有人在门口盯着她，晚上拿着剪刀不睡觉"),
    ("red_flag", "孩子从昨天到现在就尿了一回，嘴唇干得起皮"),
    ("opt_out", "能不能别每周都来问一遍，我真不需要"),
    ("opt_out", "我没空弄这些，以后别算我"),
    ("opt_out", "这个号码的主人已经不用了"),
    ("opt_out", "老是发这个干嘛"),
]

# Look-alikes: the stop or symptom words of a flag in a reply that is not one.
LOOK_ALIKES = [
    "不要再喝酒", "麻烦你们了", "别客气", "谢谢你们，不用担心我", "孩子最近胃口很好，长高了",
    "医生说不用再来复查了", "挺好的，没什么不舒服", "发票什么时候能开",
    "我这周出差，下周再回复你们", "宝宝出生6斤8两，母子平安", "先不说了，在开车，晚点回你",
]


def test_shipped_model_loads() -> None:
    model = RecallModel.load(MODEL_PATH)
    assert all(-99 < t < 99 for t in model.thresholds)  # cross-validation chose both


def test_no_test_table_reply_changes_with_the_tier() -> None:
    # the parser tables hold every look-alike the rules were taught: the tier adds nothing
    changed = []
    for text in table_texts():
        a, b = RULES.parse(text), WITH.parse(text)
        if (a.red_flag, a.opt_out) != (b.red_flag, b.opt_out):
            changed.append(text)
    assert changed == []


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_flagged(text: str) -> None:
    r = WITH.parse(text)
    assert not r.red_flag and not r.opt_out, r.explain()


@pytest.mark.parametrize(("label", "text"), TIER_POSITIVES)
def test_tier_positives(label: str, text: str) -> None:
    assert not getattr(RULES.parse(text), label)
    r = WITH.parse(text)
    assert getattr(r, label), r.explain()
    assert "learned tier" in r.explain()
    if label == "opt_out":
        assert r.opt_out_unsure  # the engine confirms before stopping
    assert RULES.parse(text).score == r.score  # the tier never touches the score


def _eager(texts: list[str]) -> RecallModel:
    """A model that calls every character of ``texts`` both flags, without a gate."""
    chars = {c for t in texts for c in t}
    return RecallModel({"format": 2, "labels": ["red_flag", "opt_out"], "bias": [0, 0],
                        "thresholds": [0, 0], "gate": [-99, -99],
                        "weights": {c + d: [5, 5] for c in chars for d in chars}})


@pytest.mark.parametrize(("label", "text"), [
    ("red_flag", "没有发烧"),
    ("red_flag", "烧已经退了"),
    ("red_flag", "昨天发烧39度，今天已经退了"),
    ("red_flag", "万一发烧怎么办"),
    ("red_flag", "没有什么不舒服"),
    ("opt_out", "我没说要退订啊 只是这两天忙"),
    ("opt_out", "并不是要取消提醒，只是问问"),
    ("opt_out", "谁说不要回访了"),
    ("opt_out", "晚上别打电话，白天都可以"),
])
def test_an_exclusion_is_never_overruled(label: str, text: str) -> None:
    eager = ReplyParser(recall=_eager([text, "今天头有点怪怪的"]))
    assert f"{label}_denied" in {e.rule for e in eager.parse(text).evidence}
    assert not getattr(eager.parse(text), label)
    # the same model does add where nothing excludes it
    assert eager.parse("今天头有点怪怪的").red_flag


SURVEY = default_surveys()["general"]
TEXTS = TextsConfig().model_dump()
CTX = engine.Context(values={"contact_name": "张三", "org_name": "示例医院", "department": "口腔科",
                             "org_phone": "110", "visit_date": "11月20日"})


def _talk(parser: ReplyParser, *replies: str) -> list[engine.Step]:
    state: dict[str, Any] = {"survey": "general", "index": 0, "answers": {}, "failed": 0,
                             "confirm": None, "status": "asking"}
    steps = []
    for text in replies:
        step = engine.reply(SURVEY, TEXTS, CTX, state, parser.parse(text), text)
        steps.append(step)
        state = step.state
    return steps


def test_engine_confirms_a_tier_opt_out_before_stopping() -> None:
    text = next(t for label, t in TIER_POSITIVES if label == "opt_out")
    first, second = _talk(WITH, text, "是")
    assert first.outbound == (TEXTS["confirm_opt_out"],)
    assert first.state["status"] == "asking"
    assert "opted_out" not in [e.name for e in first.events]
    assert [e.name for e in second.events] == ["opted_out"]


def test_a_tier_red_flag_is_urgent() -> None:
    text = next(t for label, t in TIER_POSITIVES if label == "red_flag")
    (step,) = _talk(WITH, text)
    raised = [e for e in step.events if isinstance(e, engine.EscalationRaised)]
    assert [(e.kind, e.priority) for e in raised] == [("red_flag", "urgent")]
    assert step.state["status"] == "staff"


def _settings(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return load_settings(path, env={})


def test_config_switches_the_tier_off(tmp_path: Path) -> None:
    text = TIER_POSITIVES[0][1]
    on = Runtime(settings=Settings(), clock=None, channels={})  # type: ignore[arg-type]
    off = Runtime(settings=_settings(tmp_path, "[lexicon]\nrecall_tier = false\n"),
                  clock=None, channels={})  # type: ignore[arg-type]
    assert on.parser.parse(text).red_flag or on.parser.parse(text).opt_out
    assert not (off.parser.parse(text).red_flag or off.parser.parse(text).opt_out)


def test_config_points_at_an_organisations_model(tmp_path: Path) -> None:
    own = tmp_path / "own.json"
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    data["thresholds"] = [99, 99]  # a model that never adds
    own.write_text(json.dumps(data), encoding="utf-8")
    rt = Runtime(settings=_settings(tmp_path, f"[lexicon]\nrecall_model = \"{own}\"\n"),
                 clock=None, channels={})  # type: ignore[arg-type]
    text = TIER_POSITIVES[0][1]
    assert not (rt.parser.parse(text).red_flag or rt.parser.parse(text).opt_out)


@pytest.mark.parametrize("content", [None, "{not json", "[]", '{"format": 1}',
                                     '{"format": 2, "labels": ["red_flag", "opt_out"]}'])
def test_a_broken_model_file_stops_start_up_with_what_to_do(tmp_path: Path,
                                                            content: str | None) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, f"[lexicon]\nrecall_model = \"{path}\"\n")
    message = str(err.value)
    assert "recall" in message and str(path) in message
    assert "bench/train_recall.py" in message and "recall_tier = false" in message
    with pytest.raises(RecallModelError):
        RecallModel.load(path)


TRAIN = [("孩子一直吐，精神很差", True, False, 1.0), ("别再给我发消息了", False, True, 1.0),
         ("挺好的，谢谢", False, False, 1.0), ("孩子吐了好几次", True, False, 1.0),
         ("不要再发了", False, True, 1.0), ("谢谢医生，挺好", False, False, 1.0)]


def test_training_is_deterministic_and_loads() -> None:
    cfg = Config(epochs=3, min_count=1)
    a = train(TRAIN, cfg)
    b = train(list(reversed(TRAIN)), cfg)  # the input order does not matter either
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    a["thresholds"] = [0.0, 0.0]
    model = RecallModel(a)
    rf, oo = model.scores("孩子一直吐")
    assert rf > 0 > oo


def test_survey_bot_parse_says_learned_tier(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    monkeypatch.delenv("SURVEYBOT_CONFIG", raising=False)
    text = TIER_POSITIVES[0][1]
    assert main(["parse", text]) == 0
    out = capsys.readouterr().out
    assert "red_flag_learned" in out and "learned tier" in out
