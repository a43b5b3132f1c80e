"""Send the fixture orders with the original's Producer.

  manage.py produce_orders --topic T [--format json|msgpack]

Prints one JSON line a record: {"key", "rendered": DRF's JSON text of the
message}.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.fixtures import orders
from orders.serializers import OrderSerializerV1, render
from people.fixtures import emit


class Command(BaseCommand):
    help = "Send the fixture orders with django-logpipe's Producer"

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True)
        parser.add_argument("--format", choices=["json", "msgpack"], default=None)

    def handle(self, *args, **opts):
        from logpipe import Producer

        if opts["format"]:
            settings.LOGPIPE["DEFAULT_FORMAT"] = opts["format"]
        producer = Producer(opts["topic"], OrderSerializerV1)
        try:
            for obj in orders():
                if producer.send(obj) is None:
                    raise CommandError("the original's producer gave up")
                emit({"key": str(obj.uuid), "rendered": render(obj)})
        finally:
            client = getattr(producer.client, "_client", None)
            if client is not None and hasattr(client, "close"):
                client.close()
