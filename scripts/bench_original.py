"""Times the Python original (django-logpipe) on the work that logpipe's Go
benchmarks BenchmarkRender and BenchmarkParseDispatch do, for the side-by-side
ratios of scripts/bench. Run with the interop venv's python (scripts/bench
does). Prints one JSON object: messages per second for each measurement.
"""

import json
import os
import sys
import time
import uuid

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["rest_framework", "logpipe"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    LOGPIPE={"PRODUCER_BACKEND": "logpipe.backend.dummy.Producer", "CONSUMER_BACKEND": "logpipe.backend.dummy.Consumer",
             "OFFSET_BACKEND": "logpipe.backend.dummy.ModelOffsetStore"},
)
django.setup()

from rest_framework import serializers  # noqa: E402

from logpipe.format import parse, render  # noqa: E402


class PersonSerializerV1(serializers.Serializer):
    """The same fields and validation as the Go benchmark's message."""

    MESSAGE_TYPE = "person"
    VERSION = 1
    KEY_FIELD = "uuid"
    uuid = serializers.UUIDField()
    first_name = serializers.CharField(max_length=200)
    last_name = serializers.CharField(max_length=200)


class Person:
    def __init__(self):
        self.uuid = uuid.UUID("9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a01")
        self.first_name = "Joe"
        self.last_name = "Schmoe"


def rate(fn, seconds):
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            fn()
        n += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
    person = Person()
    registry = {"person": {1: PersonSerializerV1}}

    def do_render():
        data = PersonSerializerV1(instance=person).data
        return render("json", {"type": "person", "version": 1, "message": data, "producer": "bench"})

    value = do_render()

    def do_parse():
        data = parse(value)
        for k in ("type", "version", "message"):
            if k not in data:
                raise ValueError(k)
        ser = PersonSerializerV1(data=data["message"]) if data["version"] in registry[data["type"]] else None
        ser.is_valid(raise_exception=True)

    print(json.dumps({"render_per_s": rate(do_render, seconds), "parse_dispatch_per_s": rate(do_parse, seconds)}))


if __name__ == "__main__":
    main()
