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
