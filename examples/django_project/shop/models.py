from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    placed_on = models.DateField()
    #: The accounting job that books it: chosen inside the transaction, sent after the commit.
    accounting_job = models.CharField(max_length=64, blank=True)
