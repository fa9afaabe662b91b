"""On PostgreSQL, refuse TRUNCATE of the audit trail in the database itself.

Row triggers (0005) do not fire on TRUNCATE, which empties the table in one statement, for the
owner too. This statement trigger refuses it with the same function and message. The owner (or
a superuser) can still disable or drop the trigger; docs/audit-trail.md says what that leaves
and how the signed checkpoints catch the result. The test suite disables it in its own test
database, whose resets between tests truncate every table (tests/conftest.py).
"""

from django.db import migrations

CREATE = """
CREATE TRIGGER portal_auditentry_refuse_truncate
    BEFORE TRUNCATE ON portal_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION portal_auditentry_refuse_change();
"""

DROP = "DROP TRIGGER IF EXISTS portal_auditentry_refuse_truncate ON portal_auditentry;"


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0009_fail_stale_job_runs_schedule")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
