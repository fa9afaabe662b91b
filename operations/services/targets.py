"""Deployment targets: configuring them, testing them, rotating their encryption key.

Secrets are write-only. A service argument of ``None`` keeps the stored secret (pages and the
API never show it, so "not given" must not erase it), an empty string removes it, anything else
replaces it; what is stored is ``operations.secrets.encrypt()`` of it, and no message, audit
entry or answer ever carries it.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from operations import secrets
from operations.choices import DeploymentTargetKindChoices as Kind
from operations.models import DeploymentTarget
from operations.targets import client_for
from operations.targets.base import TargetError
from portal import audit
from portal.choices import AuditActionChoices

TARGET_FIELDS = (
    "name",
    "slug",
    "kind",
    "environment",
    "use_case",
    "url",
    "options",
    "timeout_seconds",
    "enabled",
)

# The write-only secrets: the argument name and the column that holds it encrypted.
SECRET_COLUMNS = {
    "secret": "secret_encrypted",
    "callback_secret": "callback_secret_encrypted",
    "read_token": "read_token_encrypted",
}

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_WORKFLOW = re.compile(r"^([A-Za-z0-9_.-]+\.ya?ml|[0-9]+)$")
_GITLAB_PROJECT = re.compile(r"^([0-9]+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$")
_KUBERNETES_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_GIT_REF = re.compile(r"^[A-Za-z0-9_./-]{1,200}$")


@dataclass(frozen=True)
class OptionSpec:
    required: bool
    check: object  # a compiled pattern, or ``bool`` for a true/false option
    describe: str


# The options each kind reads (operations.targets.<kind>), with what a valid value looks like.
KIND_OPTIONS: dict[str, dict[str, OptionSpec]] = {
    Kind.WEBHOOK: {},
    Kind.GITHUB_ACTIONS: {
        "repository": OptionSpec(True, _REPOSITORY, "the repository as owner/name"),
        "workflow": OptionSpec(True, _WORKFLOW, "the workflow file name (deploy.yml) or its numeric id"),
        "ref": OptionSpec(False, _GIT_REF, "the branch or tag the workflow runs from (default main)"),
    },
    Kind.GITLAB_PIPELINE: {
        "project": OptionSpec(True, _GITLAB_PROJECT, "the project's numeric id or its path (group/project)"),
        "ref": OptionSpec(False, _GIT_REF, "the branch or tag the pipeline runs on (default main)"),
    },
    Kind.ARGOCD: {
        "application": OptionSpec(True, _KUBERNETES_NAME, "the Argo CD application's name"),
        "app_namespace": OptionSpec(
            False, _KUBERNETES_NAME, "the application's namespace, if not Argo CD's own"
        ),
        "prune": OptionSpec(False, bool, "true to delete resources gone from Git"),
    },
}

# What each kind's secret is, for messages and form labels.
SECRET_NAMES = {
    Kind.WEBHOOK: "signing secret",
    Kind.GITHUB_ACTIONS: "token",
    Kind.GITLAB_PIPELINE: "trigger token",
    Kind.ARGOCD: "token",
}


def options_errors(kind: str, options) -> list[str]:
    """What is wrong with a target's options for its kind, one message per problem."""
    if not isinstance(options, dict):
        return ['Options must be a JSON object, e.g. {"repository": "org/repo"}.']
    specs = KIND_OPTIONS.get(kind, {})
    label = Kind.label(kind)
    errors = []
    for key in sorted(set(options) - set(specs)):
        allowed = ", ".join(specs) or "none"
        errors.append(f"Option “{key}” means nothing to a {label} target (allowed: {allowed}).")
    for key, spec in specs.items():
        value = options.get(key)
        if value in (None, ""):
            if spec.required:
                errors.append(f"Option “{key}” is required for a {label} target: {spec.describe}.")
            continue
        if spec.check is bool:
            if not isinstance(value, bool):
                errors.append(f"Option “{key}” must be true or false.")
        elif not isinstance(value, str | int) or not spec.check.match(str(value)):
            errors.append(f"Option “{key}” must be {spec.describe}; “{value}” is not.")
    return errors


def _validate(target: DeploymentTarget) -> None:
    errors: dict[str, list[str]] = {}
    if target.url:
        parts = urlsplit(target.url)
        if parts.scheme not in ("http", "https"):
            errors["url"] = ["A deployment target's URL must start with http:// or https://."]
        elif parts.username or parts.password or parts.query:
            # The URL is shown on pages and kept in the audit trail: credentials belong in the
            # write-only secret fields.
            errors["url"] = [
                "Leave credentials and query parameters out of the URL: put the token in the secret field."
            ]
    if problems := options_errors(target.kind, target.options):
        errors["options"] = problems
    if target.enabled and not target.secret_encrypted:
        errors["secret"] = [
            f"An enabled {Kind.label(target.kind)} target needs its {SECRET_NAMES.get(target.kind, 'secret')}; "
            "enter it, or save the target disabled."
        ]
    if target.enabled and target.environment_id:
        others = DeploymentTarget.objects.filter(
            environment_id=target.environment_id, use_case_id=target.use_case_id, enabled=True
        ).exclude(pk=target.pk)
        other = others.only("name").first()
        if other is not None:
            scope = (
                f"use case {target.use_case.key}" if target.use_case_id else "every use case (the default)"
            )
            errors.setdefault("enabled", []).append(
                f"“{other.name}” already deploys {scope} in {target.environment.name}: disable it first, "
                "or save this target disabled."
            )
    if errors:
        raise ValidationError(errors)


def _apply_secrets(target: DeploymentTarget, given: dict[str, str | None]) -> None:
    for name, column in SECRET_COLUMNS.items():
        value = given.get(name)
        if value is None:
            continue
        setattr(target, column, secrets.encrypt(value.strip()))
        if name == "secret":
            target.secret_set_at = timezone.now() if value.strip() else None


def _save(target: DeploymentTarget) -> None:
    _validate(target)
    target.full_clean()
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:  # another admin enabled a rival target at the same moment
        raise ValidationError(
            {"enabled": ["Another enabled target already serves this environment and use case."]}
        ) from exc


@transaction.atomic
def target_create(
    *,
    secret: str = "",
    callback_secret: str = "",
    read_token: str = "",
    **fields,
) -> DeploymentTarget:
    target = DeploymentTarget(**{name: value for name, value in fields.items() if name in TARGET_FIELDS})
    if target.options is None:
        target.options = {}
    _apply_secrets(target, {"secret": secret, "callback_secret": callback_secret, "read_token": read_token})
    _save(target)
    return target


@transaction.atomic
def target_update(
    *,
    target: DeploymentTarget,
    secret: str | None = None,
    callback_secret: str | None = None,
    read_token: str | None = None,
    **fields,
) -> DeploymentTarget:
    """Change a target; each secret argument left ``None`` keeps the stored one."""
    target = DeploymentTarget.objects.select_for_update().get(pk=target.pk)
    for name, value in fields.items():
        if name in TARGET_FIELDS:
            setattr(target, name, value)
    if target.options is None:
        target.options = {}
    _apply_secrets(target, {"secret": secret, "callback_secret": callback_secret, "read_token": read_token})
    _save(target)
    return target


def target_set_enabled(*, target: DeploymentTarget, enabled: bool) -> DeploymentTarget:
    return target_update(target=target, enabled=enabled)


@transaction.atomic
def target_delete(*, target: DeploymentTarget) -> None:
    """Delete a target no deployment used; a used one is disabled instead (its deployments keep
    saying where they went)."""
    target = DeploymentTarget.objects.select_for_update().get(pk=target.pk)
    used = target.deployments.count()
    if used:
        deployments = "1 deployment went" if used == 1 else f"{used} deployments went"
        raise ValidationError(
            f"“{target.name}” cannot be deleted: {deployments} through it and keep it in their history. "
            "Disable it instead."
        )
    target.delete()


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    message: str


def target_send_test(*, actor, target: DeploymentTarget) -> TestOutcome:
    """Make the target's harmless authenticated call (operations.targets.<kind>.send_test_event)
    and remember what it said. The HTTP call runs outside any transaction; the result and its
    audit entry are written together afterwards."""
    try:
        outcome = TestOutcome(True, client_for(target).send_test_event())
    except (TargetError, secrets.SecretUnreadable) as exc:
        outcome = TestOutcome(False, str(exc))
    result = f"{'OK' if outcome.ok else 'Failed'}: {outcome.message}"[:500]
    with transaction.atomic():
        DeploymentTarget.objects.filter(pk=target.pk).update(
            last_test_at=timezone.now(), last_test_result=result
        )
        audit.record(
            AuditActionChoices.DEPLOYMENT,
            obj=target,
            message=f"Test event to {target.name} ({target.kind_label}): {result}",
            extra={"event": "target_test", "ok": outcome.ok},
        )
    target.refresh_from_db(fields=["last_test_at", "last_test_result"])
    return outcome


def targets_reencrypt() -> int:
    """Re-encrypt every stored secret under the first of PROPYLON_SECRET_KEYS; returns how many
    secrets were rewritten. A secret no configured key opens raises SecretUnreadable."""
    rewritten = 0
    with transaction.atomic():
        for target in DeploymentTarget.objects.select_for_update().order_by("pk"):
            changed = []
            for column in SECRET_COLUMNS.values():
                if value := getattr(target, column):
                    try:
                        secrets.decrypt(value)  # a clear SecretUnreadable before any rewrite
                    except secrets.SecretUnreadable as exc:
                        raise secrets.SecretUnreadable(f"Target “{target.name}” ({column}): {exc}") from None
                    setattr(target, column, secrets.reencrypt(value))
                    changed.append(column)
            if changed:
                # Only ciphertext changes (the audit trail excludes these columns).
                DeploymentTarget.objects.filter(pk=target.pk).update(
                    **{column: getattr(target, column) for column in changed}
                )
                rewritten += len(changed)
    return rewritten
