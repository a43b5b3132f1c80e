"""Print every row of people_person as one JSON array, in id order."""

import json
import sys

from django.core.management.base import BaseCommand

from people.models import Person


class Command(BaseCommand):
    help = "Print all people as JSON"

    def handle(self, *args, **opts):
        sys.stdout.write(json.dumps([p.as_dict() for p in Person.objects.order_by("id")], ensure_ascii=False) + "\n")
