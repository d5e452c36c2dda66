"""The API's filter backend: a FilterSet's refusal becomes a 400 whose messages are never %-formatted again."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


def filter_errors(filterset):
    """A FilterSet's errors as {parameter: [message, …]}, each message already rendered once.

    django-filter's own translation applies `message % params` a second time, so a value containing
    `%` that a validator quoted in its message would raise TypeError (a 500) instead of a 400.
    """
    return {name: [str(message) for message in messages] for name, messages in filterset.errors.items()}


class LedgerFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise ValidationError(filter_errors(filterset))
        return filterset.qs
