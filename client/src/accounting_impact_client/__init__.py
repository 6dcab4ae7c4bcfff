"""accounting-impact's client for applications: send documents and recreates to the workers,
confirm that they are stored, follow a job's events. It imports nothing of the workers.

    from accounting_impact_client import AccountingClient, Invoice

    client = AccountingClient("redis://localhost:6379/0")
    result = client.sync_documents("acme", [invoice])
"""

from typing import TYPE_CHECKING, Any

from accounting_impact_client.documents import (
    CreditNote,
    Document,
    Invoice,
    InvoiceLine,
    Payment,
    Payout,
    Refund,
    Rejection,
    SubscriptionInvoice,
    validate_documents,
)
from accounting_impact_client.errors import (
    CallFailed,
    CallTooLarge,
    ContractError,
    NotAccepted,
    TooManyDocuments,
    UnknownCurrency,
)
from accounting_impact_client.events import Event
from accounting_impact_client.results import Job, RecreateResult, SyncResult
from accounting_impact_client.routing import PAYLOAD_SCHEMA

if TYPE_CHECKING:
    from accounting_impact_client.client import AccountingClient


def __getattr__(name: str) -> Any:
    """The client itself (it imports Celery) only when asked for: the workers import the
    document models without it."""
    if name == "AccountingClient":
        from accounting_impact_client.client import AccountingClient

        return AccountingClient
    raise AttributeError(name)


__all__ = [
    "PAYLOAD_SCHEMA",
    "AccountingClient",
    "CallFailed",
    "CallTooLarge",
    "ContractError",
    "CreditNote",
    "Document",
    "Event",
    "Invoice",
    "InvoiceLine",
    "Job",
    "NotAccepted",
    "Payment",
    "Payout",
    "RecreateResult",
    "Refund",
    "Rejection",
    "SubscriptionInvoice",
    "SyncResult",
    "TooManyDocuments",
    "UnknownCurrency",
    "validate_documents",
]
