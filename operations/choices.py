"""Choices of running AI systems: deployment targets and states, health metrics."""

from portal.choices import ChoiceSet


class DeploymentTargetKindChoices(ChoiceSet):
    """How Propylon asks a pipeline to deploy (operations.targets has one client per kind)."""

    WEBHOOK = "webhook"
    GITHUB_ACTIONS = "github_actions"
    GITLAB_PIPELINE = "gitlab_pipeline"
    ARGOCD = "argocd"

    CHOICES = [
        (WEBHOOK, "Generic webhook (HMAC-signed JSON)", "blue"),
        (GITHUB_ACTIONS, "GitHub Actions workflow_dispatch", "violet"),
        (GITLAB_PIPELINE, "GitLab pipeline trigger", "amber"),
        (ARGOCD, "Argo CD application sync", "teal"),
    ]


class DeploymentStatusChoices(ChoiceSet):
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"

    CHOICES = [
        (QUEUED, "Queued", "grey"),
        (DISPATCHED, "Dispatched to the target", "blue"),
        (RUNNING, "Running", "blue"),
        (SUCCEEDED, "Succeeded", "green"),
        (FAILED, "Failed", "red"),
        (ROLLED_BACK, "Rolled back", "amber"),
    ]

    IN_FLIGHT = frozenset({QUEUED, DISPATCHED, RUNNING})
    FINISHED = frozenset({SUCCEEDED, FAILED, ROLLED_BACK})

    # Deployment.move_to() refuses any other move. A succeeded deployment becomes rolled back
    # when a rollback replaces it; failed and rolled back are final.
    TRANSITIONS = {
        QUEUED: frozenset({DISPATCHED, FAILED}),
        DISPATCHED: frozenset({RUNNING, SUCCEEDED, FAILED}),
        RUNNING: frozenset({SUCCEEDED, FAILED}),
        SUCCEEDED: frozenset({ROLLED_BACK}),
        FAILED: frozenset(),
        ROLLED_BACK: frozenset(),
    }

    @classmethod
    def may_move(cls, source: str, target: str) -> bool:
        return target in cls.TRANSITIONS.get(source, ())


class DeploymentEventKindChoices(ChoiceSet):
    """Where a deployment's news came from (its append-only history)."""

    REQUESTED = "requested"
    DISPATCH_STARTED = "dispatch_started"
    DISPATCHED = "dispatched"
    RETRY = "retry"
    CALLBACK = "callback"
    POLL = "poll"
    REFUSED = "refused"
    FAILED = "failed"
    SUPERSEDED = "superseded"

    CHOICES = [
        (REQUESTED, "Requested", "grey"),
        (DISPATCH_STARTED, "Dispatch started", "blue"),
        (DISPATCHED, "Dispatched", "blue"),
        (RETRY, "Transient failure, will retry", "amber"),
        (CALLBACK, "Status from the target's callback", "teal"),
        (POLL, "Status from polling the target", "teal"),
        (REFUSED, "Refused", "red"),
        (FAILED, "Failed", "red"),
        (SUPERSEDED, "Replaced by a rollback", "amber"),
    ]


class HealthMetricChoices(ChoiceSet):
    """What monitoring stacks report about a running use case (POST /api/signals/)."""

    ACCURACY = "accuracy"
    LATENCY_P95_MS = "latency_p95_ms"
    DRIFT_SCORE = "drift_score"
    ERROR_RATE = "error_rate"
    COST_PER_REQUEST = "cost_per_request"

    CHOICES = [
        (ACCURACY, "Accuracy", "green"),
        (LATENCY_P95_MS, "Latency p95 (ms)", "blue"),
        (DRIFT_SCORE, "Drift score", "amber"),
        (ERROR_RATE, "Error rate", "red"),
        (COST_PER_REQUEST, "Cost per request (USD)", "violet"),
    ]
