"""Read-only admin for the enhance log, with the review queue of rejected entries and the review page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from enhancelog.forms import ReviewForm
from enhancelog.models import KNOWN_AXES, EnhanceEntry, Review
from enhancelog.stats import DAY_MS, now_ms
from enhancelog.templatetags.enhancelog_tags import ms_datetime
from enhancelog.views import parse_keyset_cursor
from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.params import parse_int
from ledgerproject.ledger.redirects import safe_next

QUEUE_PAGE = 50
# The "all" view pages by OFFSET: beyond this a page is never reached by following links (and a
# larger OFFSET overflows the database integer).
MAX_OFFSET = 1_000_000
AGES = {
    "1d": ("last 24 hours", 1, None),
    "7d": ("last 7 days", 7, None),
    "30d": ("last 30 days", 30, None),
    "older7d": ("older than 7 days", None, 7),
    "older30d": ("older than 30 days", None, 30),
}
STATES = {"unreviewed": "Unreviewed", "reviewed": "Reviewed", "all": "All (unreviewed first)"}


class ReviewedFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("yes", "reviewed"), ("no", "not reviewed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.reviewed(self.value() == "yes")
        return queryset


class AxisFilter(admin.SimpleListFilter):
    title = "denied by axis"
    parameter_name = "denied_axis"

    def lookups(self, request, model_admin):
        return [(axis, axis) for axis in KNOWN_AXES]

    def queryset(self, request, queryset):
        return queryset.denied_on(self.value()) if self.value() else queryset


def verdict_chips(entry, denied_only=False):
    verdicts = [v for v in entry.verdicts if not denied_only or v.get("status") == "deny"]
    return format_html_join(
        " ",
        '<span class="badge badge-{}" title="{}: {}">{} {}</span>',
        ((v["status"], v["status"], v["detail"], v["axis"], "✗" if v["status"] == "deny" else "✓") for v in verdicts),
    )


@admin.register(EnhanceEntry)
class EnhanceEntryAdmin(ReadOnlyLedgerAdmin):
    list_display = ("issue_id", "blueprint_id", "status_badge", "verdict_summary", "claimed_time", "review_state")
    list_filter = ("status", AxisFilter, ReviewedFilter)
    # Exact matches on the keys stay index-served; intent is a substring search.
    search_fields = ("=issue_id", "=blueprint_id", "intent")
    search_help_text = "Exact issue id or blueprint id, or words from the intent."
    ordering = ("-ts_ms", "-seq")
    # Facet counts would count the whole table once per filter choice.
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "enhancelog/admin/change_list.html"
    actions = ["review_selected"]
    fieldsets = (
        (None, {"fields": ("issue_id", "blueprint_id", "status", "claimed_time", "prev_hash", "new_hash")}),
        ("Why", {"fields": ("intent", "rationale", "verdicts_table", "reasons_list")}),
        ("Review", {"fields": ("review_history",)}),
        ("Ledger", {"fields": ("seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash")}),
    )
    readonly_fields = ("claimed_time", "verdicts_table", "reasons_list", "review_history")

    class Media:
        css = {"all": ["enhancelog/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).with_review_state()

    @admin.display(description="status", ordering="status")
    def status_badge(self, entry):
        return format_html('<span class="badge badge-{}">{}</span>', entry.status, entry.status)

    @admin.display(description="verdicts")
    def verdict_summary(self, entry):
        return verdict_chips(entry)

    @admin.display(description="claimed time (UTC)", ordering="ts_ms")
    def claimed_time(self, entry):
        moment = ms_datetime(entry.ts_ms)
        return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else entry.ts_ms

    @admin.display(description="review")
    def review_state(self, entry):
        if entry.status != EnhanceEntry.REJECTED:
            return ""
        decision = getattr(entry, "review_decision", None)
        if decision:
            return format_html('<span class="badge badge-muted">{}</span>', decision)
        return mark_safe('<span class="badge badge-warn">unreviewed</span>')

    @admin.display(description="verdicts")
    def verdicts_table(self, entry):
        if not entry.verdicts:
            return "no verdicts"
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><span class="badge badge-{}">{}</span></td><td>{}</td></tr>',
            ((v["axis"], v["status"], v["status"], v["detail"]) for v in entry.verdicts),
        )
        return format_html(
            '<table class="verdicts"><thead><tr><th>axis</th><th>status</th><th>detail</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="reasons")
    def reasons_list(self, entry):
        if not entry.reasons:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in entry.reasons)))

    @admin.display(description="reviews")
    def review_history(self, entry):
        if entry.status != EnhanceEntry.REJECTED:
            return "applied entries are not reviewed"
        reviews = list(Review.objects.for_entry(entry).order_by("seq"))
        link = format_html(
            '<a class="button" href="{}">Record a review</a>',
            reverse("admin:enhancelog_enhanceentry_review") + "?" + urlencode({"ids": entry.pk}),
        )
        if not reviews:
            return format_html("unreviewed · {}", link)
        rows = format_html_join(
            "",
            "<li>{} — <strong>{}</strong> by {}{}</li>",
            (
                (
                    f"{r.recorded_at:%Y-%m-%d %H:%M}",
                    r.get_decision_display(),
                    r.recorded_by_name,
                    f": {r.comment}" if r.comment else "",
                )
                for r in reviews
            ),
        )
        return format_html("<ol>{}</ol>{}", rows, link)

    # --- review: permission, action, pages ------------------------------------------------------

    def has_review_permission(self, request):
        return request.user.has_perm("enhancelog.add_review")

    @admin.action(description="Review selected rejected entries", permissions=["review"])
    def review_selected(self, request, queryset):
        seqs = list(queryset.rejected().values_list("seq", flat=True)[:200])
        if not seqs:
            self.message_user(request, "Only rejected entries are reviewed; none was selected.", messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:enhancelog_enhanceentry_review") + "?" + urlencode({"ids": ",".join(map(str, seqs))})
        )

    def get_urls(self):
        extra = [
            path("queue/", self.admin_site.admin_view(self.queue_view), name="enhancelog_enhanceentry_queue"),
            path("review/", self.admin_site.admin_view(self.review_view), name="enhancelog_enhanceentry_review"),
        ]
        return extra + super().get_urls()

    def queue_view(self, request):
        """Rejected entries to triage, unreviewed first, filtered by blueprint, denied axis and age."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        params = request.GET
        state = params.get("state") if params.get("state") in STATES else "unreviewed"
        queryset = EnhanceEntry.objects.visible_to(request.user).rejected()
        blueprint = params.get("blueprint_id", "").strip()
        if blueprint:
            queryset = queryset.for_blueprint(blueprint)
        axis = params.get("denied_axis", "").strip()
        if axis:
            queryset = queryset.denied_on(axis)
        age = params.get("age") if params.get("age") in AGES else ""
        if age:
            _, within_days, older_days = AGES[age]
            now = now_ms()
            queryset = (
                queryset.filter(ts_ms__gte=now - within_days * DAY_MS)
                if within_days
                else queryset.filter(ts_ms__lt=now - older_days * DAY_MS)
            )
        if state == "unreviewed":
            queryset = queryset.reviewed(False).order_by("-ts_ms", "-seq")
        elif state == "reviewed":
            queryset = queryset.reviewed(True).order_by("-ts_ms", "-seq")
        else:
            queryset = queryset.with_review_state().order_by(
                ExpressionWrapper(Q(review_decision__isnull=False), output_field=BooleanField()), "-ts_ms", "-seq"
            )
        before = parse_keyset_cursor(params.get("before"))
        if before and state != "all":
            queryset = queryset.filter(Q(ts_ms__lt=before[0]) | Q(ts_ms=before[0], seq__lt=before[1]))
        offset = _int(params.get("offset")) if state == "all" else 0
        if state == "reviewed":
            queryset = queryset.with_review_state()  # unreviewed rows have no state to look up
        rows = list(queryset[offset : offset + QUEUE_PAGE + 1])
        more, rows = len(rows) > QUEUE_PAGE, rows[:QUEUE_PAGE]
        next_query = None
        if more:
            following = params.copy()
            if state == "all":
                following["offset"] = offset + QUEUE_PAGE
            else:
                following["before"] = f"{rows[-1].ts_ms}.{rows[-1].seq}"
            next_query = following.urlencode()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Review queue: rejected enhances",
            "rows": [{"entry": e, "denied": verdict_chips(e, denied_only=True)} for e in rows],
            "state": state,
            "states": STATES,
            "ages": {key: label for key, (label, _, _) in AGES.items()},
            "age": age,
            "axes": KNOWN_AXES,
            "axis": axis,
            "blueprint_id": blueprint,
            "next_query": next_query,
            "can_review": self.has_review_permission(request),
            "queue_url": request.get_full_path(),
        }
        return render(request, "enhancelog/admin/queue.html", context)

    def review_view(self, request):
        """Record one decision for one or several rejected entries (`?ids=seq,seq`)."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        ids = [seq for part in request.GET.get("ids", "").split(",") if (seq := parse_int(part, minimum=1))][:200]
        entries = list(
            EnhanceEntry.objects.visible_to(request.user)
            .filter(pk__in=ids)
            .with_review_state()
            .order_by("-ts_ms", "-seq")
        )
        applied = [e for e in entries if e.status != EnhanceEntry.REJECTED]
        entries = [e for e in entries if e.status == EnhanceEntry.REJECTED]
        back = safe_next(request, request.GET.get("next"), reverse("admin:enhancelog_enhanceentry_queue"))
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and entries and form.is_valid():
            try:
                Review.objects.append_many(
                    [{"entry": entry, **form.cleaned_data} for entry in entries], recorded_by=request.user
                )
            except (StateConflictError, ValidationError) as exc:
                self.message_user(request, getattr(exc, "message", None) or "; ".join(exc.messages), messages.ERROR)
            else:
                names = ", ".join(e.issue_id for e in entries)
                self.message_user(request, f"Recorded {form.cleaned_data['decision']} for {names}.", messages.SUCCESS)
                return HttpResponseRedirect(back)
        latest = Review.objects.latest_per_entry(entries)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Review rejected enhance" + ("s" if len(entries) > 1 else ""),
            "entries": [{"entry": e, "latest": latest.get(e.pk)} for e in entries],
            "skipped_applied": applied,
            "form": form,
            "back": back,
        }
        return render(request, "enhancelog/admin/review.html", context)


@admin.register(Review)
class ReviewAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "entry_issue", "decision", "recorded_by_name", "recorded_at")
    list_filter = ("decision",)
    search_fields = ("=entry__issue_id", "=recorded_by_name")
    list_select_related = ("entry",)
    ordering = ("-seq",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="issue", ordering="entry__issue_id")
    def entry_issue(self, review):
        return review.entry.issue_id


def _int(value):
    """A row number or offset from the query: 0 unless ASCII digits within what a page can reach."""
    return parse_int(value, minimum=0, maximum=MAX_OFFSET) or 0
