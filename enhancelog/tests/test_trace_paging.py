"""Blueprint traces are paged like every list, page and API, and still find every continuity break."""

import re

import pytest

pytestmark = pytest.mark.django_db

HASHES = [f"{n:064x}" for n in range(1, 40)]


@pytest.fixture
def long_trace(make_enhance):
    """12 attempts of blueprint "bp": a break at v5 (page 2's first applied entry when paged by 4) and at v10."""
    made = []
    for n in range(12):
        if n == 3:
            made.append(make_enhance(issue_id="r3", blueprint_id="bp", ts_ms=n, status="rejected", prev_hash=HASHES[n]))
            continue
        prev = HASHES[n + 20] if n in (4, 9) else HASHES[n - 1 if n != 4 else n]
        made.append(make_enhance(issue_id=f"v{n}", blueprint_id="bp", ts_ms=n, prev_hash=prev, new_hash=HASHES[n]))
    return made


def _whole(reader_api, url, page_size):
    pages, url = [], f"{url}?page_size={page_size}"
    while url:
        body = reader_api.get(url).json()
        pages.append(body)
        url = body["next"]
    return pages


def test_the_api_pages_a_trace_and_finds_the_same_breaks_as_the_whole_trace(reader_api, long_trace):
    whole = reader_api.get("/api/v1/blueprints/bp/trace/?page_size=1000").json()
    assert whole["next"] is None and len(whole["entries"]) == 12
    assert [b["issue_id"] for b in whole["breaks"]] == ["v4", "v9"]
    pages = _whole(reader_api, "/api/v1/blueprints/bp/trace/", 4)
    assert [len(p["entries"]) for p in pages] == [4, 4, 4]
    assert [r["issue_id"] for p in pages for r in p["entries"]] == [r["issue_id"] for r in whole["entries"]]
    assert [b for p in pages for b in p["breaks"]] == whole["breaks"]
    # The totals describe the whole blueprint on every page; the response keeps its shape.
    for body in pages:
        assert (body["count"], body["applied"], body["rejected"]) == (12, 11, 1)
        assert body["head_hash"] == HASHES[11]
        assert {"blueprint_id", "count", "applied", "rejected", "head_hash", "entries", "breaks"} <= set(body)


def test_a_break_at_the_first_entry_of_a_page_is_found(reader_api, long_trace):
    # Page size 4: v4 is the first entry of page 2, compared with v2 (page 1's last applied).
    second = _whole(reader_api, "/api/v1/blueprints/bp/trace/", 4)[1]
    assert second["entries"][0]["issue_id"] == "v4"
    assert second["breaks"][0]["issue_id"] == "v4" and second["breaks"][0]["after_issue_id"] == "v2"


def test_the_api_pages_by_default_and_refuses_bad_paging(reader_api, make_enhance):
    for n in range(105):
        make_enhance(issue_id=f"e{n}", blueprint_id="big", ts_ms=n, prev_hash=HASHES[0], new_hash=HASHES[0])
    body = reader_api.get("/api/v1/blueprints/big/trace/").json()
    assert len(body["entries"]) == 100 and body["count"] == 105 and "cursor=" in body["next"]
    assert body["previous"] is None
    # The older `after=<ts_ms>.<seq>` still names a position; the links it gets back use `cursor`.
    older = reader_api.get("/api/v1/blueprints/big/trace/?after=99.100").json()
    assert [e["issue_id"] for e in older["entries"]] == [f"e{n}" for n in range(100, 105)]
    assert "cursor=" in older["previous"] and "after=" not in older["previous"]
    for bad in ("page_size=0", "page_size=1001", "page_size=x", "page_size=٣", "after=nope", "cursor=nope"):
        name = bad.partition("=")[0]
        # The error names the parameter, and is JSON like every error, whatever ?format= asks for.
        for fmt in ("", "&format=csv"):
            response = reader_api.get(f"/api/v1/blueprints/big/trace/?{bad}{fmt}")
            assert response.status_code == 400 and response["Content-Type"] == "application/json", bad
            assert set(response.json()) == {"detail", name}, bad


def test_the_trace_page_shows_one_page_and_links_the_next(client, bob, make_enhance, django_assert_max_num_queries):
    for n in range(130):
        make_enhance(issue_id=f"e{n}", blueprint_id="big", ts_ms=n, prev_hash=HASHES[0], new_hash=HASHES[0])
    client.force_login(bob)
    with django_assert_max_num_queries(10):
        first = client.get("/enhances/blueprints/big/").content.decode()
    assert first.count('class="step ') == 100 and 'data-issue="e99"' in first and 'data-issue="e100"' not in first
    following = re.search(r'href="(\?cursor=[^"]+)" rel="next" data-testid="older"', first)
    assert following
    second = client.get("/enhances/blueprints/big/" + following.group(1)).content.decode()
    assert second.count('class="step ') == 30 and 'data-issue="e100"' in second
    assert 'data-testid="older"' not in second and 'data-testid="newest"' in second
    assert "130 attempts" in second
