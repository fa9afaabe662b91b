"""Audit checks for testing the run machinery: what each reports is set by the test.

The registry is replaced for the test (the real checks other modules register are not run), so
a test sees exactly the checks it made."""

from types import SimpleNamespace

import pytest

from portal import auditing
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


class ControlledCheck:
    """A check reporting the observations the test gave it (those of the run's use case, when
    the run is scoped), or raising ``error``."""

    def __init__(self):
        self.observations: list[Observation] = []
        self.error: Exception | None = None
        self.calls = 0

    def report(self, *observations: Observation) -> None:
        self.observations = list(observations)

    def __call__(self, scope: AuditScope):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return [
            observation
            for observation in self.observations
            if scope.is_portfolio or observation.use_case_id == scope.use_case_id
        ]


def about(use_case, suffix: str = "", **fields) -> Observation:
    """An observation about ``use_case`` (its key is the subject)."""
    return Observation(
        subject_key=use_case.key + suffix,
        title=fields.pop("title", f"{use_case.key} needs attention"),
        use_case_id=use_case.pk,
        link=f"/use-cases/{use_case.key}/",
        **fields,
    )


@pytest.fixture
def audit_checks(monkeypatch):
    monkeypatch.setattr(auditing, "_CHECKS", {})
    made = SimpleNamespace(owner=ControlledCheck(), signal=ControlledCheck(), spend=ControlledCheck())
    register_check(
        id="test-owner",
        title="Test: the owner is gone",
        severity=SeverityChoices.HIGH,
        controls=("ownership.accountable_owner",),
        description="A test check about owners.",
    )(made.owner)
    register_check(id="test-signal", title="Test: no signal", severity=SeverityChoices.MEDIUM)(made.signal)
    register_check(
        id="test-spend", title="Test: unallocated spend", severity=SeverityChoices.LOW, per_use_case=False
    )(made.spend)
    return made
