"""Benchmark: every ledger's admin list, in process, on the database as it is (the 10M one): the list, a search by each
id field and by a word, and each sortable column, p50/p95 per request.

    DJANGO_DEBUG=1 DATABASE_URL=postgres://…/ledger10m .venv/bin/python bench/admin_lists.py [--runs 5] [--only enhancelog]

Nothing is loaded or migrated: point it at a database search_explain.py filled (bench/README.md, "Running it at 10M").
An id searched is one no entry holds (the planner sees it as rare, as one id among a big ledger's is); the word is one
the benchmark's entries hold. ledger/tests/test_admin_reads.py holds every one of these reads to an index; this
script says what they cost at the size loaded.
"""

import argparse
import time
import uuid

from harness import p50_p95, setup_django

setup_django()

from django.contrib import admin  # noqa: E402
from django.contrib.admin.utils import get_fields_from_path  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from ledgerproject.ledger.models import newest_seq  # noqa: E402
from ledgerproject.ledger.registry import ledger_models  # noqa: E402

WORDS = {"enhancelog": "retry", "logchain": "finished"}


def absent(model, path):
    field = get_fields_from_path(model, path)[-1]
    if isinstance(field, models.UUIDField):
        return str(uuid.uuid4())
    return "987654321" if isinstance(field, models.IntegerField) else "absent-id"


def cases(model, model_admin, request):
    yield "list", {}
    for field in model_admin.search_fields:
        if field.startswith("="):
            yield f"search {field[1:]}", {"q": absent(model, field[1:])}
        else:
            yield f"search words of {field}", {"q": WORDS.get(model.ledger_name, "a")}
    sortable = model_admin.get_sortable_by(request)
    for number, name in enumerate(model_admin.get_list_display(request)):
        if name in sortable and name != "seq":
            yield f"sorted by {name}", {"o": str(number)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed requests per case")
    parser.add_argument("--only", help="ledgers whose name holds this text")
    args = parser.parse_args()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    print(f"{'ledger':14} {'entries':>12}  {'case':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for model in ledger_models():
        if args.only and args.only not in model.ledger_name or model not in admin.site._registry:
            continue
        model_admin = admin.site._registry[model]
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        entries = newest_seq(model._base_manager)
        request = client.get(changelist).wsgi_request  # warm, and the request the admin's choices are made for
        for label, query in cases(model, model_admin, request):
            samples = []
            for _ in range(args.runs):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(changelist, query)
                    samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (model.ledger_name, label, response.status_code)
            p50, p95 = p50_p95(samples)
            print(
                f"{model.ledger_name:14} {entries:>12,}  {label:34} {p50:8.1f} {p95:8.1f} {len(captured):8}", flush=True
            )


if __name__ == "__main__":
    main()
