"""The single-send API's bodies, in HubSpot's names (PublicSingleSendRequestEgg,
EmailSendStatusView, Error): the OpenAPI document is generated from these."""

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import BaseModel

from transactional.api.constants import SendResult, SendStatus


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
