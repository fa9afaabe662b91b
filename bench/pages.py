"""Server time of the hot pages and API lists on the benchmark portfolio.

    DJANGO_SETTINGS_MODULE=portal.settings \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/propylon_bench \\
    python -m bench.pages [--requests 200] [--warmup 20] [--json PATH]

Requests go through Django's test ``Client`` in this process: the full middleware stack, the
views, the templates or serializers and the database, but no network and no web server. Two
people sign in: an executive, who sees the whole portfolio, and a team member, whose lists go
through the restricted-visibility path (their team's guardian grants on restricted use cases).

Every scenario is warmed up, then timed ``--requests`` times with ``time.perf_counter``, in
rounds that request each scenario once in a shuffled order (background load and periodic pauses
spread over all of them). Query
counts come from separate requests under ``CaptureQueriesContext`` so that recording queries
does not slow the timed ones; SQL time is summed per timed request with an execute wrapper.
DEBUG is forced off, as in production. The target is p95 < 150 ms per scenario with a query
count that does not depend on the size of the data (compare a run on a smaller seed).
"""

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode

TARGET_P95_MS = 150.0
SEARCH_WORD = "forecast"
# Someone starting to file the fourth "search over our documents" effort.
SIMILAR_NAME = "Internal document search assistant"
SIMILAR_PURPOSE = (
    "Employees ask questions in plain language and get answers from Confluence pages, SharePoint and "
    "the intranet, with links to the source documents, so they stop asking colleagues."
)
QUERY_COUNT_RUNS = 3
# A round in which the typical scenario ran this much slower than its own median was slowed down
# from outside (another process, the VM host): every scenario at once, for a few seconds.
DISTURBED_RATIO = 1.25


@dataclass
class Scenario:
    name: str
    persona: str
    url: str
    api: bool = False
    needs: str = ""  # a module the scenario depends on, imported before it runs


@dataclass
class Result:
    scenario: str
    persona: str
    url: str
    requests: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    p95_quiet_ms: float | None = None  # p95 leaving out the disturbed rounds
    sql_p50_ms: float | None = None
    queries: list[int] = field(default_factory=list)
    error: str = ""
    samples_ms: list[float] = field(default_factory=list, repr=False)  # every timed request, in order

    @property
    def target_met(self) -> bool | None:
        return None if self.p95_ms is None else self.p95_ms < TARGET_P95_MS


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``pct`` % of samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


#
# Setup
#


def configure() -> None:
    """Django with DEBUG off on a PostgreSQL database, or exit with the reason."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        sys.exit("bench.pages: set DJANGO_SETTINGS_MODULE=portal.settings (see bench/README.md).")
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        sys.exit(
            "bench.pages: set DATABASE_URL to the seeded PostgreSQL database, e.g. "
            "postgres://postgres@127.0.0.1:5432/propylon_bench (see bench/README.md)."
        )
    # Production runs without DEBUG; with it Django keeps every query in memory and renders
    # differently, which is not what people get.
    if os.environ.get("DEBUG", "").lower() in ("1", "true", "yes", "on"):
        print("bench.pages: DEBUG is forced off for the measurement.", file=sys.stderr)
    os.environ["DEBUG"] = "false"
    import warnings

    import django

    # WhiteNoise warns that collectstatic has not run; no static file is requested here.
    warnings.filterwarnings("ignore", message="No directory at")

    django.setup()
    from django.conf import settings
    from django.db import connection

    if settings.DEBUG or connection.vendor != "postgresql":
        sys.exit("bench.pages: needs DEBUG off and PostgreSQL.")


def portfolio_size() -> dict:
    from django.contrib.auth import get_user_model

    from inventory.models import Release, Team, UseCase
    from portal.models import AuditEntry

    return {
        "use_cases": UseCase.objects.count(),
        "releases": Release.objects.count(),
        "teams": Team.objects.count(),
        "users": get_user_model().objects.count(),
        "audit_entries": AuditEntry.objects.count(),
    }


def personas():
    """The executive and the team member who sign in, and what their scenarios point at."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q

    from inventory.choices import VisibilityChoices
    from inventory.models import Team, UseCase
    from portal.policies import PORTFOLIO_READERS
    from portal.roles import Role

    User = get_user_model()
    executive = User.objects.filter(is_active=True, groups__name=Role.EXECUTIVE).order_by("username").first()
    restricted = Q(use_cases__visibility=VisibilityChoices.RESTRICTED)
    team = (
        Team.objects.annotate(restricted=Count("use_cases", filter=restricted))
        .order_by("-restricted", "slug")
        .first()
    )
    if executive is None or team is None:
        sys.exit(
            "bench.pages: no executive or team found; seed the database first (propylon seed_benchmark)."
        )
    member = (
        team.members.filter(is_active=True, groups__name=Role.TEAM_MEMBER)
        .exclude(groups__name__in=[*PORTFOLIO_READERS, Role.TEAM_LEAD])
        .order_by("username")
        .first()
    )
    if member is None:
        sys.exit(f"bench.pages: team {team.slug} has no plain active member to sign in as.")

    def busiest(queryset):
        return queryset.annotate(release_count=Count("releases")).order_by("-release_count", "key").first()

    executive_case = busiest(UseCase.objects.filter(lifecycle_stage__key="production"))
    member_case = busiest(
        UseCase.objects.filter(owning_team=team, visibility=VisibilityChoices.RESTRICTED)
    ) or busiest(UseCase.objects.filter(owning_team=team))
    return {
        "executive": (executive, executive_case),
        "member": (member, member_case),
        "team": team,
    }


def scenarios(chosen: dict) -> list[Scenario]:
    team = chosen["team"]
    similar = urlencode({"name": SIMILAR_NAME, "purpose": SIMILAR_PURPOSE})
    found = []
    for persona in ("executive", "member"):
        _user, use_case = chosen[persona]
        detail = f"/use-cases/{use_case.key}/"
        found += [
            Scenario("Use-case list", persona, "/use-cases/"),
            Scenario("List, filtered", persona, f"/use-cases/?stage=pilot&tier=high&team={team.slug}"),
            Scenario("List, search", persona, f"/use-cases/?q={SEARCH_WORD}"),
            Scenario("List, sorted", persona, "/use-cases/?sort=-updated"),
            Scenario("List, page 50", persona, "/use-cases/?page=50"),
            Scenario("Detail, overview", persona, detail),
            Scenario("Detail, ownership", persona, f"{detail}?tab=ownership"),
            Scenario("Detail, releases", persona, f"{detail}?tab=releases"),
            Scenario("Detail, data", persona, f"{detail}?tab=data"),
            Scenario("Detail, history", persona, f"{detail}?tab=history"),
            Scenario(
                "Duplicate check",
                persona,
                f"/use-cases/similar/?{similar}",
                needs="inventory.selectors.duplicates",
            ),
            Scenario("API list", persona, "/api/use-cases/?page_size=50", api=True),
            Scenario(
                "API list, filtered",
                persona,
                "/api/use-cases/?stage=production&ai_kind=generative&sort=-updated&page_size=50",
                api=True,
            ),
        ]
    return found


#
# Measuring
#


class SqlTimer:
    """Counts and times the SQL of whatever runs inside it (a connection execute wrapper)."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def request(client, scenario: Scenario):
    headers = {"accept": "application/json"} if scenario.api else {}
    response = client.get(scenario.url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{scenario.url} answered {response.status_code}")
    return response


class Measurement:
    """One scenario's samples, filled in round by round."""

    def __init__(self, client, scenario: Scenario):
        self.client = client
        self.scenario = scenario
        self.result = Result(scenario.name, scenario.persona, scenario.url)
        self.timings: list[float] = []
        self.sql: list[float] = []

    @property
    def failed(self) -> bool:
        return bool(self.result.error)

    def _guard(self, action) -> None:
        try:
            action()
        except Exception as exc:  # a broken scenario is reported; the others still run
            self.result.error = f"{type(exc).__name__}: {exc}"[:300]

    def prepare(self) -> None:
        if self.scenario.needs:
            self._guard(lambda: __import__(self.scenario.needs))

    def warm(self) -> None:
        self._guard(lambda: request(self.client, self.scenario))

    def time_one(self) -> None:
        from django.db import connection

        def timed():
            timer = SqlTimer()
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                request(self.client, self.scenario)
                elapsed = time.perf_counter() - started
            self.timings.append(elapsed * 1000)
            self.sql.append(timer.seconds * 1000)

        self._guard(timed)

    def count_queries(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def counted():
            with CaptureQueriesContext(connection) as captured:
                request(self.client, self.scenario)
            self.result.queries.append(len(captured.captured_queries))

        for _ in range(QUERY_COUNT_RUNS):
            if not self.failed:
                self._guard(counted)

    def finish(self) -> Result:
        result = self.result
        if result.error:
            return result
        result.requests = len(self.timings)
        result.samples_ms = [round(sample, 2) for sample in self.timings]
        if self.timings:
            result.p50_ms = round(percentile(self.timings, 50), 1)
            result.p95_ms = round(percentile(self.timings, 95), 1)
            result.max_ms = round(max(self.timings), 1)
            result.mean_ms = round(statistics.fmean(self.timings), 1)
            result.sql_p50_ms = round(percentile(self.sql, 50), 1)
        return result


class GcPauses:
    """Python's full (generation 2) collections while the scenarios run: they stop the request
    that triggers them, so they show in the max and, if frequent, in the p95."""

    def __init__(self):
        self.full: list[float] = []
        self._started = 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.full.append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> dict:
        return {
            "full_collections": len(self.full),
            "median_ms": round(statistics.median(self.full), 1) if self.full else None,
            "max_ms": round(max(self.full), 1) if self.full else None,
        }


def run(measurements: list[Measurement], *, requests: int, warmup: int) -> list[Result]:
    """Warm up, then time in rounds: each round requests every scenario once, in a shuffled
    order. Rounds spread a burst of background load over all scenarios instead of ruining one;
    the shuffle keeps a periodic pause (a full garbage collection every few dozen requests)
    from landing on the same scenario round after round."""
    order = random.Random(0)  # noqa: S311  (an order, not a secret)
    for measurement in measurements:
        measurement.prepare()
    for phase, rounds, step in (
        ("warm-up", warmup, Measurement.warm),
        ("timed", requests, Measurement.time_one),
    ):
        for number in range(1, rounds + 1):
            for measurement in order.sample(measurements, len(measurements)):
                if not measurement.failed:
                    step(measurement)
            if number == rounds or number % 25 == 0:
                print(f"{phase}: round {number}/{rounds}", file=sys.stderr, flush=True)
    for measurement in measurements:
        measurement.count_queries()
    return [measurement.finish() for measurement in measurements]


def disturbed_rounds(results: list[Result]) -> list[int]:
    """Rounds in which the median scenario ran at least DISTURBED_RATIO times slower than usual,
    and every result's p95 without them. The verdict stays on the p95 of all samples."""
    timed = [result for result in results if result.samples_ms]
    if not timed:
        return []
    medians = [statistics.median(result.samples_ms) for result in timed]
    rounds = min(len(result.samples_ms) for result in timed)
    disturbed = [
        number
        for number in range(rounds)
        if statistics.median(r.samples_ms[number] / m for r, m in zip(timed, medians, strict=True))
        >= DISTURBED_RATIO
    ]
    skip = set(disturbed)
    for result in timed:
        quiet = [sample for number, sample in enumerate(result.samples_ms) if number not in skip]
        result.p95_quiet_ms = round(percentile(quiet, 95), 1) if quiet else None
    return disturbed


def cold_duplicate_check(client, scenario: Scenario) -> float | None:
    """The first duplicate check in a process builds the TF-IDF index: one request, timed."""
    try:
        from inventory.selectors.duplicates import clear_cache
    except Exception:  # the scenario itself reports the error
        return None
    clear_cache()
    started = time.perf_counter()
    try:
        request(client, scenario)
    except Exception:
        return None
    return round((time.perf_counter() - started) * 1000, 1)


#
# Reporting
#


def machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0]
    memory_kb = 0
    try:
        with open("/proc/meminfo") as meminfo:
            memory_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": server,
    }


def fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(results: list[Result]) -> str:
    lines = [
        "| Scenario | Persona | p50 ms | p95 ms | max ms | p95 quiet ms | SQL p50 ms | Queries | p95 < 150 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        if result.error:
            lines.append(
                f"| {result.scenario} | {result.persona} | - | - | - | - | - | - | not run: {result.error} |"
            )
            continue
        low, high = min(result.queries), max(result.queries)
        queries = str(low) if low == high else f"{low}-{high}"
        if result.p95_ms is None:
            verdict = "-"  # --requests 0: query counts only
        else:
            verdict = "yes" if result.target_met else f"**no** (+{result.p95_ms - TARGET_P95_MS:.0f} ms)"
        lines.append(
            f"| {result.scenario} | {result.persona} | {fmt(result.p50_ms)} | {fmt(result.p95_ms)} | "
            f"{fmt(result.max_ms)} | {fmt(result.p95_quiet_ms)} | {fmt(result.sql_p50_ms)} | {queries} | "
            f"{verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=200, help="Timed requests per scenario (default 200)."
    )
    parser.add_argument("--warmup", type=int, default=20, help="Untimed requests first (default 20).")
    parser.add_argument("--json", metavar="PATH", help="Also write the results as JSON to PATH.")
    parser.add_argument("--only", metavar="TEXT", help="Run only scenarios whose name contains TEXT.")
    args = parser.parse_args(argv)
    if args.requests < 0 or args.warmup < 0:
        parser.error("--requests and --warmup must not be negative")

    configure()
    from django.test import Client

    size = portfolio_size()
    chosen = personas()
    clients = {}
    for persona in ("executive", "member"):
        clients[persona] = Client()
        # Signs in as a person does (the sign-in is recorded in the audit trail like any other).
        clients[persona].force_login(chosen[persona][0])
    plan = [s for s in scenarios(chosen) if not args.only or args.only.lower() in s.name.lower()]

    started = time.perf_counter()
    cold_ms = None
    duplicate_checks = [s for s in plan if s.needs == "inventory.selectors.duplicates"]
    if duplicate_checks:
        cold_ms = cold_duplicate_check(clients[duplicate_checks[0].persona], duplicate_checks[0])
    load_before = os.getloadavg()
    measurements = [Measurement(clients[scenario.persona], scenario) for scenario in plan]
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    try:
        results = run(measurements, requests=args.requests, warmup=args.warmup)
    finally:
        gc.callbacks.remove(gc_pauses)
    load_after = os.getloadavg()
    disturbed = disturbed_rounds(results)
    elapsed = time.perf_counter() - started

    meta = {
        "machine": machine(),
        "portfolio": size,
        "requests": args.requests,
        "warmup": args.warmup,
        "executive": chosen["executive"][0].username,
        "member": chosen["member"][0].username,
        "member_team": chosen["team"].slug,
        "executive_use_case": chosen["executive"][1].key,
        "member_use_case": chosen["member"][1].key,
        "duplicate_check_cold_ms": cold_ms,
        "elapsed_s": round(elapsed, 1),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load_after],
        "disturbed_rounds": disturbed,
        "gc": gc_pauses.summary(),
        "target_p95_ms": TARGET_P95_MS,
    }
    print(
        f"Portfolio: {size['use_cases']:,} use cases, {size['releases']:,} releases, {size['teams']:,} teams, "
        f"{size['users']:,} people. {args.requests} timed requests per scenario after {args.warmup} warm-up, "
        f"DEBUG off, {meta['machine']['cpus']} CPUs."
    )
    print(
        f"Executive: {meta['executive']} (detail {meta['executive_use_case']}); team member: {meta['member']} "
        f"of {meta['member_team']} (detail {meta['member_use_case']}, restricted)."
    )
    print(
        "Load average (1, 5, 15 min) before: {}; after: {}.".format(
            ", ".join(f"{v:.2f}" for v in load_before), ", ".join(f"{v:.2f}" for v in load_after)
        )
    )
    if cold_ms is not None:
        print(f"Duplicate check, first request in the process (builds the index): {cold_ms:.0f} ms.")
    print(
        f"Disturbed rounds: {len(disturbed)} of {args.requests} (the median scenario ran at least "
        f'{DISTURBED_RATIO}x slower than usual: a slowdown of the whole machine). "p95 quiet" leaves '
        "them out; the verdict uses every sample."
    )
    pauses = gc_pauses.summary()
    if pauses["full_collections"]:
        print(
            f"Python GC: {pauses['full_collections']} full collections during the run, median "
            f"{pauses['median_ms']} ms, max {pauses['max_ms']} ms (each stops the request that triggers it)."
        )
    print()
    print(markdown(results))
    met = [r for r in results if not r.error and r.target_met]
    measured = [r for r in results if not r.error]
    print()
    print(
        f"{len(met)} of {len(measured)} measured scenarios meet p95 < {TARGET_P95_MS:.0f} ms ({elapsed:.0f} s)."
    )
    if args.json:
        with open(args.json, "w") as output:
            payload = {"meta": meta, "results": [asdict(r) | {"target_met": r.target_met} for r in results]}
            json.dump(payload, output, indent=2)
    return 0 if len(met) == len(measured) and len(measured) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
