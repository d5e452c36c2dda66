"""The experience events' optional ids: their indexes hold only the events that carry the id, and serve every reader."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from experience.models import ExperienceEvent
from experience.tests.conftest import transition_data, valid_data

pytestmark = pytest.mark.django_db

TABLE = ExperienceEvent._meta.db_table
OPTIONAL_IDS = {
    "correlation_id": "experience_corr_seq",
    "chain_id": "experience_chain_seq",
    "artifact_id": "experience_artifact_seq",
    "trace_link_id": "experience_trace_seq",
    "proposal_id": "experience_proposal_seq",
}
# A query that asks for given values of an optional id: `"…"."chain_id" = …` or `… IN (…)`, any table alias.
_ASKS_FOR = re.compile(r'"(' + "|".join(OPTIONAL_IDS) + r')" (?:=|IN) ')
_STATEMENT_BOUNDARY = re.compile(r";\s*(?=SELECT |WITH |INSERT )")


def _stored_chain(make_event, transition):
    """A chain's proposal, validation, backend call, trace and promotion, artifacts' transitions, and many
    events that carry none of the ids (as most events leave most of them empty)."""
    proposal = valid_data("ProposalCreated")
    proposal["chain_id"], proposal["proposal"]["id"] = "chain-1", "prop-1"
    make_event("ProposalCreated", proposal, correlation_id="run-1")
    validated = valid_data("ProposalValidated")
    validated["chain_id"], validated["proposal_id"] = "chain-1", "prop-1"
    make_event("ProposalValidated", validated, correlation_id="run-1")
    for kind in ("BackendInvoked", "ReplayTraceRecorded"):
        data = valid_data(kind)
        data["trace_link_id"] = "trace-1"
        make_event(kind, data, correlation_id="run-1")
    promoted = valid_data("FactPromoted")
    promoted["proposal_id"] = "prop-1"
    make_event("FactPromoted", promoted, correlation_id="run-1")
    for artifact in ("a1", *(f"other-{number}" for number in range(30))):  # a kind too common to read by
        transition(artifact, "Draft", "Approved", tenant_id="acme")
        transition(artifact, "Approved", "Active", tenant_id="acme")
    for number in range(60):
        make_event("PolicySnapshotCaptured", correlation_id=None, event_id=f"bare-{number}")
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{TABLE}"')


def _plans_of_id_reads(sqls):
    """(sql, EXPLAIN) of each SELECT that asks the events table for given optional ids, planned as if the table had
    only its primary key, its event ids' and the optional ids' indexes, sequential scans priced out: whatever index a bigger
    table would prefer, the plan shows whether an optional id's index can serve the query. The other indexes
    are dropped in a savepoint, rolled back."""
    # The append path sends several statements in one message (the lock, the tip, the state read): each is planned.
    statements = [part for sql in sqls for part in _STATEMENT_BOUNDARY.split(sql)]
    reads = [sql for sql in statements if sql.startswith("SELECT") and f'"{TABLE}"' in sql and _ASKS_FOR.search(sql)]
    found = []
    with transaction.atomic(), connection.cursor() as cursor:
        kept = {*OPTIONAL_IDS.values(), f"{TABLE}_pkey", "experience_event_id_per_tenant"}
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])
        for (name,) in cursor.fetchall():
            if name not in kept:
                cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in reads:
            cursor.execute("EXPLAIN " + sql)
            found.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        transaction.set_rollback(True)
    return found


def test_each_optional_id_index_holds_only_the_events_that_carry_the_id(db):
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, TABLE)
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
            predicate = "WHERE ({column} IS NOT NULL)"
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [TABLE])
            predicate = 'WHERE "{column}" IS NOT NULL'
        definitions = dict(cursor.fetchall())
    for column, name in OPTIONAL_IDS.items():
        assert indexes[name]["columns"] == [column, "seq"], name
        assert definitions[name].endswith(predicate.format(column=column)), definitions[name]


@pytest.mark.postgres
def test_every_reader_of_an_optional_id_is_served_by_its_index(client, make_user, make_event, transition):
    _stored_chain(make_event, transition)
    root = make_user("plans", superuser=True)
    client.force_login(root)
    paths = [
        "/api/v1/events/?chain_id=chain-1",
        "/api/v1/events/?correlation_id=run-1",
        "/api/v1/events/?proposal_id=prop-1",
        "/api/v1/artifacts/",
        "/api/v1/artifacts/a1/transitions/",
        "/api/v1/trace-links/trace-1/",
        "/api/v1/search/?q=chain-1",
        "/events/chains/chain-1/",
        "/events/correlations/run-1/",
        "/artifacts/",
        "/artifacts/a1/",
        "/trace-links/trace-1/",
        "/trail/?id=prop-1",
    ]
    reads = []
    for path in paths:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200, path
        reads += [(path, query["sql"]) for query in captured.captured_queries]
    # The lock-time lifecycle check reads the moved artifact's transitions by its id.
    with CaptureQueriesContext(connection) as captured:
        ExperienceEvent.objects.append(
            kind="ArtifactStateTransitioned",
            data=transition_data("a1", "Active", "Quarantined", tenant_id="acme"),
            occurred_at="2026-01-21T12:00:00Z",
            tenant_id="acme",
        )
    reads += [("append", query["sql"]) for query in captured.captured_queries]

    served, asked = set(), set()
    for path, message in reads:
        for sql, plan in _plans_of_id_reads([message]):
            columns = set(_ASKS_FOR.findall(sql))
            assert f"Seq Scan on {TABLE}" not in plan, (path, sql, plan)
            assert any(OPTIONAL_IDS[column] in plan for column in columns), (path, sql, plan)
            served.add(path)
            asked |= columns
    assert served == {*paths, "append"}
    assert asked == set(OPTIONAL_IDS)
