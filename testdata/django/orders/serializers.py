"""Version 1 of the "order" message. Every save is reported to ON_APPLIED."""

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from .models import Order

ON_APPLIED = []


class OrderSerializerV1(serializers.ModelSerializer):
    MESSAGE_TYPE = "order"
    VERSION = 1
    KEY_FIELD = "uuid"

    class Meta:
        model = Order
        fields = ["uuid", "total", "big", "placed_at", "day", "opens", "took", "data", "note"]

    @classmethod
    def lookup_instance(cls, uuid, **kwargs):
        try:
            return Order.objects.get(uuid=uuid)
        except (Order.DoesNotExist, ValueError):
            return None

    def save(self, **kwargs):
        instance = super().save(**kwargs)
        for fn in ON_APPLIED:
            fn(self, instance)
        return instance


def render(instance):
    """The JSON text DRF renders for an order (what django-logpipe sends)."""
    return JSONRenderer().render(OrderSerializerV1(instance).data).decode()
