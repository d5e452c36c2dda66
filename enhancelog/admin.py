"""Read-only admin for the enhance log: entries, the review queue (a changelist of the UnreviewedRejection proxy), reviews."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from enhancelog.forms import ReviewForm
from enhancelog.models import KNOWN_AXES, EnhanceEntry, Review, UnreviewedRejection
from enhancelog.stats import DAY_MS, now_ms
from enhancelog.templatetags.enhancelog_tags import ms_datetime
from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.params import parse_int
from ledgerproject.ledger.redirects import safe_next

AGES = {
    "1d": ("last 24 hours", 1, None),
    "7d": ("last 7 days", 7, None),
    "30d": ("last 30 days", 30, None),
    "older7d": ("older than 7 days", None, 7),
    "older30d": ("older than 30 days", None, 30),
}
MAX_REVIEWED_AT_ONCE = 200


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


class AgeFilter(admin.SimpleListFilter):
    title = "claimed age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in AGES.items()]

    def queryset(self, request, queryset):
        if self.value() not in AGES:
            return queryset
        _, within_days, older_days = AGES[self.value()]
        if within_days:
            return queryset.filter(ts_ms__gte=now_ms() - within_days * DAY_MS)
        return queryset.filter(ts_ms__lt=now_ms() - older_days * DAY_MS)


def verdict_chips(entry, denied_only=False):
    verdicts = [v for v in entry.verdicts if not denied_only or v.get("status") == "deny"]
    return format_html_join(
        " ",
        '<span class="badge badge-{}" title="{}: {}">{} {}</span>',
        ((v["status"], v["status"], v["detail"], v["axis"], "✗" if v["status"] == "deny" else "✓") for v in verdicts),
    )


def review_url(seqs, back=None):
    """The review page for these entries; after recording, it returns to `back` (the queue by default)."""
    query = {"ids": ",".join(map(str, seqs))}
    if back:
        query["next"] = back
    return reverse("admin:enhancelog_enhanceentry_review") + "?" + urlencode(query)


class EnhanceEntryDisplay:
    """Columns, the entry page's sections and the review action, shared by the entries and the queue."""

    search_fields = ("=issue_id", "=blueprint_id", "intent")  # ids through their indexes, words in the newest entries
    ordering = ("-ts_ms", "-seq")
    # Facet counts would count the whole table once per filter choice.
    show_facets = admin.ShowFacets.NEVER
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
            review_url([entry.pk]),
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

    def has_review_permission(self, request):
        return request.user.has_perm("enhancelog.add_review")

    @admin.action(description="Review selected rejected entries", permissions=["review"])
    def review_selected(self, request, queryset):
        seqs = list(queryset.rejected().values_list("seq", flat=True)[:MAX_REVIEWED_AT_ONCE])
        if not seqs:
            self.message_user(request, "Only rejected entries are reviewed; none was selected.", messages.WARNING)
            return None
        return HttpResponseRedirect(review_url(seqs, back=request.get_full_path()))


@admin.register(EnhanceEntry)
class EnhanceEntryAdmin(EnhanceEntryDisplay, ReadOnlyLedgerAdmin):
    list_display = ("issue_id", "blueprint_id", "status_badge", "verdict_summary", "claimed_time", "review_state")
    list_filter = ("status", AxisFilter, ReviewedFilter)
    change_list_template = "enhancelog/admin/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).with_review_state()

    def get_urls(self):
        review = self.admin_site.admin_view(self.review_view)
        return [path("review/", review, name="enhancelog_enhanceentry_review"), *super().get_urls()]

    def review_view(self, request):
        """Record one decision for one or several rejected entries (`?ids=seq,seq`): one append each."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        ids = request.GET.get("ids", "").split(",")
        ids = [seq for part in ids if (seq := parse_int(part, minimum=1))][:MAX_REVIEWED_AT_ONCE]
        entries = list(
            EnhanceEntry.objects.visible_to(request.user)
            .filter(pk__in=ids)
            .with_review_state()
            .order_by("-ts_ms", "-seq")
        )
        applied = [e for e in entries if e.status != EnhanceEntry.REJECTED]
        entries = [e for e in entries if e.status == EnhanceEntry.REJECTED]
        queue = reverse("admin:enhancelog_unreviewedrejection_changelist")
        back = safe_next(request, request.GET.get("next"), queue)
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
            "queue_url": queue,
        }
        return render(request, "enhancelog/admin/review.html", context)


@admin.register(UnreviewedRejection)
class ReviewQueueAdmin(EnhanceEntryDisplay, ReadOnlyLedgerAdmin):
    """The review queue: an ordinary changelist of rejected entries nobody has reviewed, newest first.

    Its own proxy permissions are never granted: whoever may read the enhance log may see the queue,
    and the review action needs enhancelog.add_review (a review is an append, never an edit).
    """

    list_display = ("issue_id", "blueprint_id", "denied", "reasons_short", "claimed_time", "review_button")
    list_filter = (AxisFilter, AgeFilter)
    # The rejected entries' own (ts_ms, seq) index reads the queue in claimed-time order; the issue and blueprint
    # indexes hold every entry, so sorting by them would walk past the applied ones.
    sortable_by = ("claimed_time",)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("enhancelog.view_enhanceentry")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if self.has_review_permission(request) else [c for c in shown if c != "review_button"]

    @admin.display(description="denied")
    def denied(self, entry):
        return verdict_chips(entry, denied_only=True)

    @admin.display(description="reasons")
    def reasons_short(self, entry):
        return "; ".join(entry.reasons)[:200] if entry.reasons else "—"

    @admin.display(description="review")
    def review_button(self, entry):
        return format_html(
            '<a class="button" href="{}" data-testid="review-{}">Review</a>', review_url([entry.pk]), entry.issue_id
        )


@admin.register(Review)
class ReviewAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "entry_issue", "decision", "recorded_by_name", "recorded_at")
    list_filter = ("decision",)
    search_fields = ("=entry__issue_id",)
    list_select_related = ("entry",)
    ordering = ("-seq",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="issue", ordering="entry__issue_id")
    def entry_issue(self, review):
        return review.entry.issue_id
