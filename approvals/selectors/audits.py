"""Reads of audit runs that reach a person, and the catalogue of registered checks. Every query
of runs starts from ``restrict()``: portfolio runs are for the portfolio's overseers, a run of
one use case for whoever reads that use case (approvals.policies)."""

from dataclasses import dataclass

from django.db.models import QuerySet

from approvals.models import AuditRun
from portal.auditing import AuditCheck, check_for, checks
from portal.choices import JobStatusChoices, SeverityChoices
from portal.models import JobRun
from portal.permissions import Action, get_restricted_object_or_404, restrict

RUN_RELATED = ("use_case", "requested_by", "job_run")

SCOPES = (("", "Any scope"), ("portfolio", "The portfolio"), ("use-case", "One use case"))


def audit_runs_visible_to(user) -> QuerySet:
    return restrict(AuditRun.objects.select_related(*RUN_RELATED), user, Action.VIEW)


def audit_run_list(*, user, scope: str = "", status: str = "", use_case_key: str = "") -> QuerySet:
    """The runs page's and the API list's rows, newest first."""
    runs = audit_runs_visible_to(user)
    if scope == "portfolio":
        runs = runs.filter(use_case__isnull=True)
    elif scope == "use-case":
        runs = runs.filter(use_case__isnull=False)
    if use_case_key:
        runs = runs.filter(use_case__key=use_case_key.strip().upper())
    if status in JobStatusChoices.values():
        runs = runs.filter(status=status)
    return runs.order_by("-started_at", "-pk")


def audit_run_for(*, user, pk: int) -> AuditRun:
    return get_restricted_object_or_404(AuditRun.objects.select_related(*RUN_RELATED), user, pk=pk)


def visible_job_ids(*, user, runs) -> set[int]:
    """Of these runs' jobs, those the person may open (/jobs/<id>/): one query for a page."""
    ids = [run.job_run_id for run in runs if run.job_run_id]
    if not ids:
        return set()
    return set(restrict(JobRun.objects.filter(pk__in=ids), user, Action.VIEW).values_list("pk", flat=True))


@dataclass(frozen=True)
class CatalogueEntry:
    """A registered check as pages and the API show it."""

    id: str
    title: str
    severity: str
    description: str
    controls: tuple[str, ...]
    per_use_case: bool

    @classmethod
    def of(cls, check: AuditCheck) -> "CatalogueEntry":
        return cls(
            id=check.id,
            title=check.title,
            severity=check.severity,
            description=check.description,
            controls=check.controls,
            per_use_case=check.per_use_case,
        )

    @property
    def severity_label(self) -> str:
        return SeverityChoices.label(self.severity)

    @property
    def severity_colour(self) -> str:
        return SeverityChoices.colour(self.severity)


def check_catalogue() -> list[CatalogueEntry]:
    """Every registered check, most severe first."""
    return [CatalogueEntry.of(check) for check in checks()]


@dataclass(frozen=True)
class CheckOutcome:
    id: str
    check: AuditCheck | None  # None: the check is no longer registered
    observed: int
    opened: int
    cleared: int
    error: str

    @property
    def title(self) -> str:
        return self.check.title if self.check else self.id

    @property
    def severity_label(self) -> str:
        return SeverityChoices.label(self.check.severity) if self.check else "—"

    @property
    def severity_colour(self) -> str:
        return SeverityChoices.colour(self.check.severity) if self.check else "grey"


def check_outcomes(run: AuditRun) -> list[CheckOutcome]:
    """What each check of the run found, in the order it ran."""
    per_check = run.counts.get("per_check", {})
    errors = run.counts.get("errors", {})
    outcomes = []
    for check_id in run.checks_run:
        row = per_check.get(check_id, {})
        outcomes.append(
            CheckOutcome(
                id=check_id,
                check=check_for(check_id),
                observed=row.get("observed", 0),
                opened=row.get("opened", 0),
                cleared=row.get("cleared", 0),
                error=errors.get(check_id, ""),
            )
        )
    return outcomes
