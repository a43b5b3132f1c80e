"""Generates drf_cases.json: what Django REST Framework's own fields accept,
reject and render, for the Go types of package drf to be tested against.

Run with the interop venv's python (django-logpipe 1.6.0, Django 5.2, DRF 3.18):

    $LOGPIPE_TEST_DJANGO_PYTHON drf/testdata/gen_drf_cases.py > drf/testdata/drf_cases.json

Each input is JSON text, parsed with Python's json module as django-logpipe
parses a message, then given to the field's run_validation. Accepted values are
rendered with the field's to_representation and DRF's JSONRenderer (the
renderer django-logpipe uses), so "render" is the exact JSON text DRF sends.
"""

import datetime
import json
import sys

import django
from django.conf import settings

settings.configure(USE_TZ=True, TIME_ZONE="UTC", INSTALLED_APPS=["rest_framework"])
django.setup()

import rest_framework  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

ZONES = ["UTC", "America/New_York", "Asia/Kolkata"]

DECIMAL_CONFIGS = [(5, 2), (10, 2), (3, 0), (6, 6), (65, 30), (20, 0)]

DECIMAL_INPUTS = [
    '"12.3"', '"12.30"', '"12.345"', '"-12.3"', '"0"', '"-0"', '"0.00"', '"-0.00"', '"0E-10"',
    '"0E+5"', '".5"', '"5."', '"+1.5"', '"1e2"', '"1E+2"', '"1e-2"', '"1_000"', '"1__000"',
    '"_1"', '"1_"', '" 1.5 "', '"\\t2\\n"', '""', '"abc"', '"NaN"', '"nan"', '"-Infinity"',
    '"inf"', '"sNaN"', '"1.2.3"', '"1,5"', '"0x10"', '"999.99"', '"999.999"', '"1000"',
    '"99999"', '"100000"', '"1234567890.12"', '"12345678901"', '"0.001"', '"-999.99"',
    '"0.000001"', '"123456"', '"-123456"', '"0.123456"', '"1.0000000"', '"00012.50"',
    '"' + "9" * 35 + "." + "9" * 30 + '"', '"' + "9" * 36 + '"', '"-' + "9" * 35 + '"',
    '"1' + "0" * 19 + '"', '"' + "9" * 20 + '"', '"1e1000"', '"' + "1" * 1001 + '"',
    "12", "-7", "0", "12.3", "1.5e2", "1e-7", "1e20", "0.1", "123456789012345678", "3.14159",
    "-0.0", "1E2", "true", "false", "null", "[]", "{}", '"\\u0661\\u0662"', "0.5", "99999.5",
]

DATETIME_INPUTS = [
    '"2020-01-02T03:04:05Z"', '"2020-01-02T03:04:05.123456Z"', '"2020-01-02T03:04:05.000000Z"',
    '"2020-01-02T03:04:05.1Z"', '"2020-01-02T03:04:05.1234567Z"', '"2020-01-02T03:04:05.123456789Z"',
    '"2020-01-02T03:04:05+00:00"', '"2020-01-02T03:04:05-00:00"', '"2020-01-02T03:04:05+05:30"',
    '"2020-01-02T03:04:05-0800"', '"2020-01-02T03:04:05+01"', '"2020-01-02T03:04:05+01:02:03"',
    '"2020-01-02T03:04:05+01:02:03.5"', '"2020-01-02 03:04:05"', '"2020-01-02T03:04:05"',
    '"2020-01-02T03:04"', '"2020-01-02T03"', '"2020-01-02"', '"20200102"', '"20200102T030405"',
    '"20200102T030405Z"', '"2020-01-02T030405"', '"2020-W01-2T10:00"', '"2020W012T10:00"',
    '"2020-W53"', '"2021-W53"', '"2020-01-02x03:04:05"', '"2020-01-02\\u00e903:04:05"',
    '"2020-1-2T3:4:5"', '"2020-01-02T03:04:05 +05:00"', '"2020-01-02T03:04:05,5Z"',
    '"2020-01-02T03:04:05.Z"', '"2020-01-02T24:00:00"', '"2020-02-30T00:00:00"',
    '"2020-13-01T00:00:00"', '"0001-01-01T00:00:00Z"', '"0001-01-01T00:00:00+01:00"',
    '"0001-01-01T00:00:00"', '"9999-12-31T23:59:59.999999Z"', '"9999-12-31T23:59:59-01:00"',
    '"1969-07-20T20:17:40Z"', '"1900-01-01T00:00:00Z"', '"1850-06-01T12:00:00Z"',
    '"1850-06-01T12:00:00"', '"2021-03-14T02:30:00"', '"2021-11-07T01:30:00"',
    '"2021-11-07T01:30:00-04:00"', '"2021-11-07T01:30:00-05:00"', '"2021-06-01T12:00:00"',
    '"iso-8601"', '"2020-01-02T03:04:05\\n"', '"2020-01-02T03:04:05Z\\n"', '" 2020-01-02T03:04:05Z"',
    '"2020-01-02T03:04:05z"', '"2020-01-02T03:04:05+5"', '"2020-01-02T03:04:05+24:00"',
    '"2020-01-02T03:04:05+23:59"', '"2020-01-02T03:04:60"', '"2020/01/02 03:04:05"',
    '"\\u0662\\u0660\\u0662\\u0660-01-02T03:04:05"', '""', '"now"', "0", "1577934245", "null",
    "true", "[]", '"2020-01-02T03:04:05.123+01:00"', '"2020-01-02T03:04:05.000001-03:00"',
]

DATE_INPUTS = [
    '"2020-01-02"', '"20200102"', '"2020-1-2"', '"2020-W01-2"', '"2020W012"', '"2020-W01"',
    '"2020W01"', '"2020-02-29"', '"2021-02-29"', '"0001-01-01"', '"9999-12-31"', '"1969-12-31"',
    '"1850-06-01"', '"2020-01-02T00:00:00"', '"2020-01-02 "', '" 2020-01-02"', '"2020-01-02\\n"',
    '"2020/01/02"', '"iso-8601"', '""', '"0000-01-01"', '"2020-00-10"', '"2020-01"', '"202001"',
    '"\\u0662\\u0660\\u0662\\u0660-01-02"', "20200102", "null", "true",
]

TIME_INPUTS = [
    '"03:04:05"', '"03:04"', '"03"', '"030405"', '"0304"', '"T03:04:05"', '"03:04:05.123456"',
    '"03:04:05.1"', '"03:04:05.1234567"', '"03:04:05,5"', '"03:04:05.000000"', '"03:04:05Z"',
    '"03:04:05+05:30"', '"03:04:05-08:00"', '"3:4:5"', '"3:04"', '"24:00"', '"23:59:59.999999"',
    '"00:00"', '"12:60"', '"03:04:05\\n"', '" 03:04"', '"03:04:05.Z"', '"iso-8601"', '""', '"0304:05"',
    '"03:0405"', "0", "null", "true", '"\\u0660\\u0663:04"',
]

DURATION_INPUTS = [
    '"00:00:00"', '"01:02:03"', '"1 01:02:03"', '"-1 01:02:03"', '"1 day, 01:02:03"',
    '"3 days, 01:02:03"', '"01:02:03.5"', '"01:02:03.123456"', '"01:02:03.1234567"', '"-01:02:03"',
    '"15"', '"15.5"', '"02:03"', '"-15"', '"P3DT4H5M6S"', '"-P1D"', '"P1.5D"', '"PT0.5S"', '"PT36H"',
    '"P1W"', '"3 days 04:05:06"', '"3 days -04:05:06"', '"1 day"', '"-1 day +01:00:00"',
    '"999999999 00:00:00"', '"1000000000 00:00:00"', '"106751 00:00:00"', '"-106751 00:00:00"',
    '"106752 00:00:00"', '""', '"abc"', '"1:2:3"', '"1 1:2:3"', "3600", "1.5", "-2", "0", "null",
    "true", '"01:02:03,5"', '"\\u0661\\u0665"',
]

JSON_INPUTS = [
    '{"b":1,"a":2}', '{"a":{"z":[1,2,{"y":null}],"b":true}}', '[]', '{}', '1', '1.0', '1e2', '1E-7',
    '-0', '-0.0', '1.50', '123456789012345678901234567890', '"text"', '"\\u00e9\\u2028\\n\\t\\u0001/"',
    'true', 'false', 'null', '{"a":1,"b":2,"a":3}', '[1, 2 , 3]', '{"k": "v"}', '0.1', '1e400',
    '{"\\u00e9":"<&>"}', '12345678901234567.0', '1e16', '1e15', '0.0001', '0.00001',
]

DURATION_RENDER = [0, 1, -1, 1_000_000, 86_400_000_000, -86_400_000_000 - 1, 90_061_000_001,
                   -3_600_000_000, 123_456_789_012, 86_399_999_999]


def render(value):
    return JSONRenderer().render(value).decode()


def err(exc):
    detail = exc.detail
    return {"ok": False, "codes": [d.code for d in detail], "messages": [str(d) for d in detail]}


def run(field, text):
    value = json.loads(text)
    try:
        internal = field.run_validation(value)
    except serializers.ValidationError as exc:
        return err(exc)
    except Exception as exc:  # noqa: BLE001 - DRF itself fails (uncaught in the original)
        return {"ok": False, "crash": type(exc).__name__}
    try:
        out = render(field.to_representation(internal))
    except Exception as exc:  # noqa: BLE001 - recorded: DRF cannot render it
        return {"ok": True, "render_error": type(exc).__name__}
    return {"ok": True, "render": out}


def main():
    out = {"drf": rest_framework.VERSION, "django": django.get_version(), "python": sys.version.split()[0]}
    out["decimal"] = [
        dict(max_digits=md, decimal_places=dp, input=t, **run(serializers.DecimalField(max_digits=md, decimal_places=dp), t))
        for md, dp in DECIMAL_CONFIGS for t in DECIMAL_INPUTS
    ]
    # Rendering values the application holds (not parsed): quantized to decimal_places.
    out["decimal_render"] = [
        dict(max_digits=md, decimal_places=dp, value=v,
             render=render(serializers.DecimalField(max_digits=md, decimal_places=dp).to_representation(__import__("decimal").Decimal(v))))
        for md, dp, v in [(10, 2, "12.345"), (10, 2, "12.355"), (10, 2, "-12.345"), (10, 2, "12"), (10, 0, "12.5"),
                          (10, 0, "13.5"), (10, 2, "1E+3"), (10, 4, "-0"), (65, 30, "1.5")]
    ]
    for name, cls, inputs in [("datetime", serializers.DateTimeField, DATETIME_INPUTS),
                              ("date", serializers.DateField, DATE_INPUTS),
                              ("time", serializers.TimeField, TIME_INPUTS),
                              ("duration", serializers.DurationField, DURATION_INPUTS),
                              ("json", serializers.JSONField, JSON_INPUTS)]:
        rows = []
        for zone in (ZONES if name == "datetime" else ["UTC"]):
            with timezone.override(zone):
                for t in inputs:
                    row = dict(zone=zone, input=t, **run(cls(), t))
                    rows.append(row)
        out[name] = rows
    # Rendering instants held by the application (microseconds since the epoch) in each zone.
    instants = [0, 1, 1_577_934_245_000_000, 1_577_934_245_123_456, -14_182_940_000_000,
                -3_786_825_600_000_000, -62_135_596_800_000_000, 253_402_300_799_999_999,
                1_615_705_800_000_000, 1_636_263_000_000_000, 1_636_266_600_000_000]
    rows = []
    for zone in ZONES:
        with timezone.override(zone):
            for us in instants:
                dt = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=us)
                try:
                    r = render(serializers.DateTimeField().to_representation(dt))
                except serializers.ValidationError:
                    r = None  # out of range in this zone
                rows.append(dict(zone=zone, micros=us, render=r))
    out["datetime_render"] = rows
    out["duration_render"] = [dict(micros=us, render=render(serializers.DurationField().to_representation(datetime.timedelta(microseconds=us))))
                              for us in DURATION_RENDER]
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


main()
