"""Hostile input over HTTP: every endpoint answers 4xx (never 5xx), promptly, and invalid
input writes nothing. Generated requests (hypothesis, tests/fuzz.py) plus the classes the
hardening issue found, as fixed cases. ``bench/fuzz.py`` runs the same for tens of thousands.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz import Harness, Req, any_request, regression_cases

EXAMPLES = 300
# wechatpy's encryption (inside the WeChat strategies) draws its padding from `random`.
pytestmark = pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisDeprecationWarning")


@pytest.fixture
def harness(db_url: str) -> Iterator[Harness]:
    h = Harness(db_url).start()
    try:
        yield h
    finally:
        h.stop()


def judge(h: Harness, req: Req) -> str | None:
    """Why this request's answer breaks a rule (None when it keeps them)."""
    out = h.send(req)
    if out.hung:
        return f"no answer within the timeout: {req}"
    assert out.status is not None
    if out.status >= 500:
        return f"{out.status} for {req}"
    if out.rows_changed:
        return f"invalid input wrote rows {out.rows_changed}: {req}"
    return None


def test_the_issues_cases_get_a_4xx_and_write_nothing(harness: Harness) -> None:
    problems = []
    for name, req, allowed in regression_cases(harness):
        out = harness.send(req)
        if out.status not in allowed or out.rows_changed:
            problems.append(f"{name}: {out.status} (allowed {sorted(allowed)}), "
                            f"rows {out.rows_changed}")
    assert not problems, "\n".join(problems)


def test_generated_hostile_requests_to_every_endpoint(harness: Harness) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(req=any_request(harness))
    def one(req: Req) -> None:
        problem = judge(harness, req)
        assert problem is None, problem

    one()
