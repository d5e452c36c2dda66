"""The log viewer page: filters, newest at the bottom, paging back, bad input, the appender panel."""

import pytest

from logchain import demo
from logchain.models import LogRecord

pytestmark = pytest.mark.django_db
URL = "/logs/"


@pytest.fixture
def reader_client(client, bob):
    client.force_login(bob)
    return client


def lines_of(response):
    assert response.status_code == 200
    return [(line.node_id, line.node_seq) for line in response.context["lines"]]


def test_it_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_needs_read_access(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get(URL).status_code == 403


def test_it_shows_the_newest_lines_at_the_bottom(reader_client, make_log):
    make_log(node_id=1, seq=1, message="first line")
    make_log(node_id=1, seq=2, message="second line")
    response = reader_client.get(URL)
    assert lines_of(response) == [(1, 1), (1, 2)]
    html = response.content.decode()
    assert html.index("first line") < html.index("second line")


def test_it_filters_by_node_daemon_level_and_text(reader_client, make_log):
    make_log(node_id=1, seq=1, daemon_id=7, level="Info", message="heartbeat ok")
    make_log(node_id=1, seq=2, daemon_id=8, level="Error", message="fsync failed")
    make_log(node_id=2, seq=1, daemon_id=7, level="Warn", message="replica lagging")
    assert lines_of(reader_client.get(URL, {"node": 1})) == [(1, 1), (1, 2)]
    assert lines_of(reader_client.get(URL, {"daemon": 7})) == [(1, 1), (2, 1)]
    assert lines_of(reader_client.get(URL, {"min_level": "Warn"})) == [(1, 2), (2, 1)]
    assert lines_of(reader_client.get(URL, {"q": "FSYNC"})) == [(1, 2)]


def test_it_filters_by_a_utc_time_window(reader_client, make_log):
    make_log(seq=1, ts_ms=1_767_225_600_000)  # 2026-01-01T00:00:00Z
    make_log(seq=2, ts_ms=1_767_229_200_000)  # 01:00
    make_log(seq=3, ts_ms=1_767_232_800_000)  # 02:00
    response = reader_client.get(URL, {"since": "2026-01-01T00:30", "until": "2026-01-01T02:00"})
    assert lines_of(response) == [(100, 2), (100, 3)]


def test_the_relative_window_counts_back_from_now(reader_client, make_log):
    import time

    now_ms = int(time.time() * 1000)
    make_log(seq=1, ts_ms=now_ms - 2 * 3600 * 1000, message="two hours ago")
    make_log(seq=2, ts_ms=now_ms - 60 * 1000, message="a minute ago")
    assert lines_of(reader_client.get(URL, {"window": "1h"})) == [(100, 2)]


def test_bad_filters_are_refused_with_a_400_naming_them_not_ignored(reader_client, make_log):
    make_log(seq=1)
    response = reader_client.get(URL, {"node": "alpha", "min_level": "Loud", "since": "yesterday"})
    assert response.status_code == 400 and response.context["lines"] == []
    html = response.content.decode()
    assert 'data-testid="filter-errors"' in html and "node" in html


def test_it_pages_back_to_older_lines_and_forward_again(reader_client, make_log):
    for seq in range(1, 8):
        make_log(node_id=1, seq=seq)
    first = reader_client.get(URL + "?page_size=3")
    assert lines_of(first) == [(1, 5), (1, 6), (1, 7)] and first.context["page"].next_query
    older = reader_client.get(URL + first.context["page"].next_query)
    assert lines_of(older) == [(1, 2), (1, 3), (1, 4)]
    oldest = reader_client.get(URL + older.context["page"].next_query)
    assert lines_of(oldest) == [(1, 1)] and oldest.context["page"].next_query is None
    newer = reader_client.get(URL + oldest.context["page"].previous_query)
    assert lines_of(newer) == [(1, 2), (1, 3), (1, 4)]


def test_it_keeps_the_viewers_window_and_node_filters_through_the_filterset(reader_client, make_log):
    make_log(node_id=1, seq=1)
    make_log(node_id=2, seq=1)
    assert lines_of(reader_client.get(URL, {"node": "2"})) == [(2, 1)]
    assert lines_of(reader_client.get(URL, {"node_id": "1"})) == [(1, 1)]
    assert reader_client.get(URL, {"window": "1y"}).status_code == 400


def test_it_marks_lines_that_were_pending(reader_client, make_log):
    make_log(seq=1, chain_pending=True)
    assert "did not reach a chain on its first attempt" in reader_client.get(URL).content.decode()


def test_it_shows_the_appender_health_panel(reader_client, process_appender):
    from logchain.tests.conftest import fixture_record

    for seq in range(1, 53):
        process_appender.append(fixture_record(seq))
    html = reader_client.get(URL).content.decode()
    assert 'data-testid="appender-capacity">50<' in html
    assert 'data-testid="appender-buffered">50<' in html
    assert 'data-testid="appender-dropped">2<' in html
    assert 'data-testid="appender-pending">0<' in html


def test_the_page_query_count_does_not_grow_with_the_data(reader_client, make_log, django_assert_max_num_queries):
    for seq in range(1, 41):
        make_log(seq=seq, daemon_id=seq % 4)
    reader_client.get(URL)  # warm the session and permission caches
    with django_assert_max_num_queries(8):
        assert len(lines_of(reader_client.get(URL, {"min_level": "Info"}))) == 40


def test_the_demo_loads_realistic_streams_once():
    summary = demo.load(seed=7)
    count = LogRecord.objects.count()
    assert count == demo.PER_NODE * len(demo.NODES)
    assert "log records" in summary
    for node_id in demo.NODES:
        seqs = list(LogRecord.objects.for_node(node_id).order_by("seq").values_list("node_seq", flat=True))
        assert seqs == list(range(1, demo.PER_NODE + 1))
    assert set(LogRecord.objects.values_list("level", flat=True)) >= {"Debug", "Info", "Warn", "Error"}
    assert "left as it is" in demo.load(seed=7)
    assert LogRecord.objects.count() == count


def test_a_message_is_shown_as_text_never_as_markup(reader_client, make_log):
    make_log(seq=1, message='<script>alert("x")</script> & <b>bold</b>')
    html = reader_client.get(URL).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_the_node_and_daemon_pickers_offer_the_recent_ids_in_order(reader_client, make_log):
    make_log(node_id=12, seq=1, daemon_id=3)
    make_log(node_id=2, seq=1, daemon_id=None)
    make_log(node_id=12, seq=2, daemon_id=1)
    make_log(node_id=1005, seq=1, daemon_id=3)
    html = reader_client.get(URL).content.decode()
    nodes = html[html.index('<datalist id="known-nodes">') :].split("</datalist>")[0]
    daemons = html[html.index('<datalist id="known-daemons">') :].split("</datalist>")[0]
    assert nodes.endswith('<option value="2"><option value="12"><option value="1005">')
    assert daemons.endswith('<option value="1"><option value="3">')
