"""Print every row of orders_order as DRF renders it, read from the database.

  manage.py render_orders

One JSON line a row: {"key", "rendered"}.
"""

from django.core.management.base import BaseCommand

from orders.models import Order
from orders.serializers import render
from people.fixtures import emit


class Command(BaseCommand):
    help = "Render the orders table with the order serializer"

    def handle(self, *args, **opts):
        for obj in Order.objects.all():
            emit({"key": str(obj.uuid), "rendered": render(obj)})
