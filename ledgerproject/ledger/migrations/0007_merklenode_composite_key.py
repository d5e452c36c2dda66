"""Merkle nodes keyed by (ledger, level, index) itself, without the surrogate id and its second index.

Django cannot change an existing table's primary key to a composite one, so the nodes move: a new table
is created with the composite key, the nodes are copied over in one INSERT … SELECT, the old table is
dropped and the new one takes its name. On PostgreSQL the privileges other roles held on the old table
(the application role's SELECT, INSERT) are granted on the new one. Nodes are derived state
(`checkpoint_ledgers --rebuild` makes them again from the entries); the copy keeps every stored tree as
it was, so roots and proofs read the same hashes before and after. Reversible the same way.
"""

from django.db import migrations, models

NEW, OLD = "ledger_merklenodebykey", "ledger_merklenode"


def _copy(schema_editor, source, target):
    quote = schema_editor.quote_name
    columns = ", ".join(quote(column) for column in ("ledger", "level", "index", "hash"))
    if schema_editor.connection.vendor == "postgresql":
        # No node may be written to the old table after its rows are read: an integration that runs
        # meanwhile waits for the migration and then fails (the next run integrates again) instead of
        # committing nodes the copy would leave behind. Reads go on.
        schema_editor.execute(f"LOCK TABLE {quote(source)} IN SHARE MODE")
    schema_editor.execute(f"INSERT INTO {quote(target)} ({columns}) SELECT {columns} FROM {quote(source)}")
    _copy_grants(schema_editor, source, target)


def _copy_grants(schema_editor, source, target):
    """PostgreSQL: give the new table the privileges other roles held on the old one.

    The deployment grants the application role SELECT, INSERT on the tables that exist when it runs
    (docs/deployment.md); a table created later would otherwise be closed to it.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END, "
            "acl.privilege_type, acl.is_grantable FROM pg_class c, aclexplode(c.relacl) AS acl "
            "WHERE c.oid = %s::regclass AND acl.grantee <> c.relowner",
            [quote(source)],
        )
        grants = cursor.fetchall()
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        schema_editor.execute(f"GRANT {privilege} ON {quote(target)} TO {grantee}{option}")


def copy_forwards(apps, schema_editor):
    _copy(schema_editor, OLD, NEW)


def copy_backwards(apps, schema_editor):
    _copy(schema_editor, NEW, OLD)


def name_primary_key(apps, schema_editor):
    """PostgreSQL: the renamed table's key index takes the table's name too (as a table created so would have)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER INDEX {NEW}_pkey RENAME TO {OLD}_pkey")


def unname_primary_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER INDEX {OLD}_pkey RENAME TO {NEW}_pkey")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="MerkleNodeByKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "ledger", "level", "index", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("ledger", models.CharField(max_length=64)),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("hash", models.BinaryField(max_length=32)),
            ],
        ),
        migrations.RunPython(copy_forwards, copy_backwards),
        migrations.DeleteModel(name="MerkleNode"),
        migrations.RenameModel(old_name="MerkleNodeByKey", new_name="MerkleNode"),
        migrations.RunPython(name_primary_key, unname_primary_key),
    ]
