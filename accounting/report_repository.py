"""SQL of the reports: trial balance and general-ledger export."""

from __future__ import annotations

from sqlalchemy import Connection


class ReportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
