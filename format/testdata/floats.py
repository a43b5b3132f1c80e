"""Generate floats.txt: how Python (and so django-logpipe's JSON renderer,
which calls json.dumps, which uses float.__repr__) writes float values.

Each line is the float's IEEE 754 bits in hex, a space, and json.dumps(f).
Run with the django venv's python from the repository root:

    $LOGPIPE_TEST_DJANGO_PYTHON format/testdata/floats.py > format/testdata/floats.txt
"""

import json
import math
import random
import struct
import sys

rng = random.Random(20261129)

edge = [
    0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 10.0, 100.0,
    1e15, 1e16, 1e17, 9999999999999998.0, 1e16 + 2, 123456789012345680.0,
    1234567890123456.7, 5e-324, -5e-324, 2.2250738585072014e-308,
    2.225073858507201e-308, 1.7976931348623157e308, -1.7976931348623157e308,
    1e-5, 1e-4, 0.0001, 0.00012345, 0.001, 1e-07, 1.5e300, 1e308, 1e-308,
    4.35, 0.1 + 0.2, 100.0 / 3, 2**53, 2**53 + 2, 2**63, 2**64, -(2**63),
    9007199254740993.0, 123.456, 3.141592653589793, 2.718281828459045,
    1e21, 1e22, 1e-6, 1e-7, 12345678.9, 0.000099999, 99999999999999.99,
]
for e in range(-323, 309):  # every decade, written as Python parses it
    for m in ("1", "1.5", "9.999999999999999", "2.5", "7"):
        f = float(f"{m}e{e}")
        edge += [f, math.nextafter(f, 0), math.nextafter(f, math.inf)]

values = [float(v) for v in edge]  # 2**63 and such are ints in Python
for _ in range(2000):  # any finite bit pattern
    while True:
        f = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        if math.isfinite(f):
            values.append(f)
            break
for _ in range(1000):  # decimal-looking values around the switch points
    exp = rng.randint(-8, 20)
    values.append(round(rng.uniform(-1, 1) * 10.0 ** exp, rng.randint(0, 6)))
for _ in range(500):  # integral floats
    values.append(float(rng.randint(-(2**60), 2**60)))

seen = set()
for f in values:
    if not math.isfinite(f):
        continue
    bits = struct.pack(">d", f).hex()
    if bits in seen:
        continue
    seen.add(bits)
    text = json.dumps(f)
    assert text == repr(f), (text, repr(f))
    sys.stdout.write(f"{bits} {text}\n")
