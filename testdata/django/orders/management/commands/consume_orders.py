"""Apply orders with the original's Consumer.

  manage.py consume_orders --topic T [--timeout-ms N]

Prints one JSON line a saved record ({"event": "applied", "rendered": DRF's
JSON text of the saved instance}), then {"event": "done", "applied": N}.
"""

from django.core.management.base import BaseCommand

from orders.serializers import ON_APPLIED, OrderSerializerV1, render
from people.fixtures import emit


class Command(BaseCommand):
    help = "Apply orders with django-logpipe's Consumer"

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True)
        parser.add_argument("--timeout-ms", type=int, default=3000)

    def handle(self, *args, **opts):
        from logpipe import Consumer

        applied = []

        def report(serializer, instance):
            applied.append(instance.pk)
            emit({"event": "applied", "key": str(instance.uuid), "rendered": render(instance)})

        ON_APPLIED.append(report)
        consumer = Consumer(opts["topic"], consumer_timeout_ms=opts["timeout_ms"])
        consumer.register(OrderSerializerV1)
        consumer.run()
        emit({"event": "done", "applied": len(applied)})
