"""Choice sets: value, label and badge colour declared once, next to each other.

A ChoiceSet subclass lists ``CHOICES = [(value, label, colour), ...]``; model fields take
``choices=MyChoices`` (Django accepts any iterable of pairs), templates ask for the colour.
"""

from collections.abc import Iterator


class ChoiceSetMeta(type):
    def __iter__(cls) -> Iterator[tuple[str, str]]:
        return iter((value, label) for value, label, _colour in cls.CHOICES)

    def __len__(cls) -> int:
        return len(cls.CHOICES)

    def __getitem__(cls, index: int) -> tuple[str, str]:
        value, label, _colour = cls.CHOICES[index]
        return value, label


class ChoiceSet(metaclass=ChoiceSetMeta):
    CHOICES: list[tuple[str, str, str]] = []

    @classmethod
    def pairs(cls) -> list[tuple[str, str]]:
        return [(value, label) for value, label, _colour in cls.CHOICES]

    @classmethod
    def values(cls) -> list[str]:
        return [value for value, _label, _colour in cls.CHOICES]

    @classmethod
    def label(cls, value: str) -> str:
        return next((label for v, label, _colour in cls.CHOICES if v == value), value)

    @classmethod
    def colour(cls, value: str) -> str:
        return next((colour for v, _label, colour in cls.CHOICES if v == value), "grey")

    @classmethod
    def max_length(cls) -> int:
        return max(len(value) for value in cls.values())


class JobStatusChoices(ChoiceSet):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    CHOICES = [
        (QUEUED, "Queued", "grey"),
        (RUNNING, "Running", "blue"),
        (SUCCEEDED, "Succeeded", "green"),
        (FAILED, "Failed", "red"),
        (CANCELLED, "Cancelled", "amber"),
    ]

    FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})


class ChannelChoices(ChoiceSet):
    """Where an action came from; recorded on jobs and, later, on every audit entry."""

    UI = "ui"
    API = "api"
    JOB = "job"
    COMMAND = "command"
    SYSTEM = "system"

    CHOICES = [
        (UI, "Web UI", "blue"),
        (API, "API", "violet"),
        (JOB, "Job", "teal"),
        (COMMAND, "Command", "grey"),
        (SYSTEM, "Schedule", "grey"),
    ]


class AuditActionChoices(ChoiceSet):
    """What an audit entry records. Typed events (decisions, imports, deployments) join later."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    TOKEN_USED = "token_used"
    EXPORT = "export"
    IMPORT = "import"
    DECISION = "decision"
    DEPLOYMENT = "deployment"
    JOB = "job"

    CHOICES = [
        (CREATE, "Created", "green"),
        (UPDATE, "Changed", "blue"),
        (DELETE, "Deleted", "red"),
        (LOGIN, "Signed in", "grey"),
        (LOGOUT, "Signed out", "grey"),
        (LOGIN_FAILED, "Failed sign-in", "amber"),
        (TOKEN_USED, "Token used", "violet"),
        (EXPORT, "Exported", "teal"),
        (IMPORT, "Imported", "teal"),
        (DECISION, "Decision", "violet"),
        (DEPLOYMENT, "Deployment", "teal"),
        (JOB, "Job", "grey"),
    ]


class ActorKindChoices(ChoiceSet):
    USER = "user"
    TOKEN = "token"
    JOB = "job"
    COMMAND = "command"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"

    CHOICES = [
        (USER, "Person", "blue"),
        (TOKEN, "API token", "violet"),
        (JOB, "Job", "teal"),
        (COMMAND, "Command", "grey"),
        (SYSTEM, "System", "grey"),
        (ANONYMOUS, "Anonymous", "amber"),
    ]


class NotificationChannelChoices(ChoiceSet):
    """Where a notification goes (portal.notifications)."""

    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"

    CHOICES = [
        (EMAIL, "Email", "blue"),
        (SLACK, "Slack webhook", "violet"),
        (TEAMS, "Microsoft Teams webhook", "teal"),
    ]


class SeverityChoices(ChoiceSet):
    """How bad an audit finding is; it sets the finding's due date (``DUE_DAYS``)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    CHOICES = [
        (CRITICAL, "Critical", "red"),
        (HIGH, "High", "amber"),
        (MEDIUM, "Medium", "blue"),
        (LOW, "Low", "grey"),
    ]

    # Days from a finding's first sighting to its due date: the CoE's remediation targets.
    DUE_DAYS = {CRITICAL: 3, HIGH: 14, MEDIUM: 30, LOW: 90}

    # Most severe first, for sorting lists and picking a worst case.
    RANK = {CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3}
