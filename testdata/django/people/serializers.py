"""Serializers for versions 1 and 2 of the "person" message, as in the
original's README ("Dealing with Schema Changes").

Every save is reported to the callables in ON_APPLIED, which the consume
command uses to print what the original's consumer applied.
"""

from rest_framework import serializers

from .models import Person

ON_APPLIED = []


class PersonSerializerV1(serializers.ModelSerializer):
    MESSAGE_TYPE = "person"
    VERSION = 1
    KEY_FIELD = "uuid"

    class Meta:
        model = Person
        fields = ["uuid", "first_name", "last_name"]

    @classmethod
    def lookup_instance(cls, uuid, **kwargs):
        try:
            return Person.objects.get(uuid=uuid)
        except (Person.DoesNotExist, ValueError):
            return None

    def save(self, **kwargs):
        instance = super().save(**kwargs)
        for fn in ON_APPLIED:
            fn(self, instance)
        return instance


class PersonSerializerV2(PersonSerializerV1):
    MESSAGE_TYPE = "person"
    VERSION = 2

    class Meta(PersonSerializerV1.Meta):
        fields = ["uuid", "first_name", "last_name", "email"]


def serializer_for(message_type, version):
    """A serializer class for (message_type, version): the person serializers,
    renamed when message_type is not "person" (to send a type that a consumer
    does not know or ignores)."""
    base = {1: PersonSerializerV1, 2: PersonSerializerV2}[int(version)]
    if message_type == base.MESSAGE_TYPE:
        return base
    return type("Serializer_%s_v%d" % (message_type, base.VERSION), (base,), {"MESSAGE_TYPE": message_type})
