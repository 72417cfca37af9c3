"""The API's bodies, in HubSpot's names (PublicSingleSendRequestEgg, EmailSendStatusView,
SmtpApiTokenView, Error, ForwardPaging): the OpenAPI document is generated from these."""

from datetime import datetime
from enum import Enum
from typing import Any

from ninja import Field, Schema
from pydantic import BaseModel

from mailboxes.constants import SendStatus as PoolStatus
from transactional.api.constants import SendResult, SendStatus
from transactional.events.constants import EventType


# The request's bodies are plain pydantic models: ninja's Schema adds a validator that lets
# it read ORM objects, which costs every request and which input parsed from JSON never needs.
class MessageIn(BaseModel):
    to: str = Field(..., description="The one recipient's address.")
    from_: str | None = Field(
        None, alias="from", description='"Name <address>" on the sending pool\'s domain.'
    )
    sendId: str | None = Field(
        None, max_length=255, description="Idempotency key: one email at most per value."
    )
    replyTo: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)


class SendIn(BaseModel):
    emailId: int = Field(..., description="The id of a published transactional email.")
    message: MessageIn
    contactProperties: dict[str, str] = Field(
        default_factory=dict,
        description="Written to the recipient's contact (created if none has the address).",
    )
    customProperties: dict[str, Any] = Field(
        default_factory=dict, description="Fill the email's {{ custom.NAME }} tokens; not stored."
    )


class StatusOut(Schema):
    statusId: str
    status: SendStatus
    sendResult: SendResult | None = None
    requestedAt: datetime | None = None
    startedAt: datetime | None = None
    completedAt: datetime | None = None
    message: str | None = None


class ErrorDetail(Schema):
    message: str
    # "in" is a Python keyword: the field is named so on the wire.
    in_: str | None = Field(None, alias="in")
    code: str | None = None


class Error(Schema):
    status: str = "error"
    message: str
    correlationId: str
    category: str
    subCategory: str | None = None
    errors: list[ErrorDetail] | None = None
    context: dict[str, list[str]] | None = None


# Paging (paging.py).
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


class PageIn(Schema):
    after: str | None = Field(
        None, description="The `paging.next.after` of the previous page; none: the first page."
    )
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Results per page, 1 to {MAX_LIMIT}."
    )


class NextPage(Schema):
    after: str
    link: str | None = None


class ForwardPaging(Schema):
    next: NextPage


# SMTP API tokens (smtp_tokens.py), HubSpot's shapes.
class SmtpApiTokenCreateRequest(Schema):
    campaignName: str = Field(
        ..., min_length=1, max_length=100, description="Names the token and its campaign."
    )
    createContact: bool = Field(..., description="Whether recipients become contacts.")


class SmtpApiTokenFilter(Schema):
    campaignName: str | None = Field(None, description="Only the tokens of this campaign.")
    emailCampaignId: str | None = Field(None, description="Only the token of this campaign id.")


class SmtpApiTokenView(Schema):
    id: str = Field(..., description="The token's id, which is also its SMTP username.")
    createdAt: datetime
    createdBy: str = Field(..., description="The email of the user who made it.")
    campaignName: str
    emailCampaignId: str
    createContact: bool
    password: str | None = Field(
        None, description="The SMTP password: in the answers to create and reset only."
    )


class SmtpApiTokenPage(Schema):
    results: list[SmtpApiTokenView]
    paging: ForwardPaging | None = None


# A message's status history (events.py). The pool's states under a name of their own: the
# document has one schema per name, and SendStatus is HubSpot's.
MessageStatus = Enum("MessageStatus", {v.upper(): v for v in PoolStatus.values}, type=str)


class StatusEventView(Schema):
    id: str
    type: EventType
    occurredAt: datetime
    data: dict[str, Any] = Field(
        default_factory=dict, description="What the change says: a reason, an address, a link."
    )


class StatusEventPage(Schema):
    messageId: int | None = Field(
        None, description="The message's id (webhooks' data.messageId); none until queued."
    )
    statusId: str | None = Field(None, description="The single send's statusId, if any.")
    status: MessageStatus | None = Field(
        None, description="The message's state in the sending pool now."
    )
    results: list[StatusEventView]
    paging: ForwardPaging | None = None
