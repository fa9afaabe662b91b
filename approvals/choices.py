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
