"""`propylon seed_benchmark`: the harness's command (bench/seed.py), reached through the
`propylon` console script from a checkout, and refused with a clear message without one."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench import seed
from inventory.models import Release, Team, UseCase
from portal import cli
from portal.models import AuditEntry

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_propylon_routes_seed_benchmark_to_the_harness():
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "seed_benchmark", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "seed_benchmark" in result.stdout
    for option in ("--use-cases", "--teams", "--users", "--releases", "--seed", "--force", "--allow-sqlite"):
        assert option in result.stdout


def test_without_a_checkout_it_says_where_the_command_lives(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "CHECKOUT", tmp_path)
    monkeypatch.setattr(sys, "argv", ["propylon", "seed_benchmark", "--help"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    message = str(exit_.value.code)
    assert "seed_benchmark is part of the benchmark harness, bench/" in message
    assert str(tmp_path) in message


@pytest.mark.django_db
def test_a_small_portfolio_is_seeded_and_reported():
    out = io.StringIO()
    call_command(
        seed.Command(),
        "--allow-sqlite",
        "--use-cases", "12", "--teams", "3", "--users", "30", "--releases", "40",
        stdout=out,
    )  # fmt: skip
    assert UseCase._base_manager.count() == 12
    assert Team._base_manager.count() == 3
    assert Release._base_manager.count() == 40
    assert AuditEntry.objects.filter(message="Benchmark portfolio seeded").count() == 1
    assert "Benchmark portfolio seeded in" in out.getvalue()

    with pytest.raises(CommandError, match="already has 12 use case"):
        call_command(seed.Command(), "--allow-sqlite", "--use-cases", "12", "--releases", "40")
