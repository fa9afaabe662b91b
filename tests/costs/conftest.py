import json
import logging
import socket
import urllib.request

import boto3
import pytest

from costs.services.sources import cost_source_create


@pytest.fixture(autouse=True)
def every_import_reconciles(request):
    """DESIGN.md §4 invariant 4, asserted after every cost test that touched the database: each
    current import's line items add up to its totals, and its period's allocation, recomputed
    from scratch, adds up to the billed total — to the cent, per currency. A test that breaks
    the invariant on purpose must leave it repaired."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("db")  # set up before this fixture, so torn down after the check
    yield
    from costs.models import CostImport
    from costs.testing import assert_reconciles

    for cost_import in CostImport.objects.filter(is_current=True).select_related("source"):
        assert_reconciles(cost_import.source, cost_import.billing_period_start)


# Dummy credentials for the local moto server; nothing here reaches AWS.
TEST_KEY_ID = "AKIAPROPYLONTEST"
TEST_SECRET = "propylon-test-secret-never-shown"


@pytest.fixture(scope="session")
def moto_server():
    """moto in server mode on 127.0.0.1 and a free port: boto3 talks real HTTP to it."""
    from moto.server import ThreadedMotoServer

    # Tests are quiet: the server's request log is not wanted in failure reports either.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """A clean moto server, and an environment whose own AWS settings cannot leak in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    return moto_server


@pytest.fixture
def s3(aws):
    client = boto3.client(
        "s3",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id=TEST_KEY_ID,
        aws_secret_access_key=TEST_SECRET,
    )
    client.create_bucket(Bucket="billing")
    return client


def queue_cost_explorer_results(endpoint: str, results: list[dict]) -> None:
    """moto answers each distinct GetCostAndUsage request with the next queued result."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


@pytest.fixture
def make_source(db):
    def make(name: str = "Billing", kind: str = "focus", location: str = "", endpoint: str = "", **fields):
        aws_settings = (
            {
                "endpoint_url": endpoint,
                "aws_region": "us-east-1",
                "access_key_id": TEST_KEY_ID,
                "secret_access_key": TEST_SECRET,
            }
            if endpoint
            else {}
        )
        return cost_source_create(name=name, kind=kind, location=location, **aws_settings, **fields)

    return make


@pytest.fixture(autouse=True)
def cost_import_root(settings, tmp_path_factory):
    """Local imports read only below PROPYLON_COST_IMPORT_ROOT: the tests' files are all under
    pytest's base temporary folder."""
    root = tmp_path_factory.getbasetemp()
    settings.PROPYLON_COST_IMPORT_ROOT = str(root)
    return root
