"""Token authentication against hashed keys (`Authorization: Token <key>`)."""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ledgerproject.ledger.models import ApiToken


class HashedTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        try:
            token = ApiToken.objects.for_key(key)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
