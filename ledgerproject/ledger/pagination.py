"""Cursor pagination for every list: stable under appends, no page counts, page_size up to 1000."""

from rest_framework.pagination import CursorPagination


class LedgerCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "seq"

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", None) or ("seq",)
