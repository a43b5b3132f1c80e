"""Deterministic people, so that the Go side can check every field.

Person number i of seed s:
  uuid        "{s:08x}-0000-4000-8000-{i:012x}"
  first_name  "Given{i}"
  last_name   'Family-{i} Ünïcødé "q" <&>' U+2028 '\\end' (non-ASCII, quotes, a
              backslash, HTML characters and U+2028, which JSON renderers escape
              differently; nothing at either end, since DRF's CharField strips
              whitespace, U+2028 included, when it validates)
  email       None when i % 4 == 3, else "person{i}@example.com" (version 2 only)
"""

import json
import sys
import uuid

from .models import Person


def person(index, seed=0):
    return Person(
        uuid=uuid.UUID("%08x-0000-4000-8000-%012x" % (seed & 0xFFFFFFFF, index)),
        first_name="Given%d" % index,
        last_name='Family-%d Ünïcødé "q" <&>\u2028\\end' % index,
        email=None if index % 4 == 3 else "person%d@example.com" % index,
    )


def emit(obj):
    """Print one JSON line on stdout, at once (the Go test reads them)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()
