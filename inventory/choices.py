"""Choices of the catalog: values, labels and colours declared once."""

from portal.choices import ChoiceSet


class RiskTierChoices(ChoiceSet):
    """EU AI Act tiers (the risk classification in approvals sets them; intake starts unassessed)."""

    UNASSESSED = "unassessed"
    MINIMAL = "minimal"
    LIMITED = "limited"
    HIGH = "high"
    PROHIBITED = "prohibited"

    CHOICES = [
        (UNASSESSED, "Not assessed", "grey"),
        (MINIMAL, "Minimal", "green"),
        (LIMITED, "Limited (transparency)", "blue"),
        (HIGH, "High", "amber"),
        (PROHIBITED, "Prohibited", "red"),
    ]


class AIKindChoices(ChoiceSet):
    PREDICTIVE = "predictive"
    GENERATIVE = "generative"
    AGENTIC = "agentic"
    VENDOR_SAAS = "vendor_saas"
    OTHER = "other"

    CHOICES = [
        (PREDICTIVE, "Predictive ML", "blue"),
        (GENERATIVE, "Generative / LLM", "violet"),
        (AGENTIC, "Agentic", "violet"),
        (VENDOR_SAAS, "Vendor SaaS with AI", "teal"),
        (OTHER, "Other", "grey"),
    ]


class DataSensitivityChoices(ChoiceSet):
    """The most sensitive data the use case touches, from least to most sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"
    PHI = "phi"

    CHOICES = [
        (PUBLIC, "Public", "green"),
        (INTERNAL, "Internal", "grey"),
        (CONFIDENTIAL, "Confidential", "amber"),
        (PII, "Personal data (PII)", "red"),
        (PHI, "Health data (PHI)", "red"),
    ]


class HumanOversightChoices(ChoiceSet):
    IN_THE_LOOP = "in_the_loop"
    ON_THE_LOOP = "on_the_loop"
    IN_COMMAND = "in_command"
    NONE = "none"

    CHOICES = [
        (IN_THE_LOOP, "Human in the loop (approves each output)", "green"),
        (ON_THE_LOOP, "Human on the loop (monitors, can intervene)", "blue"),
        (IN_COMMAND, "Human in command (decides when and how it is used)", "blue"),
        (NONE, "Fully automated", "amber"),
    ]


class VisibilityChoices(ChoiceSet):
    NORMAL = "normal"
    RESTRICTED = "restricted"

    CHOICES = [
        (NORMAL, "Normal: every team can see it", "grey"),
        (RESTRICTED, "Restricted: only the owning team, the CoE, executives and auditors", "red"),
    ]


class ModelProviderChoices(ChoiceSet):
    IN_HOUSE = "in_house"
    OPEN_WEIGHTS = "open_weights"
    API = "api"
    VENDOR = "vendor"

    CHOICES = [
        (IN_HOUSE, "Trained in house", "blue"),
        (OPEN_WEIGHTS, "Open-weights model", "teal"),
        (API, "Hosted model API", "violet"),
        (VENDOR, "Embedded in a vendor product", "grey"),
    ]


class EnvironmentKindChoices(ChoiceSet):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    CHOICES = [
        (DEVELOPMENT, "Development", "grey"),
        (STAGING, "Staging", "blue"),
        (PRODUCTION, "Production", "green"),
    ]


class KpiDirectionChoices(ChoiceSet):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"

    CHOICES = [(HIGHER_IS_BETTER, "Higher is better", "green"), (LOWER_IS_BETTER, "Lower is better", "blue")]


# Ownership roles on a use case: field name, label, what the role answers for. Exactly one
# accountable owner is required; the others are optional.
OWNERSHIP_ROLES = (
    ("accountable_owner", "Accountable owner", "Answers for the use case: its risk, its cost, its results."),
    ("technical_owner", "Technical owner", "Keeps it running: code, model, deployments, incidents."),
    ("business_sponsor", "Business sponsor", "Funds it and owns the business outcome."),
    ("data_steward", "Data steward", "Answers for the data it uses: quality, lineage, access."),
    ("escalation_contact", "Escalation contact", "Who to call when it misbehaves out of hours."),
)


class AssetKindChoices(ChoiceSet):
    """What a use case is built from; the value is the URL segment of the asset's form."""

    MODEL = "model"
    PROMPT = "prompt"
    DATASET = "dataset"
    DATA_SOURCE = "data-source"
    COMPONENT = "component"

    CHOICES = [
        (MODEL, "Model", "violet"),
        (PROMPT, "Prompt template", "blue"),
        (DATASET, "Dataset", "teal"),
        (DATA_SOURCE, "Data source", "grey"),
        (COMPONENT, "Shared component", "grey"),
    ]

    # Kinds whose versions a release pins (data sources and components have no versions).
    VERSIONED = (MODEL, PROMPT, DATASET)
