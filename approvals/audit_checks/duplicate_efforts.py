"""duplicate-efforts: two use cases that likely describe one effort.

The pairs come from inventory's duplicate index (``inventory.selectors.duplicates``), built
once per process and reused while the catalog is unchanged: a handful of queries whatever the
portfolio size, never a similarity search per use case. One observation per pair, not per
cluster: three doc-search efforts are three pairs, and marking one pair "not a duplicate" clears
exactly that finding.

Owner: the CoE. A duplicate spans two teams, and neither owner can settle it alone: merging the
efforts, or agreeing they differ, takes both teams and the portfolio view the CoE has. The finding
hangs off the older use case (the lower key), so its readers see it on its Findings tab; both
keys are in the subject and the data.

Bounded: a pair is reported when it is among the ``CLOSEST_PARTNERS`` best matches of either of
its use cases. Three teams building one thing give three pairs; a use case that looks like eighty
others (the synthetic benchmark portfolio has 200,000 pairs among 5,000 use cases) gives its
closest few, not eighty findings: the duplicates page shows the whole cluster.
"""

from collections import Counter
from collections.abc import Iterator

from django.urls import reverse

from approvals.audit_checks.common import governed_use_cases
from inventory.selectors.duplicates import DEFAULT_THRESHOLD, current_index
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices

CLOSEST_PARTNERS = 3


@register_check(
    id="duplicate-efforts",
    title="Likely duplicate efforts",
    severity=SeverityChoices.MEDIUM,
    controls=(),
    description="Two use cases describe what looks like the same effort (duplicate detection): merge "
    "them, or mark them as not duplicates on the duplicates page.",
)
def duplicate_efforts(scope: AuditScope) -> Iterator[Observation]:
    index = current_index()
    # Retired and rejected use cases are no longer efforts. Every governed row is read (one query,
    # a few columns) even for one use case: the closest partners are ranked over the portfolio.
    use_cases = {
        row["pk"]: row
        for row in governed_use_cases(AuditScope()).values("pk", "key", "name", "owning_team__name")
    }
    ranked: Counter[int] = Counter()
    pairs = []
    for first, second, score in index.pairs(DEFAULT_THRESHOLD):  # best first
        if first not in use_cases or second not in use_cases or index.is_not_duplicate(first, second):
            continue
        closest = ranked[first] < CLOSEST_PARTNERS or ranked[second] < CLOSEST_PARTNERS
        ranked.update((first, second))
        if closest and (scope.is_portfolio or scope.use_case_id in (first, second)):
            pairs.append((first, second, score))
    link = reverse("inventory:usecase-duplicates")
    for first_pk, second_pk, score in pairs:
        first, second = sorted((use_cases[first_pk], use_cases[second_pk]), key=lambda row: row["key"])
        teams = sorted({first["owning_team__name"], second["owning_team__name"]})
        who = f"{teams[0]} and {teams[1]} describe" if len(teams) == 2 else f"{teams[0]} describes twice"
        yield Observation(
            subject_key=f"{first['key']}+{second['key']}",
            title=f"{first['key']} {first['name']} and {second['key']} {second['name']} look like one effort",
            detail=(
                f"{who} similar work "
                f"(similarity {score:.2f}; shared: {', '.join(index.shared_terms(first_pk, second_pk))}). "
                "Talk, then merge the efforts or mark the pair as not duplicates."
            ),
            use_case_id=first["pk"],
            owned_by_coe=True,
            link=link,
            data={"use_cases": [first["key"], second["key"]], "score": round(score, 2)},
        )
