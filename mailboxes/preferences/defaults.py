"""A user's email defaults as they apply now: their saved preferences, or the defaults where
they saved none; the addresses they may choose as From; the font their email is written in."""

from dataclasses import dataclass

from mailboxes.constants import FONT_STACKS, FontFamily, MailboxKind
from mailboxes.models import EmailPreferences, Mailbox
from records.models import User

# The fonts offered, as (name, CSS stack): the editor's Font menu offers the same ones.
FONTS = [(label, FONT_STACKS[value]) for value, label in FontFamily.choices if value]


@dataclass(frozen=True)
class FromChoice:
    """One entry of a From menu: an inbox, or an alias of one."""

    mailbox: Mailbox
    address: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.mailbox.pk}:{self.address}"

    @property
    def label(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class Font:
    """The font of the email a user writes, as CSS values ("": the recipient's own)."""

    family: str = ""
    size: str = ""

    @property
    def style(self) -> str:
        """The inline style that carries it in the email ("" when there is nothing to set)."""
        declarations = [("font-family", self.family), ("font-size", self.size)]
        return ";".join(f"{name}:{value}" for name, value in declarations if value)


def preferences_for(user: User) -> EmailPreferences:
    """The user's saved preferences, or an unsaved row holding the defaults."""
    return EmailPreferences.objects.filter(user=user).first() or EmailPreferences(user=user)


def own_addresses(user: User) -> list[FromChoice]:
    """The addresses of the user's own inboxes, each followed by its aliases, by address."""
    choices = []
    name = user.display_name
    for mailbox in Mailbox.objects.filter(owner=user).prefetch_related("aliases").order_by("email"):
        choices.append(FromChoice(mailbox, mailbox.email, name))
        for alias in mailbox.aliases.all():
            if alias.email != mailbox.email:
                choices.append(FromChoice(mailbox, alias.email, alias.display_name or name))
    return choices


def default_from(
    user: User, choices: list[FromChoice], prefs: EmailPreferences | None = None
) -> FromChoice | None:
    """The From a new email starts with, among `choices`: the address the user chose while
    they still have it, else the chosen inbox's own address, else their first connected inbox
    (the oldest). None when `choices` holds none of the user's own inboxes."""
    own = [
        c
        for c in choices
        if c.mailbox.kind == MailboxKind.PERSONAL and c.mailbox.owner_id == user.pk
    ]
    if not own:
        return None
    prefs = prefs or preferences_for(user)
    chosen = [c for c in own if c.mailbox.pk == prefs.from_mailbox_id]
    if chosen:
        # The inbox's own address comes first (own_addresses): it stands in for a lost alias.
        return next((c for c in chosen if c.address == prefs.from_address), chosen[0])
    oldest = min(c.mailbox.pk for c in own)
    return next(c for c in own if c.mailbox.pk == oldest)


def font_of(prefs: EmailPreferences) -> Font:
    return Font(
        family=FONT_STACKS.get(prefs.font_family, ""),
        size=f"{prefs.font_size}px" if prefs.font_size else "",
    )
