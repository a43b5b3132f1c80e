"""The model of django-logpipe's README (table people_person)."""

import uuid

from django.db import models


class Person(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    first_name = models.CharField(max_length=200)
    last_name = models.CharField(max_length=200)
    email = models.EmailField(max_length=200, null=True)

    class Meta:
        ordering = ("id",)

    def as_dict(self):
        return {
            "id": self.id,
            "uuid": str(self.uuid),
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
        }
