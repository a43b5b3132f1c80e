"""Send people with the original's Producer.

  manage.py produce --topic T --count N [--version 1|2] [--format json|msgpack]
                    [--type TYPE] [--mix 1,2,other:1] [--start K] [--seed S]
                    [--producer-id ID]

Person numbers start .. start+count-1 (see people.fixtures). --mix cycles
through a list of "VERSION" or "TYPE:VERSION" items, one a record, to make a
topic of mixed types and versions. Prints one JSON line a record: index,
type, version, key, topic, partition, offset (a Kinesis shard id and sequence
number are strings) and the message as the serializer rendered it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from people.fixtures import emit, person
from people.serializers import serializer_for


class Command(BaseCommand):
    help = "Send people to a topic or stream with django-logpipe's Producer"

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the message version here, not Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True)
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--start", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--version", dest="msg_version", default="1")
        parser.add_argument("--type", dest="msg_type", default="person")
        parser.add_argument("--mix", default="")
        parser.add_argument("--format", choices=["json", "msgpack"], default=None)
        parser.add_argument("--producer-id", default=None)

    def handle(self, *args, **opts):
        from logpipe import Producer

        if opts["format"]:
            settings.LOGPIPE["DEFAULT_FORMAT"] = opts["format"]
        plan = []
        for item in (opts["mix"] or "%s:%s" % (opts["msg_type"], opts["msg_version"])).split(","):
            item = item.strip()
            mtype, _, version = item.rpartition(":")
            if not version.isdigit() or int(version) not in (1, 2):
                raise CommandError("bad --mix/--version item %r (want VERSION or TYPE:VERSION, version 1 or 2)" % item)
            plan.append(serializer_for(mtype or "person", int(version)))

        producers = {}
        try:
            for n in range(opts["count"]):
                index = opts["start"] + n
                ser_class = plan[n % len(plan)]
                if ser_class not in producers:
                    producers[ser_class] = Producer(opts["topic"], ser_class, producer_id=opts["producer_id"])
                obj = person(index, opts["seed"])
                meta = producers[ser_class].send(obj)
                if meta is None:
                    raise CommandError("the original's producer gave up sending record %d" % index)
                emit(
                    {
                        "index": index,
                        "type": ser_class.MESSAGE_TYPE,
                        "version": ser_class.VERSION,
                        "key": str(obj.uuid),
                        "topic": meta.topic,
                        "partition": meta.partition,
                        "offset": meta.offset,
                        "message": dict(ser_class(instance=obj).data),
                    }
                )
        finally:
            for p in producers.values():
                client = getattr(p.client, "_client", None)
                if client is not None and hasattr(client, "close"):
                    client.close()
