"""The audit checks every app contributes, and what a check reports.

An app registers its checks from its ``AppConfig.ready()``; approvals' audit runs execute them
(``approvals.services.audits``) and turn what they report into findings::

    @register_check(
        id="orphaned-owner",
        title="Use case without an active accountable owner",
        severity=SeverityChoices.HIGH,
        controls=("ownership.accountable_owner",),
    )
    def orphaned_owner(scope: AuditScope) -> Iterable[Observation]: ...

A check runs a fixed number of queries whatever the size of the portfolio (no query per use
case) and yields one :class:`Observation` per subject whose condition holds *now*. The audit run
keys each observation by ``(check id, subject_key)``: an observation seen again updates its
finding, one no longer reported resolves it. ``subject_key`` must therefore be stable across
runs (a use case key, a pair of keys sorted, a source and a month) and never include the time.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from portal.choices import SeverityChoices


@dataclass(frozen=True)
class AuditScope:
    """What one run looks at: the whole portfolio, or one use case (``use_case_id``)."""

    use_case_id: int | None = None
    # The moment the run judges ("expires within 14 days of now"); aware UTC.
    now: Any = None

    @property
    def is_portfolio(self) -> bool:
        return self.use_case_id is None


@dataclass(frozen=True)
class Observation:
    """One subject for which a check's condition holds.

    ``use_case_id`` ties the finding to a use case (its owner owns the finding, its readers see
    it); a finding without one (unallocated spend of a source) belongs to the CoE. ``owner_id``
    overrides the owner: ``None`` with ``use_case_id`` set means "the use case's accountable
    owner"; set ``owned_by_coe`` when nobody on the team can act (an orphaned use case).
    """

    subject_key: str
    title: str
    detail: str = ""
    use_case_id: int | None = None
    owner_id: int | None = None
    owned_by_coe: bool = False
    link: str = ""
    severity: str | None = None  # overrides the check's severity for this subject
    data: dict = field(default_factory=dict)


CheckFunction = Callable[[AuditScope], Iterable[Observation]]


@dataclass(frozen=True)
class AuditCheck:
    id: str
    title: str
    severity: str
    description: str
    controls: tuple[str, ...]
    run: CheckFunction
    # A check that reads only portfolio-wide facts (a cost source's unallocated share) runs in
    # portfolio runs only; a run for one use case skips it and leaves its findings alone.
    per_use_case: bool = True


_CHECKS: dict[str, AuditCheck] = {}


def register_check(
    *,
    id: str,
    title: str,
    severity: str,
    controls: Iterable[str] = (),
    description: str = "",
    per_use_case: bool = True,
) -> Callable[[CheckFunction], CheckFunction]:
    if severity not in SeverityChoices.values():
        raise ValueError(f"Audit check {id!r}: unknown severity {severity!r}.")

    def decorator(run: CheckFunction) -> CheckFunction:
        if id in _CHECKS and _CHECKS[id].run is not run:
            raise ValueError(f"An audit check {id!r} is already registered.")
        _CHECKS[id] = AuditCheck(
            id=id,
            title=title,
            severity=severity,
            description=description or (run.__doc__ or "").strip().split("\n")[0],
            controls=tuple(controls),
            run=run,
            per_use_case=per_use_case,
        )
        return run

    return decorator


def checks() -> list[AuditCheck]:
    return sorted(_CHECKS.values(), key=lambda check: (SeverityChoices.RANK[check.severity], check.id))


def check_for(check_id: str) -> AuditCheck | None:
    return _CHECKS.get(check_id)
