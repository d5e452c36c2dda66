"""The ledgers' filtering: the base of every FilterSet, and the API's backend, whose refusal is a 400 rendered once."""

import copy
from datetime import UTC, datetime

import django_filters
from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from ledgerproject.ledger.validators import MAX_JSON_INT


class LedgerFilterSet(django_filters.FilterSet):
    """The base of every ledger's FilterSet (API lists and pages): made for each request without rebuilding what
    does not change from one request to the next.

    django-filter deep-copies every declared filter for each FilterSet it makes, to point the copies at it, then
    builds a form class from new form fields, each labelled from the model's field: on an API list that was more
    Python than the page's own query. Here each filter is copied shallowly and pointed at this FilterSet, its
    `method` bound to the copy (as the deep copy binds it); the form class is made once per FilterSet class and
    model (its fields come from the filters' declarations alone), and each form still deep-copies its fields, as
    Django's forms do. A FilterSet with a filter whose form field is made otherwise (from the request, the table or
    a `field` of its own) keeps django-filter's per-request form. `ledger/tests/test_filtersets.py` holds every
    FilterSet of the project to django-filter's own answers and rendered form.
    """

    _form_classes = {}  # (FilterSet class, model) → its form class

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        # django-filter's BaseFilterSet.__init__, with the filters copied shallowly.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        model = queryset.model
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: _filter_for(self, declared, model) for name, declared in self.base_filters.items()}

    def get_form_class(self):
        key = (type(self), self.queryset.model)
        form_class = self._form_classes.get(key)
        if form_class is None:
            form_class = super().get_form_class()
            # Kept only when every filter makes its form field from its declaration alone (django-filter's own
            # builders of that kind): a field made from the request (model choices from a queryset callable), from
            # the table (AllValuesFilter's choices) or by a project's own `field` is built for each request, as
            # django-filter builds it.
            if all(type(each).field in _DECLARED_FIELD_BUILDERS for each in self.filters.values()):
                self._form_classes[key] = form_class
        return form_class


# The `field` properties that build a filter's form field from its declaration alone.
_DECLARED_FIELD_BUILDERS = (
    django_filters.Filter.field,
    django_filters.NumberFilter.field,
    django_filters.LookupChoiceFilter.field,
)


def _filter_for(filterset, declared, model):
    """A shallow copy of the declared filter, for `filterset` over `model`."""
    copied = copy.copy(declared)
    copied.model, copied.parent = model, filterset
    # Its own keyword arguments: building a field may write to them (a queryset, choices), as on a deep copy.
    copied.extra = dict(declared.extra)
    if copied.method is not None:
        copied.method = copied.method  # a FilterMethod of the copy (the declared one's calls its own parent)
    return copied


def filter_errors(filterset):
    """A FilterSet's errors as {parameter: [message, …]}, each message already rendered once.

    django-filter's own translation applies `message % params` a second time, so a value containing
    `%` that a validator quoted in its message would raise TypeError (a 500) instead of a 400.
    """
    return {name: [str(message) for message in messages] for name, messages in filterset.errors.items()}


def refuse_instants_outside_the_calendar(filterset):
    """Add an error for each instant whose UTC time falls outside years 1–9999.

    `0001-01-01T00:00:00+14:00` parses, but SQLite's driver raises OverflowError converting it to UTC
    while PostgreSQL compares it: refusing it here answers the same 400 on both engines.
    """
    for name, value in list(filterset.form.cleaned_data.items()):
        for moment in value if isinstance(value, (list, tuple, slice)) else [value]:
            if isinstance(moment, datetime) and moment.tzinfo is not None:
                try:
                    moment.astimezone(UTC)
                except OverflowError:
                    filterset.form.add_error(name, "This instant falls outside the calendar (years 1–9999) in UTC.")
                    break


class LedgerFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if filterset.is_valid():
            refuse_instants_outside_the_calendar(filterset)
        if filterset.errors and self.raise_exception:
            raise ValidationError(filter_errors(filterset))
        return filterset.qs


def page_filterset(filterset_class, request, queryset):
    """A page's FilterSet over its query string, refusing what the API refuses (the calendar check included).

    The page answers 400 with `filterset.errors` shown beside the form, and lists nothing: the same
    values the API refuses with a 400 are never silently dropped from a page's filter.
    """
    filterset = filterset_class(request.GET, queryset=queryset, request=request)
    if filterset.is_valid():
        refuse_instants_outside_the_calendar(filterset)
    return filterset


def page_rows(filterset):
    """The filtered queryset, or none when any filter value was refused."""
    return filterset.queryset.none() if filterset.errors else filterset.qs


def page_status(filterset):
    return 400 if filterset.errors else 200


def _applied_by_the_view(queryset, name, value):
    # A cap must count only the rows every other filter kept: the view applies it last.
    return queryset


def CapFilter(help_text):  # noqa: N802 - reads like the filter classes beside it
    """A `?limit=`-style cap: a whole number from 1, validated here, applied by the view."""
    return django_filters.NumberFilter(
        method=_applied_by_the_view, min_value=1, max_value=MAX_JSON_INT, help_text=help_text
    )
