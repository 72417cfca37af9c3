"""HubSpot's other paths of the same operations (shared/reference/hubspot-api.md, the
date-versioned table and section 1): each alias is the operation itself, the same view
function with the same authentication, responses and schemas, under its own path and an
operationId of its own (the document's ids must be unique), said to be an alias in its
summary and description."""

from ninja import Router
from ninja.operation import PathView

# The single send: its date-versioned paths, and the marketing single-send v4 (the same
# request and answer; HubSpot takes a `transactional-email` key there too).
SEND_ALIASES = (
    ("/transactional/2025-09/single-email/send", "2025_09"),
    ("/transactional/2026-03/single-email/send", "2026_03"),
    ("/transactional/2026-09/single-email/send", "2026_09"),
    ("/v4/email/single-send", "v4"),
    ("/email-campaigns/2026-03/single-send", "emailCampaigns_2026_03"),
)


def alias(router: Router, path: str, *aliases: tuple[str, str]) -> None:
    """Serve every operation of `path` on `router` also at each (path, label) of `aliases`;
    the label ends the copy's operationId. Call it after the operations are declared."""
    source = router.path_operations[path]
    for alias_path, label in aliases:
        target = router.path_operations.setdefault(alias_path, PathView())
        for operation in source.operations:
            copy = operation.clone()
            copy.path = alias_path
            copy.operation_id = f"{operation.operation_id}_{label}"
            copy.summary = f"Alias: {operation.summary}"
            copy.description = (
                f"The same operation as `/marketing{path}` (HubSpot's other path of it)."
                + (f"\n\n{operation.description}" if operation.description else "")
            )
            target.operations.append(copy)
            target.is_async = target.is_async or operation.is_async
