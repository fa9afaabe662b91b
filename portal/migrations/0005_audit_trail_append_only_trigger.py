"""On PostgreSQL, refuse UPDATE and DELETE on the audit trail in the database itself.

The application already refuses (AuditEntry.save/delete and its queryset); the trigger also
stops a stray SQL statement or a compromised application role. TRUNCATE is left to the table
owner, which is also what the test runner uses to reset databases between tests.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION portal_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on portal_auditentry refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditentry_append_only
    BEFORE UPDATE OR DELETE ON portal_auditentry
    FOR EACH ROW EXECUTE FUNCTION portal_auditentry_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_auditentry_append_only ON portal_auditentry;
DROP FUNCTION IF EXISTS portal_auditentry_refuse_change();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the SQL is passed verbatim, so its "%" is not read as a placeholder.
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_audit_trail")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
