"""The Python original's side of scripts/bench: django-logpipe 1.6.0 doing
the work that logpipe's bench command (internal/benchcmd) measures in Go,
through the interop tests' Django project (testdata/django: the people app,
its Person model and its DRF ModelSerializer with lookup_instance, settings
from the LOGPIPE_DJANGO_* environment variables).

  bench_original.py --project DIR send --topic T --count N
  bench_original.py --project DIR consume --topic T --count N

send: the original's Producer sends person 0..N-1 (people/fixtures.py), one
at a time, each send waiting for its acknowledgement, after one record sent
outside the measure (the client's connection and metadata).

consume: migrates the database (LOGPIPE_DJANGO_DATABASE: SQLite, set to WAL
and synchronous=FULL as the Go side does, or PostgreSQL), then runs the
original's Consumer.run(iter_limit=N): per record, lookup_instance, then
serializer.save() and the offset commit in one transaction. Measured from the
first save to the end, as the Go side is, so that joining the consumer group
(seconds, in kafka-python) is not counted.

Prints one JSON line: {"records": n, "seconds": s, "start_rss_mb": the
process's peak RSS once Django is set up, before the work}.
"""

import argparse
import json
import os
import resource
import sys
import time


def setup(project):
    sys.path.insert(0, project)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lptest.settings")
    import lptest.settings as s

    db = s.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        # The Go side's SQLite: WAL, an fsync at each commit.
        db.setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    import django

    django.setup()


def send(topic, count):
    from logpipe import Producer
    from people.fixtures import person
    from people.serializers import PersonSerializerV1

    producer = Producer(topic, PersonSerializerV1, producer_id="bench")
    if producer.send(person(count)) is None:
        raise SystemExit("the original's producer gave up")
    start = time.perf_counter()
    for i in range(count):
        if producer.send(person(i)) is None:
            raise SystemExit("the original's producer gave up at %d" % i)
    secs = time.perf_counter() - start
    client = getattr(producer.client, "_client", None)
    if client is not None and hasattr(client, "close"):
        client.close()
    return count, secs


def consume(topic, count):
    from django.core.management import call_command
    from logpipe import Consumer
    from people.serializers import ON_APPLIED, PersonSerializerV1

    call_command("migrate", verbosity=0, interactive=False)
    first = []
    ON_APPLIED.append(lambda serializer, instance: first or first.append(time.perf_counter()))
    consumer = Consumer(topic, throw_errors=True, consumer_timeout_ms=60000)
    consumer.register(PersonSerializerV1)
    consumer.run(iter_limit=count)
    end = time.perf_counter()
    if not first:
        raise SystemExit("nothing applied")
    return count - 1, end - first[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("mode", choices=["send", "consume"])
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, required=True)
    a = ap.parse_args()
    setup(a.project)
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    n, secs = (send if a.mode == "send" else consume)(a.topic, a.count)
    print(json.dumps({"records": n, "seconds": secs, "start_rss_mb": start_rss}))


if __name__ == "__main__":
    main()
