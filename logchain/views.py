"""The log viewer page: one terminal-like stream (newest at the bottom) with filters, and the appender's health."""

from datetime import UTC, datetime

from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.filters import page_filterset, page_rows, page_status
from ledgerproject.ledger.pagination import KeysetPager
from logchain.appender import appender_stats
from logchain.filters import WINDOWS, LogViewerFilterSet
from logchain.levels import LEVELS
from logchain.models import LogRecord

PAGE_LINES = 500
# The node and daemon pickers offer what appeared among this many newest records (bounded work).
RECENT_FOR_PICKERS = 2000
PAGER = KeysetPager(("-seq",), PAGE_LINES)


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
    filterset = page_filterset(LogViewerFilterSet, request, LogRecord.objects.visible_to(request.user))
    page = PAGER.paginate(request, page_rows(filterset))
    lines = page.rows[::-1]  # a terminal: newest at the bottom
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
    return render(
        request,
        "logchain/viewer.html",
        {
            "form": filterset.form,
            "lines": lines,
            "terminal": terminal_html(lines),
            "page": page,
            "nodes": sorted(nodes),
            "daemons": sorted(daemons),
            "levels": LEVELS,
            "windows": list(WINDOWS),
            "appender": appender_stats(),
            "page_lines": PAGE_LINES,
        },
        status=page_status(filterset),
    )
