"""The nightly audit over the DESIGN.md §6 portfolio: how long it takes and how many queries.

    createdb -h 127.0.0.1 -U postgres propylon_bench_audit
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/propylon_bench_audit
    propylon migrate
    DJANGO_SETTINGS_MODULE=portal.settings python -m bench.audit_nightly [--json PATH]

On an empty, migrated PostgreSQL database of its own, the harness:

1. seeds the small portfolio (``--small``, default 1,000 use cases, with teams, people and
   releases in the §6 proportions) through ``bench/seed.py``;
2. measures the anchor (the use-case list page as an executive, the ``bench.pages`` scenario
   whose figures docs/benchmarks.md records), then runs ``audit_run_execute`` over the
   portfolio twice: the first run opens every finding, the second sees them all again;
3. empties the findings, seeds the rest of the large portfolio (``--large``, default 5,000 use
   cases) next to the first, and measures the anchor and the two runs again.

Each run reports wall seconds, the queries the engine and the checks sent, and apart from them
the audit trail's (one entry per finding created or changed: ``portal.audit.record``). The
anchor, measured in the same process minutes before, is what to compare across machines and
days: a run that took twice as long beside an anchor that also doubled is the machine.

Checks: every check the installed apps register runs. With none registered (or with
``--stand-in-checks``), the harness registers three stand-ins of realistic shape and size (an
orphaned-owner check, a use case without KPIs, one finding per frozen release) so the engine
is measured on a realistic number of findings; the report says which checks ran.

Background jobs are not run in this process: ``CELERY_BROKER_URL`` is set to an in-memory
broker nobody consumes, so the owners' notifications are recorded and queued, not mailed.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

TARGET_SECONDS = 60.0  # DESIGN.md §6 / issue 12: the nightly audit of 5,000 use cases
ANCHOR_URL = "/use-cases/"
ANCHOR_REQUESTS = 20
ANCHOR_WARMUP = 3


@dataclass
class Measurement:
    label: str
    seconds: float
    queries: int  # the engine's and the checks' queries
    trail_queries: int  # the audit trail's (portal_auditentry and its chain lock)
    counts: dict = field(default_factory=dict)


@dataclass
class SizeResult:
    use_cases: int
    findings_after: int
    anchor_p50_ms: float
    anchor_queries: int
    runs: list[Measurement] = field(default_factory=list)
    # check id → (queries, seconds) of one call over the portfolio, outside any run
    checks: dict[str, tuple[int, float]] = field(default_factory=dict)


def configure() -> None:
    """Django with DEBUG off on PostgreSQL, background jobs queued in memory, or exit."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        sys.exit("bench.audit_nightly: set DJANGO_SETTINGS_MODULE=portal.settings (see bench/README.md).")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://", "pgsql://")):
        sys.exit(
            "bench.audit_nightly: set DATABASE_URL to an empty, migrated PostgreSQL database of its own, e.g. "
            "postgres://postgres@127.0.0.1:5432/propylon_bench_audit (see bench/README.md)."
        )
    if os.environ.get("DEBUG", "").lower() in ("1", "true", "yes", "on"):
        print("bench.audit_nightly: DEBUG is forced off for the measurement.", file=sys.stderr)
    os.environ["DEBUG"] = "false"
    # Notifications (and anything else queued) go to a broker nobody reads.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    django.setup()
    from django.conf import settings
    from django.db import connection

    if settings.DEBUG or connection.vendor != "postgresql":
        sys.exit("bench.audit_nightly: needs DEBUG off and PostgreSQL.")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        sys.exit("bench.audit_nightly: background jobs would run eagerly; expected the in-memory broker.")


#
# Stand-in checks (only when no real check is registered, or asked for)
#


def register_stand_in_checks() -> list[str]:
    from django.db.models import Exists, OuterRef

    from inventory.models import Kpi, Release, UseCase
    from portal.auditing import AuditScope, Observation, register_check
    from portal.choices import SeverityChoices

    def scoped(queryset, scope: AuditScope, field_name: str = "pk"):
        return queryset if scope.is_portfolio else queryset.filter(**{field_name: scope.use_case_id})

    @register_check(
        id="bench-orphaned-owner",
        title="Stand-in: use case without an active accountable owner",
        severity=SeverityChoices.HIGH,
        controls=("ownership.accountable_owner",),
    )
    def orphaned(scope):
        for pk, key in scoped(UseCase.objects.orphaned(), scope).values_list("pk", "key"):
            yield Observation(
                subject_key=key, title=f"{key} has no active owner", use_case_id=pk, owned_by_coe=True
            )

    @register_check(
        id="bench-no-kpi",
        title="Stand-in: use case without a KPI",
        severity=SeverityChoices.LOW,
        controls=("documentation.kpis",),
    )
    def without_kpi(scope):
        rows = UseCase.objects.filter(~Exists(Kpi.objects.filter(use_case=OuterRef("pk"))))
        for pk, key in scoped(rows, scope).values_list("pk", "key"):
            yield Observation(
                subject_key=key, title=f"{key} names no KPI", use_case_id=pk, link=f"/use-cases/{key}/"
            )

    @register_check(
        id="bench-frozen-release",
        title="Stand-in: one finding per frozen release",
        severity=SeverityChoices.MEDIUM,
        controls=("release_rollback.release_pinned",),
    )
    def frozen(scope):
        rows = scoped(Release.objects.filter(frozen_at__isnull=False), scope, "use_case_id")
        for pk, version, use_case_id, key in rows.values_list(
            "pk", "version", "use_case_id", "use_case__key"
        ):
            yield Observation(
                subject_key=f"{key}:{pk}",
                title=f"{key} release {version} is frozen",
                use_case_id=use_case_id,
                data={"release": pk},
            )

    return ["bench-orphaned-owner", "bench-no-kpi", "bench-frozen-release"]


#
# Measuring
#


class QueryCounter:
    """Counts the statements sent through Django (an execute wrapper: no query text is kept,
    unlike CaptureQueriesContext), the audit trail's apart: its entries (``portal_auditentry``),
    the chain's lock, and the savepoint each ``record()`` opens and releases."""

    def __init__(self):
        from portal.audit import AUDIT_CHAIN_LOCK_KEY

        self.chain_lock = AUDIT_CHAIN_LOCK_KEY
        self.queries = 0
        self.trail = 0

    def __call__(self, execute, sql, params, many, context):
        chain_lock = "pg_advisory_xact_lock" in sql and bool(params) and params[0] == self.chain_lock
        if "portal_auditentry" in sql or chain_lock or "SAVEPOINT" in sql:
            self.trail += 1
        else:
            self.queries += 1
        return execute(sql, params, many, context)


def run_audit_once(label: str) -> Measurement:
    import gc

    from django.db import connection

    from approvals.services.audits import audit_run_create, audit_run_execute
    from portal.choices import ChannelChoices

    run = audit_run_create(actor=None, use_case=None, channel=ChannelChoices.COMMAND)
    counter = QueryCounter()
    gc.collect()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        run = audit_run_execute(run)
    seconds = time.perf_counter() - started
    counts = {name: run.counts[name] for name in ("observed", "opened", "reopened", "updated", "cleared")}
    counts["errors"] = run.counts["errors"]
    return Measurement(
        label=label, seconds=seconds, queries=counter.queries, trail_queries=counter.trail, counts=counts
    )


def anchor() -> tuple[float, int]:
    """The use-case list as an executive: p50 ms of ANCHOR_REQUESTS requests, and its queries."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.roles import Role

    executive = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.EXECUTIVE)
        .order_by("username")
        .first()
    )
    if executive is None:
        sys.exit("bench.audit_nightly: the seeded portfolio has no executive to sign in as.")
    client = Client()
    client.force_login(executive)
    for _ in range(ANCHOR_WARMUP):
        client.get(ANCHOR_URL)
    samples = []
    for _ in range(ANCHOR_REQUESTS):
        started = time.perf_counter()
        response = client.get(ANCHOR_URL)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"bench.audit_nightly: the anchor page answered {response.status_code}.")
    with CaptureQueriesContext(connection) as captured:
        client.get(ANCHOR_URL)
    return statistics.median(samples), len(captured)


def seed(*, use_cases: int, force: bool) -> None:
    from django.core.management import call_command

    from bench.seed import Command as SeedCommand

    # §6 proportions: 400 teams, 2,000 people and 50,000 releases for 5,000 use cases.
    call_command(
        SeedCommand(),
        use_cases=use_cases,
        teams=max(1, use_cases * 400 // 5000),
        users=max(10, use_cases * 2000 // 5000),
        releases=use_cases * 10,
        force=force,
        stdout=open(os.devnull, "w"),  # noqa: SIM115 - the seed's own progress lines are not the report
    )


def empty_findings() -> None:
    """Start the large size from no findings, like the small one. TRUNCATE, not delete(): the
    audit's delete receivers would record each of tens of thousands of rows first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE approvals_findingevent, approvals_finding")


def measure_size() -> SizeResult:
    from approvals.models import Finding
    from inventory.models import UseCase

    anchor_ms, anchor_queries = anchor()
    result = SizeResult(
        use_cases=UseCase.objects.count(),
        findings_after=0,
        anchor_p50_ms=anchor_ms,
        anchor_queries=anchor_queries,
    )
    result.runs.append(run_audit_once("first run (opens)"))
    result.runs.append(run_audit_once("second run (sees again)"))
    result.findings_after = Finding.objects.count()
    result.checks = measure_checks()
    return result


def measure_checks() -> dict[str, tuple[int, float]]:
    """Each registered check alone over the portfolio: its queries and seconds (what it costs a
    run before the engine writes anything)."""
    from django.db import connection
    from django.utils import timezone

    from portal.auditing import AuditScope, checks

    scope = AuditScope(use_case_id=None, now=timezone.now())
    measured = {}
    for check in checks():
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            try:
                list(check.run(scope))
            except Exception as exc:  # reported, not fatal: the run reports it too
                print(f"Check {check.id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        measured[check.id] = (counter.queries, time.perf_counter() - started)
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000, help="Use cases of the small portfolio (1000).")
    parser.add_argument("--large", type=int, default=5000, help="Use cases of the large portfolio (5000).")
    parser.add_argument(
        "--stand-in-checks", action="store_true", help="Add the stand-in checks to the real ones."
    )
    parser.add_argument("--json", metavar="PATH", help="Also write the results as JSON.")
    options = parser.parse_args(argv)
    if not 0 < options.small < options.large:
        sys.exit("bench.audit_nightly: --small must be above 0 and below --large.")
    configure()

    from approvals.models import Finding
    from inventory.models import UseCase
    from portal.auditing import checks

    if UseCase._base_manager.exists() or Finding.objects.exists():
        sys.exit(
            "bench.audit_nightly: the database already has use cases or findings. Run it on an empty, migrated "
            "database of its own (createdb, propylon migrate; see bench/README.md)."
        )
    real = [check.id for check in checks()]
    stand_ins = register_stand_in_checks() if options.stand_in_checks or not real else []
    print(
        f"Checks: {', '.join(real) or 'none registered'}"
        + (f"; stand-ins: {', '.join(stand_ins)}" if stand_ins else "")
    )

    started = time.perf_counter()
    seed(use_cases=options.small, force=False)
    print(f"Seeded {options.small:,} use cases in {time.perf_counter() - started:.1f} s.")
    small = measure_size()
    empty_findings()
    started = time.perf_counter()
    seed(use_cases=options.large - options.small, force=True)
    print(
        f"Seeded {options.large - options.small:,} more use cases in {time.perf_counter() - started:.1f} s."
    )
    large = measure_size()

    report(small, large, real=real, stand_ins=stand_ins)
    if options.json:
        payload = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "checks": real,
            "stand_in_checks": stand_ins,
            "target_seconds": TARGET_SECONDS,
            "sizes": [asdict(small), asdict(large)],
        }
        with open(options.json, "w") as handle:
            json.dump(payload, handle, indent=2)


def report(small: SizeResult, large: SizeResult, *, real: list[str], stand_ins: list[str]) -> None:
    print()
    print(
        "| Use cases | Run | Seconds | Queries | Trail queries | Observed | Opened | Seen again | Anchor p50 ms | Anchor queries |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (small, large):
        for run in size.runs:
            print(
                f"| {size.use_cases:,} | {run.label} | {run.seconds:.1f} | {run.queries} | {run.trail_queries:,} | "
                f"{run.counts['observed']:,} | {run.counts['opened']:,} | {run.counts['updated']:,} | "
                f"{size.anchor_p50_ms:.1f} | {size.anchor_queries} |"
            )
    print()
    print(f"| Check | Queries, {small.use_cases:,} | Queries, {large.use_cases:,} | Seconds, {small.use_cases:,} | "
          f"Seconds, {large.use_cases:,} |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for check_id, (queries, seconds) in large.checks.items():
        before = small.checks.get(check_id, (0, 0.0))
        print(f"| {check_id} | {before[0]} | {queries} | {before[1]:.2f} | {seconds:.2f} |")
    errors = {
        check: error
        for size in (small, large)
        for run in size.runs
        for check, error in run.counts["errors"].items()
    }
    if errors:
        print(f"Checks that failed: {errors}")
    worst = max(run.seconds for run in large.runs)
    grows = [
        f"{a.label}: {a.queries} at {small.use_cases:,}, {b.queries} at {large.use_cases:,}"
        for a, b in zip(small.runs, large.runs, strict=True)
        if b.queries > a.queries
    ]
    print()
    print(f"Target: under {TARGET_SECONDS:.0f} s at {large.use_cases:,} use cases: {'met' if worst < TARGET_SECONDS else 'MISSED'} "
          f"(slowest run {worst:.1f} s).")  # fmt: skip
    print(
        "Engine and check queries do not grow with the portfolio."
        if not grows
        else "Queries grow: " + "; ".join(grows)
    )


if __name__ == "__main__":
    main()
