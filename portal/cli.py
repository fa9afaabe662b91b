"""The `propylon` console script: `propylon <command>` is `manage.py <command>`."""

import getpass
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if sys.argv[1:2] == ["quickstart"]:
        # The quick start is the development install: it alone turns DEBUG on without being
        # told. An explicit PROPYLON_ENV wins (quickstart then refuses production itself).
        os.environ.setdefault("PROPYLON_ENV", "development")
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        # A configuration mistake deserves one clear line, not a traceback.
        sys.exit(f"propylon: configuration error: {exc}")
    from portal.audit import audit_context
    from portal.choices import ChannelChoices

    # Whatever a command changes (imports, shell sessions, quickstart) is attributed to it and to
    # the operating-system account that ran it. Web requests served by runserver set their own.
    command = " ".join(sys.argv[1:2]) or "help"
    with audit_context(channel=ChannelChoices.COMMAND, label=f"propylon {command} (as {_os_user()})"):
        execute_from_command_line(sys.argv)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


if __name__ == "__main__":
    main()
