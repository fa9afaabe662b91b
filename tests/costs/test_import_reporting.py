"""Issue 10 items 9, 12 and 13: what an import tells people. Money without ``0E-11`` or
``-0.00`` (pages, logs, API); a header-only file says "no line items"; tag keys that normalise
to the same key keep the first and warn."""

import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from costs.choices import CostImportStatusChoices
from costs.models import CostImport, CostLineItem
from costs.selectors.imports import line_item_details
from costs.services.imports import cost_import_run
from costs.tasks import import_cost_source
from costs.templatetags.cost_import_tags import money, money_exact
from portal.models import JobLogLine
from tests.costs.billing_files import FOCUS_COLUMNS, write_csv
from tests.costs.cost_data import line

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


#
# Item 9: money formatting
#


def test_money_filters_never_show_an_exponent_or_a_negative_zero():
    assert money("0E-11") == "0.00"
    assert money("-0E-10") == "0.00"
    assert money("-0.004") == "0.00"
    assert money("-0.005") == "-0.01"
    assert money("1234567.125") == "1,234,567.13"
    assert money_exact("0E-11") == "0.00000000000"
    assert money_exact("-0E-10") == "0.0000000000"
    assert money_exact("-1.5E+3") == "-1500"


def test_a_period_that_nets_to_zero_reads_0_00_everywhere(tmp_path, make_source, admin_user, client, api):
    # A charge and its refund with 10 decimal places: their Decimal sum prints 0E-10.
    rows = [
        line(NOV, "1.2500000000", effective="1.1250000000"),
        line(NOV, "-1.2500000000", effective="-1.1250000000", day=2),
    ]
    path = write_csv(tmp_path / "zero.csv", FOCUS_COLUMNS, rows)
    source = make_source(location=str(tmp_path))
    out = io.StringIO()
    call_command("import_costs", "--format", "focus", str(path), stdout=out)
    (item,) = CostImport.objects.filter(source=source, is_current=True)

    assert item.totals["USD"]["billed"] == "0.0000000000"
    assert item.totals["USD"]["effective"] == "0.0000000000"
    assert "billed 0.00 effective 0.00" in out.getvalue() and "E-" not in out.getvalue()
    client.force_login(admin_user)
    for url in (f"/costs/imports/{item.pk}/", "/costs/imports/", f"/costs/sources/{source.pk}/"):
        body = client.get(url).content.decode()
        assert "E-1" not in body and "-0.00" not in body, url
    assert ">0.00<" in client.get(f"/costs/imports/{item.pk}/").content.decode()
    answer = api.get(f"/api/cost-imports/{item.pk}/").json()
    assert answer["totals"]["USD"]["billed"] == "0.0000000000"
    assert answer["totals"]["USD"]["effective"] == "0.0000000000"


def test_totals_stored_with_an_exponent_are_answered_without_it(tmp_path, make_source, api):
    # Imports made before the fix keep "0E-11" in their JSON; the API answers it as fixed point.
    source = make_source(location=str(tmp_path))
    item = CostImport.objects.create(
        source=source,
        format="focus",
        status=CostImportStatusChoices.FAILED,
        totals={"USD": {"billed": "-0E-10", "effective": "0E-11", "list": "12.5", "rows": 2}},
    )
    totals = api.get(f"/api/cost-imports/{item.pk}/").json()["totals"]["USD"]
    assert totals == {"billed": "0.0000000000", "effective": "0.00000000000", "list": "12.5", "rows": 2}


def test_the_job_log_shows_totals_as_money(tmp_path, make_source, run_job):
    path = write_csv(tmp_path / "one.csv", FOCUS_COLUMNS, [line(NOV, "1234.5")])
    source = make_source(location=str(tmp_path))
    run = run_job(import_cost_source, source_id=source.pk, location=str(path))
    messages = list(JobLogLine.objects.filter(job=run).values_list("message", flat=True))
    assert any("(billed 1,234.50 USD)" in message for message in messages), messages


#
# Item 12: a header-only file
#


def test_a_header_only_file_says_no_line_items_and_is_recorded(
    tmp_path, make_source, admin_user, client, api
):
    good = write_csv(tmp_path / "good.csv", FOCUS_COLUMNS, [line(NOV, "10")])
    source = make_source(location=str(tmp_path))
    (current,) = cost_import_run(source=source, location=str(good)).imports
    path = write_csv(tmp_path / "header-only.csv", FOCUS_COLUMNS, [])

    out = io.StringIO()
    call_command("import_costs", "--format", "focus", str(path), stdout=out)

    empty = CostImport.objects.get(source=source, status=CostImportStatusChoices.EMPTY)
    message = (
        f"No line items: {path} holds a header but no rows. Nothing was imported; the current data "
        "of every period stays as it was."
    )
    assert empty.warnings == [message] and not empty.is_current and empty.row_count == 0
    assert f"Warning: Import #{empty.pk}: {message}" in out.getvalue()
    current.refresh_from_db()
    assert current.is_current and CostLineItem.objects.filter(cost_import=current).count() == 1
    client.force_login(admin_user)
    detail = client.get(f"/costs/imports/{empty.pk}/").content.decode()
    assert "No line items" in detail and "holds a header but no rows" in detail
    assert "No line items" in client.get("/costs/imports/").content.decode()
    answer = api.get(f"/api/cost-imports/{empty.pk}/").json()
    assert answer["status"] == "empty" and answer["warnings"] == [message]


def test_a_header_only_upload_job_logs_the_warning(tmp_path, make_source, run_job):
    path = write_csv(tmp_path / "header-only.csv", FOCUS_COLUMNS, [])
    source = make_source(location=str(tmp_path))
    run = run_job(import_cost_source, source_id=source.pk, location=str(path))
    assert run.status == "succeeded" and run.result["empty_imports"]
    assert JobLogLine.objects.filter(job=run, level="warning", message__contains="No line items").exists()


#
# Item 13: tag keys colliding after normalisation
#


def test_colliding_tag_keys_keep_the_first_and_warn(tmp_path, make_source, admin_user, client, api):
    rows = [line(NOV, "10"), line(NOV, "5", day=2), line(NOV, "1", day=3, tags={"team": "a"})]
    rows[0]["Tags"] = json.dumps({"org": "Finance", " org": "Legal"})
    rows[1]["Tags"] = '{"Org": "Sales", "org": "Support"}'
    path = write_csv(tmp_path / "tags.csv", FOCUS_COLUMNS, rows)
    source = make_source(location=str(tmp_path))

    (item,) = cost_import_run(source=source, location=str(path)).imports

    first, second, _ = line_item_details(cost_import=item)
    assert first["tags_normalized"] == {"org": "finance"} and second["tags_normalized"] == {"org": "sales"}
    assert item.warnings == [
        f"Tag keys “org” and “ org” both normalise to “org” on 1 line item(s), first in {path}, row 2: "
        "the first value (of “org”) was kept, the other ignored for allocation.",
        f"Tag keys “Org” and “org” both normalise to “org” on 1 line item(s), first in {path}, row 3: "
        "the first value (of “Org”) was kept, the other ignored for allocation.",
    ]
    client.force_login(admin_user)
    assert "both normalise to" in client.get(f"/costs/imports/{item.pk}/").content.decode()
    assert "both normalise to" in client.get("/costs/imports/").content.decode()
    assert api.get(f"/api/cost-imports/{item.pk}/").json()["warnings"] == item.warnings


def test_a_tag_key_written_twice_in_json_keeps_the_first_and_warns(tmp_path, make_source):
    rows = [line(NOV, "10")]
    rows[0]["Tags"] = '{"use-case": "UC-0001", "use-case": "UC-0002"}'
    path = write_csv(tmp_path / "twice.csv", FOCUS_COLUMNS, rows)
    source = make_source(location=str(tmp_path))
    (item,) = cost_import_run(source=source, location=str(path)).imports
    (stored,) = line_item_details(cost_import=item)
    assert stored["tags"] == {"use-case": "UC-0001"} and stored["tags_normalized"] == {"use_case": "uc-0001"}
    assert item.warnings == [
        f"Tag key “use-case” appears twice in a row on 1 line item(s), first in {path}, row 2: the first "
        "value (of “use-case”) was kept, the other ignored for allocation."
    ]
