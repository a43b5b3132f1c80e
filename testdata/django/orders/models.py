"""A model with the field types of logpipe's drf package (table orders_order):
a UUID, decimals, a time-zone-aware datetime, a date, a time, a duration, a
JSON value and a nullable text."""

from django.db import models


class Order(models.Model):
    uuid = models.UUIDField(unique=True)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    big = models.DecimalField(max_digits=65, decimal_places=30)
    placed_at = models.DateTimeField()
    day = models.DateField()
    opens = models.TimeField()
    took = models.DurationField()
    data = models.JSONField()
    note = models.TextField(null=True)

    class Meta:
        ordering = ("id",)
