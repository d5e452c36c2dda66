"""Release pages: every agent name with its current release, and one name's history as a timeline."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render

from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.pagination import KeysetPager
from ledgerproject.ledger.tenancy import named_tenant
from releases.asof import parse_as_of
from releases.models import Release, release_stats, validate_name
from releases.serializers import blob_digests

NAMES_PER_PAGE = 100
ENTRIES_PER_PAGE = 200
INDEX_PAGER = KeysetPager(("name", "seq"), NAMES_PER_PAGE)
HISTORY_PAGER = KeysetPager(("-seq",), ENTRIES_PER_PAGE)


@requires_permission("releases.view_release")
def index(request):
    query = request.GET.get("q", "").strip()
    visible = Release.objects.visible_to(request.user)
    # A page reads its size + 1 rows in (name, seq) order from the cursor on: they lie among the next size + 2
    # names from the cursor's own (which may have nothing left past the cursor), since each (tenant, name)
    # has exactly one current release. Only those names are probed, however many names there are.
    position, backwards = INDEX_PAGER.position(request, Release)
    names = Release.objects.name_window(
        request.user,
        after=position[0] if position else None,
        backwards=backwards,
        count=INDEX_PAGER.page_size_of(request) + 2,
        contains=query,
    )
    page = INDEX_PAGER.paginate(request, visible.currents(names=names))  # `q` narrowed the names already
    rows = page.rows
    stats = release_stats(request.user, {row.name for row in rows})
    blobs = blob_digests((row.spec_digest for row in rows), request.user)
    for row in rows:
        row.stats = stats.get(row.name, {"entries": 0, "rollbacks": 0})
        row.has_blob = row.spec_digest in blobs
    return render(request, "releases/index.html", {"rows": rows, "page": page, "query": query})


@requires_permission("releases.view_release")
def history(request, name):
    try:
        validate_name(name)
    except ValidationError:
        raise Http404("not a release name") from None
    mine = Release.objects.visible_to(request.user).of_tenant(named_tenant(request))
    page = HISTORY_PAGER.paginate(request, mine.select_related("rolled_back_to").history(name))
    entries = page.rows
    latest = entries[0] if page.is_first and entries else mine.current(name)
    if latest is None:
        raise Http404(f"There is no release called {name!r}.")

    as_of_text = request.GET.get("as_of", "").strip()
    as_of = as_of_error = current_at = None
    if as_of_text:
        try:
            as_of = parse_as_of(as_of_text)
        except ValueError as exc:
            as_of_error = str(exc)
        else:
            current_at = mine.current_as_of(name, as_of)
    first = None
    if as_of is not None and current_at is None:
        first = mine.for_name(name).order_by("seq").first()

    blobs = blob_digests((entry.spec_digest for entry in entries), request.user)
    shown = {entry.seq for entry in entries}
    for entry in entries:
        entry.has_blob = entry.spec_digest in blobs
        entry.is_current = entry.seq == latest.seq
        entry.is_current_at = current_at is not None and entry.seq == current_at.seq
        entry.after_as_of = as_of is not None and entry.recorded_at > as_of
        entry.target_shown = entry.rolled_back_to_id in shown
        if entry.rolled_back_to_id and not entry.target_shown:
            # The page that starts with the restored entry: the one right after the seq above it.
            entry.target_query = HISTORY_PAGER.query_past(request, (entry.rolled_back_to.seq + 1,))
    context = {
        "name": name,
        "entries": entries,
        "latest": latest,
        "stats": release_stats(request.user, [name], tenant=named_tenant(request))[name],
        "page": page,
        "as_of": as_of,
        "as_of_text": as_of_text,
        "as_of_value": as_of.strftime("%Y-%m-%dT%H:%M:%S") if as_of else "",
        "as_of_error": as_of_error,
        "current_at": current_at,
        "first": first,
    }
    return render(request, "releases/history.html", context, status=400 if as_of_error else 200)
