"""The dashboard pages: the home page and every page a home card leads to (held to a query count
independent of the data size by tests/test_dashboard_queries.py, timed by bench/search_explain.py)."""

DASHBOARD_PAGES = [
    "/",
    "/ledgers/",
    "/enhances/",
    "/enhances/?window=all",
    "/enhances/?window=90",
    "/enhances/?window=365",
    "/events/",
    "/runs/",
    "/releases/",
    "/logs/",
]
