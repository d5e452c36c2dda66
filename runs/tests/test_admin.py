"""The admin shows every runs ledger read-only: lists and entries render, nothing can be added, changed or deleted."""

import pytest
from django.test import Client

from runs.models import Blob, BlobChange, Output, Run, RunEvent, RunOutcome

pytestmark = pytest.mark.django_db

MODELS = [Blob, BlobChange, Run, RunEvent, RunOutcome, Output]


@pytest.fixture
def admin_client_(make_user):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def one_of_each(put_blob, make_run, add_events, finish_run, emit):
    from runs import blobstore

    blob = put_blob(b"gone soon")
    blobstore.delete_blob(blob.digest)
    run = make_run()
    add_events(run, {"kind": "k", "payload": {"a": 1}})
    finish_run(run)
    emit()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_admin_lists_and_shows_entries_read_only(admin_client_, one_of_each, model):
    opts = model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    assert admin_client_.get(base).status_code == 200
    entry = model.objects.first()
    page = admin_client_.get(f"{base}{entry.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client_.get(f"{base}add/").status_code == 403
    assert admin_client_.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=entry.pk).exists()
