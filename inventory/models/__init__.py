"""The catalog's models: organisation, use cases and what they are built from."""

from inventory.models.assets import (
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Release,
)
from inventory.models.organisation import RESERVED_SLUGS, BusinessUnit, Team, validate_unreserved_slug
from inventory.models.usecases import KeySequence, Kpi, NotDuplicate, UseCase, lifecycle_stage_model

__all__ = [
    "RESERVED_SLUGS",
    "BusinessUnit",
    "Component",
    "DataSource",
    "Dataset",
    "DatasetVersion",
    "Environment",
    "KeySequence",
    "Kpi",
    "Model",
    "ModelVersion",
    "NotDuplicate",
    "PromptTemplate",
    "PromptVersion",
    "Release",
    "Team",
    "UseCase",
    "lifecycle_stage_model",
    "validate_unreserved_slug",
]
