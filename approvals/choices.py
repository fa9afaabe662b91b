"""Choices of the governance workflow."""

from portal.choices import ChoiceSet


class StageKindChoices(ChoiceSet):
    """What a lifecycle stage means for the portfolio, whatever the CoE calls it."""

    INTAKE = "intake"
    ACTIVE = "active"
    PRODUCTION = "production"
    PAUSED = "paused"
    CLOSED = "closed"

    CHOICES = [
        (INTAKE, "Intake", "grey"),
        (ACTIVE, "Active (not in production)", "blue"),
        (PRODUCTION, "Production", "green"),
        (PAUSED, "Paused", "amber"),
        (CLOSED, "Closed", "grey"),
    ]


#
# Risk classification (EU AI Act) and the risk register
#


class AIActRoleChoices(ChoiceSet):
    """Who the organisation is for this system under the AI Act (Art 3(3) provider, 3(4) deployer)."""

    PROVIDER = "provider"
    DEPLOYER = "deployer"
    BOTH = "both"

    CHOICES = [
        (PROVIDER, "Provider (we build it and place it on the market or put it into service)", "violet"),
        (DEPLOYER, "Deployer (we use a system someone else provides)", "blue"),
        (BOTH, "Both (we build it and use it ourselves)", "teal"),
    ]

    @classmethod
    def includes(cls, role: str, wanted: str) -> bool:
        """Whether ``role`` carries the duties of ``wanted`` (provider or deployer)."""
        return role in (wanted, cls.BOTH)


class RiskCategoryChoices(ChoiceSet):
    SAFETY = "safety"
    FUNDAMENTAL_RIGHTS = "fundamental_rights"
    PRIVACY = "privacy"
    SECURITY = "security"
    RELIABILITY = "reliability"
    TRANSPARENCY = "transparency"
    LEGAL = "legal"
    OPERATIONAL = "operational"
    REPUTATIONAL = "reputational"

    CHOICES = [
        (SAFETY, "Health and safety", "red"),
        (FUNDAMENTAL_RIGHTS, "Fundamental rights, bias and discrimination", "violet"),
        (PRIVACY, "Privacy and data protection", "amber"),
        (SECURITY, "Security", "red"),
        (RELIABILITY, "Accuracy, robustness and reliability", "blue"),
        (TRANSPARENCY, "Transparency and explainability", "teal"),
        (LEGAL, "Legal and regulatory compliance", "amber"),
        (OPERATIONAL, "Operational", "grey"),
        (REPUTATIONAL, "Reputational", "grey"),
    ]


class RiskEntryStatusChoices(ChoiceSet):
    OPEN = "open"
    MITIGATED = "mitigated"
    ACCEPTED = "accepted"
    CLOSED = "closed"

    CHOICES = [
        (OPEN, "Open", "amber"),
        (MITIGATED, "Mitigated", "green"),
        (ACCEPTED, "Accepted", "blue"),
        (CLOSED, "Closed", "grey"),
    ]


class RiskLevelChoices(ChoiceSet):
    """Bands of likelihood x severity (each 1-5, so scores run from 1 to 25)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    CHOICES = [
        (LOW, "Low", "green"),
        (MEDIUM, "Medium", "blue"),
        (HIGH, "High", "amber"),
        (CRITICAL, "Critical", "red"),
    ]

    # The highest score of each band, lowest band first.
    UPPER_BOUNDS = ((4, LOW), (9, MEDIUM), (16, HIGH), (25, CRITICAL))

    @classmethod
    def for_score(cls, score: int) -> str:
        return next(level for bound, level in cls.UPPER_BOUNDS if score <= bound)


#
# Maturity assessment
#


class EvidenceKindChoices(ChoiceSet):
    """What a person offers to show a maturity check is met."""

    LINK = "link"
    FILE = "file"
    NOTE = "note"

    CHOICES = [
        (LINK, "Link", "blue"),
        (FILE, "File", "violet"),
        (NOTE, "Note", "grey"),
    ]


class CheckStatusChoices(ChoiceSet):
    """How a maturity check stands in one assessment (its points follow from the status)."""

    VERIFIED = "verified"
    EVIDENCED = "evidenced"
    UNMET = "unmet"
    PENDING_DATA = "pending_data"

    CHOICES = [
        (VERIFIED, "Verified from Propylon's facts", "green"),
        (EVIDENCED, "Evidenced by hand", "blue"),
        (UNMET, "Not met", "red"),
        (PENDING_DATA, "Waiting for data", "grey"),
    ]


class AssessmentTriggerChoices(ChoiceSet):
    """Why a maturity assessment was computed."""

    MANUAL = "manual"
    FACT_CHANGE = "fact_change"
    EVIDENCE = "evidence"
    NIGHTLY = "nightly"
    DEMO = "demo"

    CHOICES = [
        (MANUAL, "Reassessed by a person", "blue"),
        (FACT_CHANGE, "Facts changed", "teal"),
        (EVIDENCE, "Evidence added or withdrawn", "violet"),
        (NIGHTLY, "Nightly recompute", "grey"),
        (DEMO, "Demo data", "grey"),
    ]


#
# Gates: approval requests, their decisions and events
#


class ApprovalStatusChoices(ChoiceSet):
    """Where a gate request stands. Pending and changes requested are open; the rest are final,
    except that an approval later expires or is revoked."""

    PENDING = "pending"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    REVOKED = "revoked"

    CHOICES = [
        (PENDING, "Waiting for decisions", "blue"),
        (CHANGES_REQUESTED, "Changes requested", "amber"),
        (APPROVED, "Approved", "green"),
        (REJECTED, "Rejected", "red"),
        (WITHDRAWN, "Withdrawn", "grey"),
        (EXPIRED, "Expired", "grey"),
        (REVOKED, "Revoked", "red"),
    ]

    OPEN = frozenset({PENDING, CHANGES_REQUESTED})

    # The moves a request's status may make; ApprovalRequest.move_to() refuses any other. A new
    # request starts pending; rejected, withdrawn, expired and revoked are final.
    TRANSITIONS = {
        PENDING: frozenset({APPROVED, REJECTED, CHANGES_REQUESTED, WITHDRAWN}),
        CHANGES_REQUESTED: frozenset({PENDING, WITHDRAWN}),
        APPROVED: frozenset({EXPIRED, REVOKED}),
        REJECTED: frozenset(),
        WITHDRAWN: frozenset(),
        EXPIRED: frozenset(),
        REVOKED: frozenset(),
    }

    @classmethod
    def may_move(cls, source: str, target: str) -> bool:
        return target in cls.TRANSITIONS.get(source, ())


class DecisionChoices(ChoiceSet):
    """What one reviewer decides on a gate request."""

    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"

    CHOICES = [
        (APPROVE, "Approve", "green"),
        (APPROVE_WITH_CONDITIONS, "Approve with conditions", "teal"),
        (REQUEST_CHANGES, "Request changes", "amber"),
        (REJECT, "Reject", "red"),
    ]

    APPROVING = frozenset({APPROVE, APPROVE_WITH_CONDITIONS})


class ApprovalEventChoices(ChoiceSet):
    """The typed history of a gate request (append-only)."""

    SUBMITTED = "submitted"
    RESUBMITTED = "resubmitted"
    DECIDED = "decided"
    COMMENTED = "commented"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    STAGE_CHANGED = "stage_changed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RECERTIFIED = "recertified"

    CHOICES = [
        (SUBMITTED, "Submitted", "blue"),
        (RESUBMITTED, "Resubmitted", "blue"),
        (DECIDED, "Decision", "violet"),
        (COMMENTED, "Comment", "grey"),
        (CHANGES_REQUESTED, "Sent back for changes", "amber"),
        (APPROVED, "Approved (quorum reached)", "green"),
        (REJECTED, "Rejected", "red"),
        (STAGE_CHANGED, "Stage changed", "teal"),
        (WITHDRAWN, "Withdrawn", "grey"),
        (EXPIRED, "Expired", "grey"),
        (REVOKED, "Revoked", "red"),
        (RECERTIFIED, "Re-certified", "green"),
    ]


#
# Audits and findings
#


class FindingStatusChoices(ChoiceSet):
    """Where a finding stands. Open and acknowledged are live; resolved and risk-accepted are not,
    until the condition comes back (a resolved finding reopens) or the acceptance expires."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RISK_ACCEPTED = "risk_accepted"

    CHOICES = [
        (OPEN, "Open", "red"),
        (ACKNOWLEDGED, "Acknowledged", "amber"),
        (RESOLVED, "Resolved", "green"),
        (RISK_ACCEPTED, "Risk accepted", "violet"),
    ]

    LIVE = frozenset({OPEN, ACKNOWLEDGED})

    # Finding.move_to() refuses any other move. An audit run reopens a resolved finding whose
    # condition holds again, and an expired risk acceptance, by the same table.
    TRANSITIONS = {
        OPEN: frozenset({ACKNOWLEDGED, RESOLVED, RISK_ACCEPTED}),
        ACKNOWLEDGED: frozenset({OPEN, RESOLVED, RISK_ACCEPTED}),
        RESOLVED: frozenset({OPEN}),
        RISK_ACCEPTED: frozenset({OPEN, RESOLVED}),
    }

    @classmethod
    def may_move(cls, source: str, target: str) -> bool:
        return target in cls.TRANSITIONS.get(source, ())


class FindingEventKindChoices(ChoiceSet):
    """What happened to a finding (its append-only history)."""

    OPENED = "opened"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLEARED = "cleared"
    RISK_ACCEPTED = "risk_accepted"
    ACCEPTANCE_EXPIRED = "acceptance_expired"
    ESCALATED = "escalated"
    COMMENTED = "commented"

    CHOICES = [
        (OPENED, "Opened by an audit", "red"),
        (REOPENED, "Reopened: the condition is back", "red"),
        (ACKNOWLEDGED, "Acknowledged", "amber"),
        (RESOLVED, "Resolved by hand", "green"),
        (CLEARED, "Resolved: the condition cleared", "green"),
        (RISK_ACCEPTED, "Risk accepted", "violet"),
        (ACCEPTANCE_EXPIRED, "Risk acceptance expired", "amber"),
        (ESCALATED, "Escalated to the CoE (overdue)", "red"),
        (COMMENTED, "Comment", "grey"),
    ]
