"""A URLconf with routes that forgot their permission, next to declared ones, for the route check's tests."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgerproject.ledger.access import LEDGER_READ, public, requires_permission
from ledgerproject.ledger.permissions import LedgerRolePermission


def bare(request):
    return HttpResponse("bare")


@login_required
def signed_in_only(request):
    return HttpResponse("signed in")


@requires_permission("enhancelog.view_enhanceentry")
def declared(request):
    return HttpResponse("declared")


@public
def open_to_all(request):
    return HttpResponse("public")


class AuthenticatedOnly(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({})


class NoneForGet(APIView):
    permission_classes = [LedgerRolePermission]
    required_permissions = {"GET": None}

    def get(self, request):
        return Response({})


class ReadsALedger(APIView):
    required_permissions = {"GET": LEDGER_READ}

    def get(self, request):
        return Response({})


urlpatterns = [
    path("bare/", bare),
    path("signed-in/", signed_in_only),
    path("declared/", declared),
    path("public/", open_to_all),
    path("api/authenticated/", AuthenticatedOnly.as_view()),
    path("api/none/", NoneForGet.as_view()),
    path("api/reads/", ReadsALedger.as_view()),
]
