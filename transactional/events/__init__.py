"""Delivery events of transactional email: each message's status history, and admins'
signed webhooks that receive each change once (README, "Webhooks")."""
