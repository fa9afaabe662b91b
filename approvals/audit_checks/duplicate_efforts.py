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
"""

from collections.abc import Iterator

from django.urls import reverse

from approvals.audit_checks.common import governed_use_cases
from inventory.selectors.duplicates import DEFAULT_THRESHOLD, current_index
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


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
    pairs = [
        (first, second, score)
        for first, second, score in index.pairs(DEFAULT_THRESHOLD)
        if not index.is_not_duplicate(first, second)
        and (scope.is_portfolio or scope.use_case_id in (first, second))
    ]
    if not pairs:
        return
    # Retired and rejected use cases are no longer efforts; the scope is applied to the pairs.
    rows = governed_use_cases(AuditScope())
    if not scope.is_portfolio:  # a few pairs; the portfolio reads every row rather than a huge IN list
        rows = rows.filter(pk__in={pk for pair in pairs for pk in pair[:2]})
    use_cases = {row["pk"]: row for row in rows.values("pk", "key", "name", "owning_team__name")}
    link = reverse("inventory:usecase-duplicates")
    for first_pk, second_pk, score in pairs:
        first, second = use_cases.get(first_pk), use_cases.get(second_pk)
        if first is None or second is None:
            continue
        first, second = sorted((first, second), key=lambda row: row["key"])
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
