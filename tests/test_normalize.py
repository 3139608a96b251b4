"""Normalisation details the rules rely on (surveys/understanding/normalize.py)."""

from __future__ import annotations

from surveys.understanding.normalize import normalize


def test_tone_marks_are_stripped() -> None:
    assert normalize("nǐ men fā cuò rén le") == "ni men fa cuo ren le"
    assert normalize("lǚ") == "lv"


def test_circled_numbers_number_a_list_only_when_there_are_two() -> None:
    assert normalize("①5分 ②没有") == "1、 5分 2、 没有"
    assert normalize("⑤") == "5"
