"""The credentials of the transactional APIs: SMTP API tokens and API keys (one model), how a
secret is made and checked, the Settings pages that issue, reset and revoke them, and what
each token sent."""
