"""Configuration: defaults, the example file, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_no_file_gives_demo_defaults() -> None:
    s = load_settings(None, env={})
    assert s.database.url.startswith("sqlite://")
    assert s.org.timezone == "Asia/Shanghai"
    assert "general" in s.surveys
    assert s.simulator.enabled  # the demo needs the patient-phone simulator


def test_a_config_file_leaves_the_simulator_off(tmp_path: Path) -> None:
    # Its page lets anyone write as any contact: never on unless asked for.
    assert not load_settings(write(tmp_path, "[org]\nname = \"诊所\"\n"), env={}).simulator.enabled


def test_example_file_is_valid_and_matches_defaults() -> None:
    # The example documents every setting with its default: keep the two in step.
    example = load_settings(ROOT / "config.example.toml", env={})
    assert example == Settings()


def test_every_section_is_documented_in_the_example() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        if name in ("survey_routes", "surveys", "care"):
            assert f"[[{name}]]" in text or f"[{name}." in text
            continue
        assert f"[{name}]" in text, f"section [{name}] missing from config.example.toml"
        sub = field.annotation
        for key in getattr(sub, "model_fields", {}):
            assert f"\n{key} =" in text or f"[{name}.{key}]" in text, (
                f"{name}.{key} missing from config.example.toml")


@pytest.mark.parametrize(("toml", "expected"), [
    ("[server]\nprot = 8080\n", ["unknown key 'server.prot'", "allowed here: host, port"]),
    ("[sever]\nport = 1\n", ["unknown key 'sever'", "allowed here: server, database"]),
    ("[server]\nport = 99999\n", ["bad value for 'server.port'", "65535"]),
    ("[server]\nrole = \"boss\"\n", ["bad value for 'server.role'", "'web', 'worker' or 'all'"]),
    ("[org]\ntimezone = \"Mars/Base\"\n", ["org.timezone", "IANA"]),
    ("[database]\nurl = \"mysql://x\"\n", ["database.url", "sqlite://"]),
    ("[schedules]\ndefault = [\"1 day\"]\n", ["schedules", "wd (working days)"]),
    ("[schedules]\n\"拔牙\" = [\"1d\"]\n", ["\"default\" is required"]),
    ("[checkin]\nsend_time = \"10am\"\n", ["checkin.send_time", "HH:MM"]),
    ("[[survey_routes]]\nsurvey = \"nope\"\n",
     ["names survey 'nope'", "defined: dental, general, hospital, music"]),
    ("[surveys.s]\ntitle = \"t\"\nthanks = \"x\"\n[[surveys.s.questions]]\nid = \"q\"\n"
     "text = \"?\"\nask_if = \"q <= 9\"\n", ["surveys.s.questions.0.ask_if", "<1-5>"]),
])
def test_bad_config_names_key_file_and_allowed(tmp_path: Path, toml: str,
                                               expected: list[str]) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[server\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_environment_overrides_and_config_path(tmp_path: Path) -> None:
    path = write(tmp_path, "[org]\nname = \"口腔诊所\"\n")
    s = load_settings(None, env={"SURVEYBOT_CONFIG": str(path),
                                 "SURVEYBOT_SERVER__PORT": "9090"})
    assert s.org.name == "口腔诊所"
    assert s.server.port == 9090


def test_environment_typo_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'server\.prot'"):
        load_settings(None, env={"SURVEYBOT_SERVER__PROT": "1"})
