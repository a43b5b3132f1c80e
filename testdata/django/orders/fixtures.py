"""Orders with edge values, sent by the produce_orders command."""

import datetime as dt
import uuid
from decimal import Decimal as D

from .models import Order

UTC = dt.timezone.utc


def _uuid(i):
    return uuid.UUID("0bde0000-0000-4000-8000-%012x" % i)


ORDERS = [
    dict(total=D("-12.30"), big=D("9" * 35 + "." + "9" * 30), placed_at=dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
         day=dt.date(1850, 6, 1), opens=dt.time(0, 0), took=dt.timedelta(microseconds=-1),
         data={"b": 1, "a": [1.0, "é", None]}, note="hello"),
    dict(total=D("0.00"), big=D("-0." + "0" * 29 + "1"), placed_at=dt.datetime(2021, 11, 7, 5, 30, 0, 1, tzinfo=UTC),
         day=dt.date(9999, 12, 31), opens=dt.time(23, 59, 59, 999999), took=dt.timedelta(0), data=[], note=None),
    dict(total=D("99999999.99"), big=D("0"), placed_at=dt.datetime(1850, 1, 1, tzinfo=UTC), day=dt.date(1, 1, 1),
         opens=dt.time(12, 34, 56, 1), took=dt.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=500000),
         data="text", note="multi\nline é \u2028 <&>"),
    dict(total=D("-99999999.99"), big=D("-12345678901234567890.5"), placed_at=dt.datetime(2024, 3, 10, 7, 0, 0, tzinfo=UTC),
         day=dt.date(1969, 12, 31), opens=dt.time(9, 30), took=dt.timedelta(days=-106751),
         data={"n": 1e16, "f": 0.1, "i": 12345678901234567890, "s": "\u0001", "z": {"y": {"x": {}}}}, note="x"),
    dict(total=D("0.01"), big=D("0.5"), placed_at=dt.datetime(2000, 1, 1, 0, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
         day=dt.date(2000, 2, 29), opens=dt.time(0, 0, 0, 1), took=dt.timedelta(days=106750, seconds=86399, microseconds=999999),
         data={"zz": True, "aa": False, "mm": -0.0}, note=None),
]


def orders():
    return [Order(uuid=_uuid(i + 1), **fields) for i, fields in enumerate(ORDERS)]
