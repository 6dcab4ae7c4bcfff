"""Placing an order books its invoice: sent to accounting only once the order is committed."""

from django.db import transaction

from accounting_impact_client import AccountingClient, Invoice, InvoiceLine
from shop.models import Order

accounting = AccountingClient.from_env()


def place_order(org_id: str, number: str, amount: str, placed_on: str) -> Order:
    with transaction.atomic():
        order = Order.objects.create(number=number, amount=amount, placed_on=placed_on)
        invoice = Invoice(
            id=number,
            date=placed_on,
            currency="EUR",
            lines=[InvoiceLine(quantity="1", unit_price=amount, tax_rate="0.19")],
        )
        order.accounting_job = accounting.new_job_id()  # stored with the order
        order.save()
        # Rolled back: nothing is sent. Committed: sent, and confirmed stored.
        transaction.on_commit(
            lambda: accounting.sync_documents(org_id, [invoice], job_id=order.accounting_job)
        )
        return order
