"""The log viewer page: one terminal-like stream (newest at the bottom) with filters, and the appender's health."""

from datetime import UTC, datetime
from html import escape

from django.shortcuts import render
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
    tags cost far more than the query behind them (every number went through localization). Text
    columns are escaped with the escape Django's own uses (html.escape); numbers are integers."""
    parts = []
    for line in lines:
        moment = datetime.fromtimestamp(line.ts_ms // 1000, UTC)
        node = line.node_id
        parts.append(
            LINE_HTML.format(
                level=escape(line.level),
                level_upper=escape(line.level.upper()),
                node=int(node),
                node_seq=int(line.node_seq),
                seq=int(line.seq),
                ts_ms=int(line.ts_ms),
                iso=moment.isoformat(),
                shown=f"{moment:%Y-%m-%d %H:%M:%S}.{line.ts_ms % 1000:03d}",
                daemon="" if line.daemon_id is None else DAEMON_HTML.format(node=int(node), daemon=int(line.daemon_id)),
                pending=PENDING_HTML if line.chain_pending else "",
                message=escape(line.message),
            )
        )
    # Safe: every text value was escaped above; the rest are integers and the constant markup.
    return mark_safe("\n".join(parts))


def datalist_options(numbers):
    """The pickers' <option>s, built here like the stream: up to 2,000 numbers through a template loop
    cost more than the page's queries (each one was localized)."""
    # Safe: the values are integers (node and daemon ids), nothing a browser could read as markup.
    return mark_safe("".join(f'<option value="{int(number)}">' for number in sorted(numbers)))


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
            "node_options": datalist_options(nodes),
            "daemon_options": datalist_options(daemons),
            "levels": LEVELS,
            "windows": list(WINDOWS),
            "appender": appender_stats(),
            "page_lines": PAGE_LINES,
        },
        status=page_status(filterset),
    )
