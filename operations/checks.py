"""System checks for how operations keeps its secrets (run by `propylon check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

from operations import secrets


def secret_keys(app_configs, **kwargs):
    """Registered with ``deploy=True`` from OperationsConfig.ready(): production needs its own
    Fernet keys, so rotating SECRET_KEY does not lock away every target's token."""
    if not [key for key in settings.PROPYLON_SECRET_KEYS if key.strip()]:
        return [
            Warning(
                "PROPYLON_SECRET_KEYS is not set: deployment targets' secrets are encrypted with a key derived "
                "from SECRET_KEY, and changing SECRET_KEY makes them unreadable.",
                hint="Set PROPYLON_SECRET_KEYS to a Fernet key (python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'); rotate later by putting a new key first "
                "and running `propylon rotate_secrets`.",
                id="operations.W001",
            )
        ]
    try:
        secrets.encrypt("check")
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="operations.E001")]
    return []
