"""The authentication backend of SMTP API tokens (settings.AUTHENTICATION_BACKENDS).

It answers only to `smtp_username` and `smtp_password`, which the web login never passes, so
a token can never sign anyone in to the web app, and the web login never tries a token. It
returns the `Credential`, not a user: `auth.authenticate_smtp` is its only caller. It is a
backend at all so that django-axes, the first backend, counts and locks out SMTP logins with
the web login's policy.
"""

from transactional.credentials.auth import verify_smtp


class SmtpTokenBackend:
    def authenticate(self, request, smtp_username=None, smtp_password=None):
        if not smtp_username or not smtp_password:
            return None
        return verify_smtp(smtp_username, smtp_password)

    def get_user(self, user_id):
        # Never in a session: nothing signs in with a token.
        return None
