"""Choices of the cost side."""

from portal.choices import ChoiceSet


class CostSourceKindChoices(ChoiceSet):
    FOCUS = "focus"
    AWS_CUR = "aws_cur"
    AWS_CUR2 = "aws_cur2"
    AWS_COST_EXPLORER = "aws_cost_explorer"

    CHOICES = [
        (FOCUS, "FOCUS 1.x export (any cloud)", "blue"),
        (AWS_CUR, "AWS Cost and Usage Report (legacy)", "amber"),
        (AWS_CUR2, "AWS CUR 2.0 (Data Exports)", "amber"),
        (AWS_COST_EXPLORER, "AWS Cost Explorer", "amber"),
    ]
