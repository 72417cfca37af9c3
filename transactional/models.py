# The credentials' models live beside their code; imported here so Django finds them.
from transactional.credentials.models import Credential, CredentialEvent  # noqa: F401
