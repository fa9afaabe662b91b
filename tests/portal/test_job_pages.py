"""The jobs pages: who sees which runs, live progress, cancelling and starting jobs."""

import pytest
from django.urls import reverse

from portal.choices import JobStatusChoices
from portal.models import JobRun
from portal.testing.factories import JobRunFactory

pytestmark = pytest.mark.django_db


def test_a_team_member_sees_only_the_jobs_they_started(login, team_member, admin_user):
    mine = JobRunFactory(actor=team_member, actor_label=team_member.username, label="Mine")
    JobRunFactory(actor=admin_user, label="Someone else's")
    response = login(team_member).get(reverse("jobs:list"))
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [mine]
    assert b"Someone else" not in response.content


@pytest.mark.parametrize("role_fixture", ["admin_user", "executive", "auditor", "reviewer"])
def test_operators_and_portfolio_readers_see_every_job(request, login, role_fixture, team_member):
    JobRunFactory(actor=team_member)
    JobRunFactory()
    user = request.getfixturevalue(role_fixture)
    response = login(user).get(reverse("jobs:list"))
    assert len(response.context["page"].object_list) == 2


def test_someone_elses_job_is_not_found_rather_than_forbidden(login, team_member, admin_user):
    theirs = JobRunFactory(actor=admin_user)
    client = login(team_member)
    assert client.get(reverse("jobs:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("jobs:progress", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("jobs:cancel", args=[theirs.pk])).status_code == 404


def test_the_list_filters_by_status_in_the_url(login, admin_user):
    JobRunFactory(status=JobStatusChoices.FAILED)
    JobRunFactory(status=JobStatusChoices.SUCCEEDED)
    response = login(admin_user).get(reverse("jobs:list"), {"status": "failed"})
    assert [run.status for run in response.context["page"].object_list] == ["failed"]


def test_the_list_costs_the_same_number_of_queries_for_many_jobs(
    login, admin_user, django_assert_max_num_queries
):
    for _ in range(30):
        JobRunFactory(actor=admin_user)
    client = login(admin_user)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("jobs:list")).status_code == 200


def test_a_running_job_polls_for_progress_and_a_finished_one_stops(login, admin_user):
    running = JobRunFactory(
        actor=admin_user, status=JobStatusChoices.RUNNING, progress=40, progress_message="Row 4"
    )
    client = login(admin_user)
    page = client.get(reverse("jobs:detail", args=[running.pk])).content.decode()
    assert f'hx-get="{reverse("jobs:progress", args=[running.pk])}"' in page
    assert 'hx-trigger="every 2s"' in page
    partial = client.get(reverse("jobs:progress", args=[running.pk]), headers={"HX-Request": "true"})
    assert b"Row 4" in partial.content
    assert b"<html" not in partial.content
    running.status = JobStatusChoices.SUCCEEDED
    running.save()
    finished = client.get(reverse("jobs:progress", args=[running.pk])).content.decode()
    assert "hx-trigger" not in finished


def test_the_person_who_started_a_job_may_cancel_it(login, team_member):
    run = JobRunFactory(actor=team_member, status=JobStatusChoices.QUEUED)
    response = login(team_member).post(reverse("jobs:cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == JobStatusChoices.CANCELLED


def test_an_auditor_sees_a_job_but_may_not_cancel_it(login, auditor, team_member):
    run = JobRunFactory(actor=team_member, status=JobStatusChoices.RUNNING)
    client = login(auditor)
    assert client.get(reverse("jobs:detail", args=[run.pk])).status_code == 200
    assert client.post(reverse("jobs:cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == JobStatusChoices.RUNNING


def test_an_admin_starts_an_on_demand_job_from_the_page(
    login, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin_user).post(reverse("jobs:start"), {"task": "portal.prune_job_runs"})
    run = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == run.get_absolute_url()
    assert (run.status, run.channel, run.actor) == (JobStatusChoices.SUCCEEDED, "ui", admin_user)


def test_only_admins_start_jobs_and_only_on_demand_ones(login, admin_user, team_lead):
    assert login(team_lead).post(reverse("jobs:start"), {"task": "portal.prune_job_runs"}).status_code == 403
    response = login(admin_user).post(reverse("jobs:start"), {"task": "tests.explode"}, follow=True)
    assert b"cannot be started by hand" in response.content
    assert not JobRun.objects.exists()


def test_job_pages_need_a_login(client):
    response = client.get(reverse("jobs:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_previous_and_next_keep_the_filters(login, admin_user, monkeypatch):
    monkeypatch.setattr("portal.views.jobs.JOBS_PER_PAGE", 2)
    JobRunFactory.create_batch(5, status=JobStatusChoices.FAILED)
    JobRunFactory(status=JobStatusChoices.SUCCEEDED)
    client = login(admin_user)
    filters = {"status": "failed", "task": "portal.prune_job_runs"}

    first = client.get(reverse("jobs:list"), filters).content.decode()
    assert "Page 1 of 3" in first
    assert 'href="?status=failed&amp;task=portal.prune_job_runs&amp;page=2">Next</a>' in first
    assert ">Previous</a>" not in first

    middle = client.get(reverse("jobs:list"), {**filters, "page": 2}).content.decode()
    assert 'href="?status=failed&amp;task=portal.prune_job_runs&amp;page=1">Previous</a>' in middle
    assert 'href="?status=failed&amp;task=portal.prune_job_runs&amp;page=3">Next</a>' in middle


def test_a_single_page_shows_no_pagination(login, admin_user):
    JobRunFactory()
    assert 'class="pagination"' not in login(admin_user).get(reverse("jobs:list")).content.decode()
