"""Token authentication against hashed keys (`Authorization: Token <key>`), with failed attempts throttled."""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

from ledgerproject.ledger import token_cache
from ledgerproject.ledger.limits import FailedTokenThrottle
from ledgerproject.ledger.models import ApiToken, hash_token_key


class TokenAttemptsThrottled(exceptions.Throttled):
    default_detail = "Too many failed token attempts from this address."


class HashedTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != self.keyword.lower().encode():
            return None
        throttle = FailedTokenThrottle()
        # Checked before the lookup, so guessing costs the guesser a 429 and the database nothing.
        wait = throttle.blocked(request)
        if wait is not None:
            raise TokenAttemptsThrottled(wait=wait)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            wait = throttle.note_failure(request)
            if wait is not None:  # already blocked by failures another worker saw
                raise TokenAttemptsThrottled(wait=wait) from None
            raise

    def authenticate_credentials(self, key):
        try:
            # Remembered for a few seconds per worker (token_cache): most appends skip this query.
            token, user = token_cache.lookup(hash_token_key(key), ApiToken.objects.for_key_hash)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token
