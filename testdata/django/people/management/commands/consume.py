"""Apply people with the original's Consumer (versions 1 and 2 registered).

  manage.py consume --topic T [--timeout-ms N] [--limit N] [--ignore TYPE ...]
                    [--throw-errors]

Runs Consumer.run until the topic has been idle for --timeout-ms (Kafka; the
Kinesis backend stops when every shard is at its tip) or --limit records have
been applied. Prints one JSON line per applied record ({"event": "applied",
"type", "version", "person": the saved row}), then {"event": "done",
"applied": N}.
"""

from django.core.management.base import BaseCommand

from people.fixtures import emit
from people.serializers import ON_APPLIED, PersonSerializerV1, PersonSerializerV2


class Command(BaseCommand):
    help = "Apply people from a topic or stream with django-logpipe's Consumer"

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True)
        parser.add_argument("--timeout-ms", type=int, default=3000)
        parser.add_argument("--limit", type=int, default=0)
        parser.add_argument("--ignore", action="append", default=[])
        parser.add_argument("--throw-errors", action="store_true")

    def handle(self, *args, **opts):
        from logpipe import Consumer

        applied = []

        def report(serializer, instance):
            applied.append(instance.pk)
            emit(
                {
                    "event": "applied",
                    "type": serializer.MESSAGE_TYPE,
                    "version": serializer.VERSION,
                    "person": instance.as_dict(),
                }
            )

        ON_APPLIED.append(report)
        consumer = Consumer(
            opts["topic"],
            throw_errors=opts["throw_errors"],
            consumer_timeout_ms=opts["timeout_ms"],
        )
        consumer.register(PersonSerializerV1)
        consumer.register(PersonSerializerV2)
        for t in opts["ignore"]:
            consumer.add_ignored_message_type(t)
        consumer.run(iter_limit=opts["limit"])
        emit({"event": "done", "applied": len(applied)})
