"""The log viewer page: one terminal-like stream (newest at the bottom) with filters, and the appender's health."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.appender import appender_stats
from logchain.levels import LEVELS
from logchain.models import LogRecord

PAGE_LINES = 500
# The node and daemon pickers offer what appeared among this many newest records (bounded work).
RECENT_FOR_PICKERS = 2000
WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


class LogFilterForm(forms.Form):
    node = forms.IntegerField(required=False, min_value=0, max_value=MAX_JSON_INT)
    daemon = forms.IntegerField(required=False, min_value=0, max_value=MAX_JSON_INT)
    min_level = forms.ChoiceField(required=False, choices=[("", "any level"), *[(name, name) for name in LEVELS]])
    window = forms.ChoiceField(required=False, choices=[("", "all time"), *[(key, f"last {key}") for key in WINDOWS]])
    since = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    until = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    q = forms.CharField(required=False, max_length=200, strip=True)
    before = forms.IntegerField(required=False, min_value=1)


def _epoch_ms(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the page speaks UTC, like the rest of the project
    return int(moment.timestamp() * 1000)


def filtered_records(params, now=None, user=None):
    """The records the filters select (newest first, unsliced) and the form with any errors."""
    form = LogFilterForm(params)
    form.is_valid()
    data = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    records = LogRecord.objects.visible_to(user)
    if data.get("node") is not None:
        records = records.for_node(data["node"])
    if data.get("daemon") is not None:
        records = records.for_daemon(data["daemon"])
    if data.get("min_level"):
        records = records.at_least(data["min_level"])
    since_ms = _epoch_ms(data["since"]) if data.get("since") else None
    until_ms = _epoch_ms(data["until"]) if data.get("until") else None
    if data.get("window"):
        since_ms = _epoch_ms((now or datetime.now(UTC)) - WINDOWS[data["window"]])
    records = records.between_ms(since_ms, until_ms).search(data.get("q"))
    if data.get("before"):
        records = records.filter(seq__lt=data["before"])
    return records.order_by("-seq"), form


LINE_HTML = (
    '<div class="log-line lvl-{level}" data-testid="log-line" data-level="{level}" data-node="{node}" data-seq="{node_seq}">'
    '<time datetime="{iso}" title="ts_ms {ts_ms}">{shown}</time> <span class="lvl">{level_upper}</span> '
    '<a class="src" href="?node={node}" title="only node {node}">n{node}</a>{daemon} '
    '<span class="nseq" title="the node\'s seq; ledger entry #{seq}">#{node_seq}</span> {pending}'
    '<span class="msg">{message}</span></div>'
)
DAEMON_HTML = '/<a class="src" href="?node={node}&amp;daemon={daemon}" title="only daemon {daemon}">d{daemon}</a>'
PENDING_HTML = '<span class="pending" title="did not reach a chain on its first attempt">pending</span> '


def terminal_html(lines):
    """The stream's lines as HTML, built here rather than in the template: 500 lines through template
    tags cost far more than the query behind them (every number went through localization)."""
    parts = []
    for line in lines:
        moment = datetime.fromtimestamp(line.ts_ms // 1000, UTC)
        parts.append(
            format_html(
                LINE_HTML,
                level=line.level,
                level_upper=line.level.upper(),
                node=str(line.node_id),
                node_seq=str(line.node_seq),
                seq=str(line.seq),
                ts_ms=str(line.ts_ms),
                iso=moment.isoformat(),
                shown=f"{moment:%Y-%m-%d %H:%M:%S}.{line.ts_ms % 1000:03d}",
                daemon=""
                if line.daemon_id is None
                else format_html(DAEMON_HTML, node=str(line.node_id), daemon=str(line.daemon_id)),
                pending=mark_safe(PENDING_HTML) if line.chain_pending else "",
                message=line.message,
            )
        )
    # Safe: every part came out of format_html, which escaped each value.
    return mark_safe("\n".join(parts))


@requires_permission("logchain.view_logrecord")
def viewer(request):
    records, form = filtered_records(request.GET, user=request.user)
    newest_first = list(records[: PAGE_LINES + 1])
    has_older = len(newest_first) > PAGE_LINES
    lines = newest_first[:PAGE_LINES][::-1]
    recent = (
        LogRecord.objects.visible_to(request.user)
        .order_by("-seq")
        .values_list("node_id", "daemon_id")[:RECENT_FOR_PICKERS]
    )
    nodes, daemons = set(), set()
    for node_id, daemon_id in recent:
        nodes.add(node_id)
        if daemon_id is not None:
            daemons.add(daemon_id)
    older = request.GET.copy()
    if lines:
        older["before"] = lines[0].seq
    newer = request.GET.copy()
    newer.pop("before", None)
    return render(
        request,
        "logchain/viewer.html",
        {
            "form": form,
            "lines": lines,
            "terminal": terminal_html(lines),
            "has_older": has_older,
            "older_query": older.urlencode(),
            "latest_query": newer.urlencode(),
            "paged": bool(request.GET.get("before")),
            "nodes": sorted(nodes),
            "daemons": sorted(daemons),
            "levels": LEVELS,
            "windows": list(WINDOWS),
            "appender": appender_stats(),
            "page_lines": PAGE_LINES,
        },
    )
