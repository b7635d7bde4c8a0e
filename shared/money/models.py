"""Exchange rates an organisation provides (there is no network to fetch them from, and a company's books use
its own rates anyway)."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, UTCDateTime, utcnow
from shared.db.scoping import OrgScoped


class FxRate(OrgScoped, Base):
    """1 `base` = `rate` `quote` from `day` on, until a later day's rate of the same pair."""

    __tablename__ = "fx_rates"
    __table_args__ = (CheckConstraint("rate > 0", name="rate_positive"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # SQLite keeps a double: read back to 18 places (a VND→USD rate is 0.0000393…).
    rate: Mapped[Decimal] = mapped_column(Numeric(decimal_return_scale=18))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
