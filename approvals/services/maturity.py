"""Maturity writes: saving an assessment, evidence and the recompute triggers.

The rubric is data (:mod:`approvals.catalogs.maturity`); verifiers and scoring are reads
(:mod:`approvals.selectors.maturity`). Here:

* **services** (keyword-only, callers check permissions): :func:`maturity_assess`,
  :func:`evidence_add`, :func:`evidence_withdraw`;
* the **recompute triggers** (saving a use case's facts asks for a recompute after commit)
  are signal receivers in :mod:`approvals.signals`.
"""

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals.catalogs import maturity as catalog
from approvals.catalogs.maturity import LEVELS, Level, level_for  # noqa: F401  (public interface)
from approvals.choices import AssessmentTriggerChoices, EvidenceKindChoices
from approvals.models import (
    EVIDENCE_FILE_EXTENSIONS,
    EVIDENCE_FILE_MAX_BYTES,
    MaturityAssessment,
    MaturityEvidence,
)
from approvals.selectors.maturity import compute, latest_assessment
from inventory.models import UseCase

NOTE_MAX_LENGTH = 5000


@transaction.atomic
def maturity_assess(*, use_case, actor=None, trigger: str) -> MaturityAssessment:
    """Score the use case and save the result as its next version — unless nothing changed since
    the latest version and no person asked (then the latest is returned: recomputing is
    idempotent)."""

    if trigger not in AssessmentTriggerChoices.values():
        raise ValidationError(
            {
                "trigger": f"Unknown trigger {trigger!r}; use one of {', '.join(AssessmentTriggerChoices.values())}."
            }
        )
    # Two recomputes at once would both read the same latest version: the row lock on the use
    # case serialises them (the unique constraint would otherwise refuse the second). Only the
    # use case's row: the owner and team joined in for reading stay unlocked.
    locked = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("accountable_owner", "owning_team")
        .get(pk=use_case.pk)
    )
    computation = compute(locked)
    latest = latest_assessment(locked)
    unchanged = latest is not None and computation.fingerprint() == (
        latest.rubric_version,
        latest.scores,
        latest.results,
        latest.evidence_ids,
    )
    if unchanged and trigger != AssessmentTriggerChoices.MANUAL:
        return latest
    assessment = MaturityAssessment(
        use_case=locked,
        version=(MaturityAssessment.objects.filter(use_case=locked).aggregate(v=Max("version"))["v"] or 0)
        + 1,
        rubric_version=catalog.RUBRIC_VERSION,
        readiness=computation.readiness,
        level=computation.level.number,
        scores=computation.scores,
        results=computation.results,
        evidence_ids=computation.evidence_ids,
        trigger=trigger,
        assessed_by=actor if getattr(actor, "is_authenticated", False) else None,
        assessed_at=timezone.now(),
    )
    assessment.full_clean()
    assessment.save()
    return assessment


#
# Evidence
#


def _canonical_text(text: str) -> str:
    return "\n".join(
        line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")
    )


def _file_digest(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


# What the first bytes of binary formats must be: a renamed executable or HTML page is refused
# even with an accepted extension. Text formats (txt, md, csv, json) have no signature.
FILE_SIGNATURES = {
    "pdf": (b"%PDF",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
}


def _check_file(upload) -> None:
    name = getattr(upload, "name", "") or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EVIDENCE_FILE_EXTENSIONS:
        raise ValidationError(
            {
                "file": f"“{name}” is not an accepted type; attach one of: {', '.join(EVIDENCE_FILE_EXTENSIONS)}."
            }
        )
    size = getattr(upload, "size", None) or 0
    if size == 0:
        raise ValidationError({"file": f"“{name}” is empty."})
    if size > EVIDENCE_FILE_MAX_BYTES:
        raise ValidationError(
            {
                "file": f"“{name}” is {size / 1024 / 1024:.1f} MB; the limit is {EVIDENCE_FILE_MAX_BYTES // 1024 // 1024} MB."
            }
        )
    signatures = FILE_SIGNATURES.get(extension)
    if signatures:
        head = upload.read(16)
        upload.seek(0)
        if not head.startswith(signatures):
            raise ValidationError(
                {"file": f"“{name}” is not a real .{extension} file (its content does not match)."}
            )


@transaction.atomic
def evidence_add(
    *, use_case, check_key: str, actor, url: str | None = None, file=None, note: str | None = None
) -> MaturityEvidence:
    """Attach one piece of evidence — a link, a file or a note — to a check of the rubric. Bad
    input raises a ValidationError naming the field and writes nothing."""
    if catalog.check(check_key) is None:
        raise ValidationError(
            {"check_key": f"“{check_key}” is not a check of maturity rubric {catalog.RUBRIC_VERSION}."}
        )
    url, note = (url or "").strip(), note or ""
    given = [name for name, value in (("url", url), ("file", file), ("note", note.strip())) if value]
    if len(given) != 1:
        raise ValidationError(
            {"url" if not given else given[1]: "Give exactly one of a link (url), a file or a note."}
        )
    evidence = MaturityEvidence(
        use_case=use_case,
        check_key=check_key,
        added_by=actor if getattr(actor, "is_authenticated", False) else None,
        added_at=timezone.now(),
    )
    if url:
        evidence.kind, evidence.url = EvidenceKindChoices.LINK, url
        evidence.sha256 = hashlib.sha256(url.encode()).hexdigest()
    elif file is not None:
        _check_file(file)
        evidence.kind, evidence.file = EvidenceKindChoices.FILE, file
        evidence.sha256 = _file_digest(file)
    else:
        if len(note) > NOTE_MAX_LENGTH:
            raise ValidationError(
                {"note": f"A note is at most {NOTE_MAX_LENGTH} characters (this one has {len(note)})."}
            )
        text = _canonical_text(note)
        evidence.kind, evidence.note = EvidenceKindChoices.NOTE, text
        evidence.sha256 = hashlib.sha256(text.encode()).hexdigest()
    evidence.full_clean()
    evidence.save()
    return evidence


@transaction.atomic
def evidence_withdraw(*, evidence: MaturityEvidence, actor) -> MaturityEvidence:
    """Withdraw evidence: it stops counting, the row (and its file) stay for the record."""
    locked = MaturityEvidence.objects.select_for_update().get(pk=evidence.pk)
    if locked.withdrawn_at is not None:
        raise ValidationError(
            {"evidence": f"This evidence was already withdrawn on {locked.withdrawn_at:%Y-%m-%d %H:%M} UTC."}
        )
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_by = actor if getattr(actor, "is_authenticated", False) else None
    locked.save()
    evidence.withdrawn_at, evidence.withdrawn_by = locked.withdrawn_at, locked.withdrawn_by
    return locked
