"""Parse record values with the original's own parser, logpipe.format.parse.

Reads lines "HEX" (a record value) from the file named by the first
argument, and writes, for each, "1" when the original parses it to a dict
(a map it would go on to read "type", "version" and "message" from), else
"0". Used by format/python_test.go with the django venv's python.
"""

import sys

import django
from django.conf import settings

settings.configure(LOGPIPE={})
django.setup()

from logpipe.format import parse  # noqa: E402

out = []
with open(sys.argv[1]) as f:
    for line in f:
        value = bytes.fromhex(line.strip())
        try:
            ok = isinstance(parse(value), dict)
        except Exception:
            ok = False
        out.append("1" if ok else "0")
sys.stdout.write("\n".join(out) + "\n")
