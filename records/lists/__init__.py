"""Saved contact lists: static lists a rep fills by hand (HubSpot's "static lists").

- `models.py`: `ContactList` (a name unique in the account whatever its case, who created it
  and when) and `ListMember` (a contact in a list, when and by whom it was added; once).
- `services.py`: create, rename, delete, add members (only contacts the user may see; one
  already in the list is left as it is) and remove them; adding sends `list_members_added`
  on commit with the contacts newly added.
- `forms.py`, `views.py`, `urls.py`: Contacts > Lists, a list's page (the contacts index's
  table and bulk bar, plus "Remove from list") and the contacts index's "Add to list".
"""
