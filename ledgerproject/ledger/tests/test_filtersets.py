"""Every FilterSet of the project is the kernel's LedgerFilterSet, which answers as django-filter's own does."""

import importlib
import itertools
import types

import django_filters
import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.http import QueryDict
from django.test import RequestFactory
from django_filters.filterset import BaseFilterSet

from ledgerproject.ledger.filters import LedgerFilterSet
from tests.ledger_testapp.models import Note


def _project_filtersets():
    """Every FilterSet class defined in the project's apps (their filters modules, and the views that declare them)."""
    root = str(settings.BASE_DIR)
    project = [c for c in apps.get_app_configs() if c.path.startswith(root) and "site-packages" not in c.path]
    for config in project:
        for module in ("filters", "api", "views"):
            try:
                importlib.import_module(f"{config.name}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.{module}":
                    raise
    found, pending = [], list(django_filters.FilterSet.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in {config.name.split(".")[0] for config in project}:
            if cls is not LedgerFilterSet and not cls.__module__.endswith(".tests.test_filtersets"):
                found.append(cls)
    return sorted(set(found), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


PROJECT_FILTERSETS = _project_filtersets()


def test_the_project_declares_filtersets():
    names = {cls.__name__ for cls in PROJECT_FILTERSETS}
    assert {"EnhanceEntryFilterSet", "ReleaseFilterSet", "LogRecordFilterSet", "RunFilterSet"} <= names


@pytest.mark.parametrize("filterset_class", PROJECT_FILTERSETS, ids=lambda cls: cls.__name__)
def test_every_filterset_is_the_kernels(filterset_class):
    # A FilterSet made straight from django-filter's would rebuild its filters and form on every request.
    assert issubclass(filterset_class, LedgerFilterSet)


def _stock(filterset_class, data, queryset, request):
    """The FilterSet as django-filter makes it: its filters deep-copied, its form class built for it."""
    filterset = filterset_class.__new__(filterset_class)
    BaseFilterSet.__init__(filterset, data, queryset=queryset, request=request)
    filterset.get_form_class = types.MethodType(BaseFilterSet.get_form_class, filterset)
    return filterset


def _values(declared):
    """Query-string values to give one filter: a valid one of its kind where it has choices, and others of every kind."""
    values = ["1", "-3", "abc", "true", "2026-01-02T03:04:05Z", "2026-13-40", "%s", "x" * 300]
    choices = getattr(declared, "extra", {}).get("choices")
    if choices and not callable(choices):
        values += [str(choices[0][0]), str(choices[-1][0])]
    return values


def _answers(filterset):
    """Validity, errors, the SQL and the form as a page renders it (labels, help texts, widgets, values)."""
    valid = filterset.is_valid()
    try:
        sql = str(filterset.qs.query)
    except EmptyResultSet:  # a filter that matches nothing, such as an empty list of choices
        sql = None
    return valid, {name: list(messages) for name, messages in filterset.errors.items()}, sql, str(filterset.form)


def _declared_state(filterset_class):
    return {
        name: (dict(vars(declared)), dict(declared.extra)) for name, declared in filterset_class.base_filters.items()
    }


@pytest.mark.django_db
@pytest.mark.parametrize("filterset_class", PROJECT_FILTERSETS, ids=lambda cls: cls.__name__)
def test_it_answers_as_django_filters_own_filterset(filterset_class):
    user = get_user_model().objects.create_superuser("filter-admin", password="x")
    queryset = filterset_class._meta.model._default_manager.all()
    cases = [QueryDict()]
    for name, declared in filterset_class.base_filters.items():
        for value in _values(declared):
            cases.append(QueryDict(mutable=True))
            cases[-1].setlist(name, [value])
    names = list(filterset_class.base_filters)
    for first, second in itertools.combinations(names[:4], 2):  # a few together
        cases.append(QueryDict(f"{first}=1&{second}=abc"))
    declared = _declared_state(filterset_class)
    for data in cases:
        request = RequestFactory().get("/", data)
        request.user = user
        with time_machine.travel("2026-06-01T12:00:00Z", tick=False):  # a window filter reads the clock: one instant
            ours = _answers(filterset_class(data, queryset=queryset, request=request))
            theirs = _answers(_stock(filterset_class, data, queryset, request))
        assert ours == theirs, data
    assert _declared_state(filterset_class) == declared  # no request left anything on the declared filters


class Recording(LedgerFilterSet):
    """A FilterSet whose method filter says which FilterSet it ran in."""

    tag = django_filters.CharFilter(method="by_tag")
    topic = django_filters.CharFilter(field_name="topic")

    class Meta:
        model = Note
        fields = []

    def by_tag(self, queryset, name, value):
        self.ran.append((self, value))
        return queryset.filter(topic=value)


@pytest.mark.django_db
def test_each_request_gets_its_own_filters_bound_to_its_own_filterset():
    first = Recording(QueryDict("tag=a"), request=None)
    second = Recording(QueryDict("tag=b"), request=None)
    first.ran, second.ran = [], []
    first.qs, second.qs  # noqa: B018 - evaluating them runs the filters
    assert first.ran == [(first, "a")] and second.ran == [(second, "b")]
    for name in ("tag", "topic"):
        assert first.filters[name] is not second.filters[name]
        assert first.filters[name].parent is first and second.filters[name].parent is second
        declared = Recording.base_filters[name]
        assert not hasattr(declared, "parent")  # the declared filter is never pointed at a request's FilterSet
    assert Recording.base_filters["tag"].filter.f is Recording.base_filters["tag"]


@pytest.mark.django_db
def test_the_form_class_is_made_once_and_each_form_keeps_its_own_fields_and_errors():
    good = Recording(QueryDict("topic=t"), request=None)
    bad = Recording(QueryDict("topic=" + "\x00"), request=None)
    assert type(good.form) is type(bad.form)
    assert good.form.fields["topic"] is not bad.form.fields["topic"]
    assert good.is_valid() and not bad.is_valid()
    assert "topic" in bad.errors and not good.errors
    assert Recording(QueryDict("topic=t"), request=None).is_valid()  # the refusal stays with its own form


@pytest.mark.django_db
def test_a_filter_with_choices_from_the_request_gets_a_form_made_for_each_request():
    asked = []

    def topics(request):
        asked.append(request)
        return Note.objects.all()

    class ByChoice(LedgerFilterSet):
        note = django_filters.ModelChoiceFilter(field_name="key", queryset=topics)

        class Meta:
            model = Note
            fields = []

    first, second = RequestFactory().get("/"), RequestFactory().get("/")
    first_form, second_form = ByChoice(QueryDict(), request=first).form, ByChoice(QueryDict(), request=second).form
    assert type(first_form) is not type(second_form)
    assert asked == [first, second]
    assert ByChoice.base_filters["note"].extra["queryset"] is topics  # each request resolved it on its own copy


@pytest.mark.django_db
def test_a_filter_with_choices_from_the_table_reads_them_for_each_request():
    class ByTopic(LedgerFilterSet):
        topic = django_filters.AllValuesFilter(field_name="topic")

        class Meta:
            model = Note
            fields = []

    Note.objects.append(key="n1", topic="alpha", body={})
    assert [value for value, _ in ByTopic(QueryDict()).form.fields["topic"].choices] == ["", "alpha"]
    Note.objects.append(key="n2", topic="beta", body={})
    assert [value for value, _ in ByTopic(QueryDict()).form.fields["topic"].choices] == ["", "alpha", "beta"]
