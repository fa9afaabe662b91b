"""Issue 10 item 37: local imports read only below PROPYLON_COST_IMPORT_ROOT. A location outside
it is refused by the source form, the API and again at import time; a symbolic link that leads
out of the root is refused too."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from costs.choices import CostImportStatusChoices
from costs.ingest.errors import CostImportError
from costs.ingest.plan import upload_directory
from costs.models import CostImport, CostLineItem, CostSource
from costs.services.imports import cost_import_run
from costs.services.sources import cost_source_create
from tests.costs.billing_files import FOCUS_COLUMNS, write_csv
from tests.costs.cost_data import line

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def root(tmp_path, settings):
    folder = tmp_path / "imports"
    (folder / "billing").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    settings.PROPYLON_COST_IMPORT_ROOT = str(folder)
    return folder


def outside_message(path, root) -> str:
    return (
        f"{path}: is outside the cost import folder {root} or {upload_directory().resolve()}; "
        "local billing files are read only below it (an administrator sets it with PROPYLON_COST_IMPORT_ROOT)."
    )


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize("location", ["~root/", "/etc", "{outside}", "{root}/../outside"])
def test_the_source_form_refuses_a_folder_outside_the_root(location, root, tmp_path, admin_user, client):
    location = location.format(outside=tmp_path / "outside", root=root)
    client.force_login(admin_user)
    response = client.post("/costs/sources/new/", {"name": "Local", "kind": "focus", "location": location,
                                                   "use_case_tag_key": "use-case", "enabled": "on"})  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    assert "is outside the cost import folder" in body and str(root) in body
    assert not CostSource.objects.exists()


def test_the_service_and_api_refuse_it_and_accept_below_the_root(root, api):
    with pytest.raises(ValidationError) as raised:
        cost_source_create(name="Etc", kind="focus", location="/etc")
    assert raised.value.message_dict["location"] == [
        f"/etc: is outside the cost import folder {root}; local billing files are read only below it "
        "(an administrator sets it with PROPYLON_COST_IMPORT_ROOT)."
    ]
    response = api.post(
        "/api/cost-sources/", {"name": "Etc", "kind": "focus", "location": "/etc"}, format="json"
    )
    assert (
        response.status_code == 400 and "is outside the cost import folder" in response.json()["location"][0]
    )
    good = api.post("/api/cost-sources/", {"name": "Ok", "kind": "focus", "location": str(root / "billing")},
                    format="json")  # fmt: skip
    assert good.status_code == 201, good.json()
    run = api.post("/api/cost-imports/run/", {"source": good.json()["id"], "location": "/etc/passwd.csv"},
                   format="json")  # fmt: skip
    assert run.status_code == 400 and "is outside the cost import folder" in run.json()["location"][0]


def test_the_import_refuses_a_location_outside_the_root(root, tmp_path, make_source):
    source = make_source(location=str(root / "billing"))
    path = write_csv(tmp_path / "outside" / "focus.csv", FOCUS_COLUMNS, [line(NOV, "10")])
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location=str(path))
    assert str(raised.value) == outside_message(path, root)
    # A location stored before the root existed is refused when read, too.
    CostSource.objects.filter(pk=source.pk).update(location=str(tmp_path / "outside"))
    source.refresh_from_db()
    with pytest.raises(CostImportError, match="is outside the cost import folder"):
        cost_import_run(source=source)
    assert CostImport.objects.filter(status=CostImportStatusChoices.FAILED).count() == 2
    assert not CostLineItem.objects.exists()


def test_symbolic_links_leading_out_of_the_root_are_refused(root, tmp_path, make_source):
    secret = write_csv(tmp_path / "outside" / "secret.csv", FOCUS_COLUMNS, [line(NOV, "10")])
    write_csv(root / "billing" / "fine.csv", FOCUS_COLUMNS, [line(NOV, "3")])
    link = root / "billing" / "innocent.csv"
    link.symlink_to(secret)
    source = make_source(location=str(root / "billing"))
    message = (
        f"{link}: is a symbolic link to {secret}, outside the cost import folder {root} or "
        f"{upload_directory().resolve()}; local billing files are read only below it."
    )
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source)
    assert str(raised.value) == message
    folder_link = root / "elsewhere"
    folder_link.symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(ValidationError, match="is a symbolic link to"):
        cost_source_create(name="Linked", kind="focus", location=str(folder_link))
    with pytest.raises(CostImportError, match="is a symbolic link to"):
        cost_import_run(source=source, location=str(folder_link))
    assert not CostLineItem.objects.exists()


def test_a_folder_below_the_root_imports(root, make_source):
    write_csv(root / "billing" / "nov.csv", FOCUS_COLUMNS, [line(NOV, "10")])
    source = make_source(location=str(root / "billing"))
    (item,) = cost_import_run(source=source).imports
    assert item.row_count == 1
