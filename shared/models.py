"""Every table of the service, imported in one place so Alembic and the tests see the whole schema."""

from shared.db.base import Base
from shared.orgs.models import ApiKey, Org

__all__ = ["ApiKey", "Base", "Org"]
