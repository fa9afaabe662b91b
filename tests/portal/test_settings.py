"""Settings come from the environment, with safe defaults and production hardening."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "PROPYLON_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-deploy-check-only-0123456789",
    "ALLOWED_HOSTS": "propylon.example.com",
    "DATABASE_URL": "postgres://propylon:secret@db.example.com:5432/propylon",
    "CELERY_BROKER_URL": "redis://broker.example.com:6379/0",
    # A Fernet key (32 url-safe base64 bytes) for deployment targets' secrets.
    "PROPYLON_SECRET_KEYS": "cHJvcHlsb24tZGVwbG95LWNoZWNrLW9ubHkta2V5ISE=",
}


def propylon(*args: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION_ENV and key != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    clean["PROPYLON_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_deploy_check_is_clean(tmp_path):
    result = propylon("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = propylon("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_requires_allowed_hosts(tmp_path):
    env = {**PRODUCTION_ENV, "ALLOWED_HOSTS": ""}
    result = propylon("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list" in result.stderr


def test_deploy_check_warns_about_sqlite_and_a_missing_broker(tmp_path):
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "CELERY_BROKER_URL": ""}
    result = propylon("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "propylon.W001" in result.stderr
    assert "propylon.W002" in result.stderr


def test_unknown_environment_name_is_refused(tmp_path):
    result = propylon("check", env={"PROPYLON_ENV": "staging"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "PROPYLON_ENV must be 'development' or 'production'" in result.stderr


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = propylon("shell", "-c", script, env={}, tmp_path=tmp_path)
    second = propylon("shell", "-c", script, env={}, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50
    assert key == second.stdout.strip().splitlines()[-1]
    assert (tmp_path / "data" / "secret_key").read_text().strip() == key
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_defaults_are_utc_sqlite_in_the_data_directory_and_eager_jobs(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.TIME_ZONE, s.USE_TZ, s.DATABASES['default']['NAME'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
    )
    env = {"DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    result = propylon("shell", "-c", script, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    zone, use_tz, database, eager, debug = result.stdout.strip().splitlines()[-1].split()
    # No PROPYLON_ENV: local defaults, but DEBUG stays off (a 404 must not list the URLs).
    assert (zone, use_tz, eager, debug) == ("UTC", "True", "True", "False")
    assert database == str(tmp_path / "data" / "propylon.sqlite3")


def test_debug_is_on_only_when_the_environment_says_development(tmp_path):
    script = "from django.conf import settings as s; print(s.DEBUG, s.IS_PRODUCTION)"
    development = propylon("shell", "-c", script, env={"PROPYLON_ENV": "development"}, tmp_path=tmp_path)
    assert development.returncode == 0, development.stderr
    assert development.stdout.strip().splitlines()[-1].split() == ["True", "False"]
    unset = propylon("shell", "-c", script, env={"PROPYLON_ENV": ""}, tmp_path=tmp_path)
    assert unset.returncode == 0, unset.stderr
    assert unset.stdout.strip().splitlines()[-1].split() == ["False", "False"]


def test_quickstart_runs_as_development(tmp_path, monkeypatch):
    """`propylon quickstart` names the development environment itself; other commands do not."""
    from portal import cli

    seen = {}

    def fake_setup():
        seen["env"] = os.environ.get("PROPYLON_ENV")
        raise SystemExit(0)

    monkeypatch.delenv("PROPYLON_ENV", raising=False)
    monkeypatch.setattr("django.setup", fake_setup)
    for argv, expected in ((["propylon", "quickstart"], "development"), (["propylon", "runserver"], None)):
        monkeypatch.setattr(sys, "argv", argv)
        with contextlib.suppress(SystemExit):
            cli.main()
        assert seen["env"] == expected
        monkeypatch.delenv("PROPYLON_ENV", raising=False)


def test_production_turns_on_transport_security(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    result = propylon("shell", "-c", script, env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "True", "31536000"]


def test_deploy_check_warns_without_keys_for_target_secrets(tmp_path):
    env = {**PRODUCTION_ENV, "PROPYLON_SECRET_KEYS": ""}
    result = propylon("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "operations.W001" in result.stderr


def test_deploy_check_refuses_a_malformed_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "PROPYLON_SECRET_KEYS": "not-a-fernet-key"}
    result = propylon("check", "--deploy", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "operations.E001" in result.stderr
