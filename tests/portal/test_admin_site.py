"""Every model registered in the admin site opens for an administrator, with data in it."""

from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


# The code is kept ready for Django 6: an admin form that relies on a default 6 changes fails here.
@pytest.mark.filterwarnings("error::django.utils.deprecation.RemovedInDjango60Warning")
def test_every_admin_changelist_and_a_change_page_open(client, django_user_model):
    call_command("quickstart", "--no-serve", stdout=StringIO())
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(superuser)
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        first = model._default_manager.first()
        if first is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            assert client.get(change).status_code == 200, change
