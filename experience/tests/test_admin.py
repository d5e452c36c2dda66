"""The experience admin: read-only, filterable by kind and tenant."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(make_user):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


def test_the_admin_lists_and_filters_events_but_cannot_change_them(admin_client_, make_event):
    first = make_event("BudgetExceeded", tenant_id="acme")
    make_event("OutcomeRecorded", tenant_id="globex")
    page = admin_client_.get("/admin/experience/experienceevent/?kind=BudgetExceeded&tenant_id=acme")
    assert page.status_code == 200
    assert first.event_id in page.content.decode()
    assert admin_client_.get("/admin/experience/experienceevent/add/").status_code == 403
    detail = admin_client_.get(f"/admin/experience/experienceevent/{first.seq}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert admin_client_.post(f"/admin/experience/experienceevent/{first.seq}/delete/").status_code == 403
