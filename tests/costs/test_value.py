"""KPI readings and ROI: money per reading, ROI = (value - cost) / cost, zero cost not defined."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from costs.models import CostAllocation, KpiReading
from costs.selectors.value import Roi, portfolio_roi, roi_by_use_case
from costs.services.allocation import allocation_rule_save
from costs.services.value import kpi_reading_record
from inventory.models import Kpi
from portal.roles import Role, role_groups
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def chatbot(tmp_path):
    team = make_team("Support")
    team.lead.groups.add(*role_groups(Role.TEAM_LEAD))
    use_case = make_use_case(team, "Support chatbot")
    allocation_rule_save(name="Use-case tag", kind="use_case_key_tag")
    import_lines(make_source(), tmp_path, [line(NOV, "200.00", tags={"use-case": use_case.key})])
    from costs.services.allocation_engine import allocate

    allocate()
    return use_case


def test_roi_from_value_per_unit_and_explicit_money(chatbot):
    deflected = Kpi.objects.create(use_case=chatbot, name="Tickets deflected", unit="tickets", target=1000,
                                   value_per_unit=Decimal("0.75"))  # fmt: skip
    saved = Kpi.objects.create(use_case=chatbot, name="Hours saved", unit="hours", target=10)
    kpi_reading_record(kpi=deflected, period=NOV, value=Decimal("400"))  # 300.00
    kpi_reading_record(kpi=saved, period=NOV, value=Decimal("5"), monetized_value=Decimal("100.00"))
    rois = roi_by_use_case(allocations=CostAllocation.objects.all(), readings=KpiReading.objects.all(),
                           start=NOV, end=DEC)  # fmt: skip
    roi = rois[chatbot.pk]
    assert (roi.value, roi.cost, roi.ratio, roi.percent) == (Decimal("400.00"), Decimal("200.00"), Decimal("1.0000"),
                                                             Decimal("100.0"))  # fmt: skip
    assert roi.formula == "(400.00 - 200.00) ÷ 200.00 = 200.00 ÷ 200.00 = 1.0000 (100.0 %)"
    assert portfolio_roi(rois).ratio == Decimal("1.0000")


def test_zero_cost_roi_is_not_defined():
    roi = Roi(cost=Decimal(0), value=Decimal("50.00"), currency="USD")
    assert roi.ratio is None and roi.percent is None and "not defined" in roi.formula


def test_recording_again_corrects_and_bad_months_are_named(chatbot):
    kpi = Kpi.objects.create(use_case=chatbot, name="Tickets", unit="tickets", target=1)
    kpi_reading_record(kpi=kpi, period=NOV, value=Decimal("1"))
    kpi_reading_record(kpi=kpi, period=NOV, value=Decimal("2"))
    assert KpiReading.objects.get().value == Decimal("2")
    with pytest.raises(ValidationError) as error:
        kpi_reading_record(kpi=kpi, period=date(2026, 11, 15), value=Decimal("1"))
    assert "period" in error.value.message_dict


def test_readings_through_the_api_and_the_form(client, chatbot, make_user):
    kpi = Kpi.objects.create(
        use_case=chatbot, name="Tickets", unit="tickets", target=1, value_per_unit=Decimal("2")
    )
    client.force_login(chatbot.owning_team.lead)
    created = client.post("/api/kpi-readings/", {"kpi": kpi.pk, "period": "2026-11", "value": "10"},
                          content_type="application/json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["money"] == "20.00" and created.json()["period"] == "2026-11"
    bad = client.post("/api/kpi-readings/", {"kpi": kpi.pk, "period": "2026-13", "value": "1"},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and "period" in bad.json()
    form = client.post(
        "/costs/value/readings/new/", {"kpi": kpi.pk, "period": "2026-10", "value": "3", "note": ""}
    )
    assert form.status_code == 302 and KpiReading.objects.count() == 2
    other = make_user("outsider", Role.TEAM_MEMBER)
    client.force_login(other)
    refused = client.post("/api/kpi-readings/", {"kpi": kpi.pk, "period": "2026-09", "value": "1"},
                          content_type="application/json")  # fmt: skip
    assert refused.status_code in (400, 403)
    assert KpiReading.objects.count() == 2
