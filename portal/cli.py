"""The `propylon` console script: `propylon <command>` is `manage.py <command>`."""

import getpass
import importlib
import os
import sys
from pathlib import Path

# Commands of the benchmark harness (bench/, above every app). bench/ is part of a checkout,
# not of the installed package, so these are routed by name, after django.setup(), and only
# where a checkout is found; `manage.py` and `propylon` in an editable install both find it.
BENCH_COMMANDS = {"seed_benchmark": "bench.seed"}
CHECKOUT = Path(__file__).resolve().parent.parent


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
    bench_command = _bench_command(sys.argv[1]) if sys.argv[1:2] and sys.argv[1] in BENCH_COMMANDS else None
    with audit_context(channel=ChannelChoices.COMMAND, label=f"propylon {command} (as {_os_user()})"):
        if bench_command is not None:
            bench_command.run_from_argv(sys.argv)
        else:
            execute_from_command_line(sys.argv)


def _bench_command(name: str):
    """The harness's command `name`, or a clear exit where there is no checkout to take it from."""
    if not (CHECKOUT / "bench" / "__init__.py").is_file():
        sys.exit(
            f"propylon: {name} is part of the benchmark harness, bench/, which ships with a checkout of "
            f"Propylon, not with the installed package (looked in {CHECKOUT}). Run it from a checkout: "
            "pip install -e . there (bench/README.md)."
        )
    # An editable install maps only the packaged apps; the harness is found beside them.
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
    return importlib.import_module(BENCH_COMMANDS[name]).Command()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


if __name__ == "__main__":
    main()
