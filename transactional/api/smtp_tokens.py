"""HubSpot's SMTP API tokens over HTTP (shared/reference/hubspot-api.md, section 2): create,
list, read, reset the password of and delete the tokens the SMTP API server takes, as
`SmtpApiTokenView`s, through the same services as Settings > Email > SMTP API (one history
line each, the API key's maker as the actor). The password is in the answers to create and
reset only. A token made here expires after 12 months (HubSpot's rule). Creating, resetting
and deleting need the `transactional-email` scope; reading, `transactional-email.read`."""

from django.utils import timezone
from ninja import Query, Router, Status

from transactional.api import aliases
from transactional.api.constants import READ_SCOPE, SEND_SCOPE
from transactional.api.errors import ApiError
from transactional.api.paging import page
from transactional.api.routes import operation
from transactional.api.schemas import (
    PageIn,
    SmtpApiTokenCreateRequest,
    SmtpApiTokenFilter,
    SmtpApiTokenPage,
    SmtpApiTokenView,
)
from transactional.credentials import services
from transactional.credentials.constants import API_TOKEN_LIFETIME, CredentialKind
from transactional.credentials.models import Credential

BASE = "/v3/transactional/smtp-tokens"
ONE = f"{BASE}/{{tokenId}}"
RESET = f"{ONE}/password-reset"
# The date-versioned paths (only 2026-03 has the tokens).
DATED = "/transactional/2026-03/smtp-tokens"

router = Router(tags=["SMTP API tokens"])


def view(token: Credential, password: str | None = None) -> dict:
    return {
        "id": token.username,
        "createdAt": token.created_at,
        # A token outlives its maker: then nobody's address is left to show.
        "createdBy": token.created_by.email if token.created_by else "",
        "campaignName": token.campaign_name,
        # The sends of a token are grouped under the token itself (reports, `source_id`).
        "emailCampaignId": str(token.pk),
        "createContact": token.create_contacts,
        "password": password,
    }


def _tokens():
    return (
        Credential.objects.live()
        .filter(kind=CredentialKind.SMTP_TOKEN)
        .select_related("created_by")
    )


def _token(token_id: str) -> Credential:
    found = _tokens().filter(lookup_id=token_id).first()
    if found is None:
        raise _missing(token_id)
    return found


def _missing(token_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", f"No SMTP API token has id {token_id}.")


@operation(router, "post", BASE, SEND_SCOPE, (201, SmtpApiTokenView), "smtpTokenCreate")
def token_create(request, data: SmtpApiTokenCreateRequest):
    """Create an SMTP API token (its password is shown in this answer only)."""
    issued = services.smtp_token_create(
        data.campaignName,
        request.auth.created_by,
        create_contacts=data.createContact,
        campaign_name=data.campaignName,
        expires_at=timezone.now() + API_TOKEN_LIFETIME,
    )
    return Status(201, view(issued.credential, issued.password))


@operation(router, "get", BASE, READ_SCOPE, (200, SmtpApiTokenPage), "smtpTokenList")
def token_list(request, filters: Query[SmtpApiTokenFilter], paging: Query[PageIn]):
    """List the live SMTP API tokens, oldest first."""
    tokens = _tokens()
    if filters.campaignName is not None:
        tokens = tokens.filter(campaign_name=filters.campaignName)
    if filters.emailCampaignId is not None:
        campaign = filters.emailCampaignId.strip()
        tokens = tokens.filter(pk=int(campaign)) if campaign.isdigit() else tokens.none()
    rows, next_page = page(request, tokens, paging)
    return {"results": [view(t) for t in rows], "paging": next_page}


@operation(router, "get", ONE, READ_SCOPE, (200, SmtpApiTokenView), "smtpTokenGet")
def token_get(request, tokenId: str):  # noqa: N803 - HubSpot's name, shown in the docs
    """One SMTP API token."""
    return view(_token(tokenId))


@operation(router, "post", RESET, SEND_SCOPE, (200, SmtpApiTokenView), "smtpTokenPasswordReset")
def token_password_reset(request, tokenId: str):  # noqa: N803
    """A new password for an SMTP API token; the old one stops working at once."""
    try:
        issued = services.password_reset(_token(tokenId), request.auth.created_by)
    except Credential.DoesNotExist:  # deleted or expired meanwhile
        raise _missing(tokenId) from None
    return view(issued.credential, issued.password)


@operation(router, "delete", ONE, SEND_SCOPE, (204, None), "smtpTokenDelete")
def token_delete(request, tokenId: str):  # noqa: N803
    """Delete an SMTP API token: logins and mail with it are refused from now on."""
    services.credential_revoke(_token(tokenId), request.auth.created_by)
    return Status(204, None)


for _path in (BASE, ONE, RESET):
    aliases.alias(router, _path, (_path.replace(BASE, DATED), "2026_03"))
