"""Create a Kafka topic or a Kinesis stream (whichever backend is configured)
for a test, and wait until it can be used.

  manage.py create_topic --topic T [--partitions N]

Kafka: N partitions, replication factor 1 (kafka-python's admin client).
Kinesis: N shards; waits until the stream is ACTIVE.
"""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a Kafka topic or a Kinesis stream"

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True)
        parser.add_argument("--partitions", type=int, default=1)

    def handle(self, *args, **opts):
        if settings.BACKEND == "kinesis":
            import boto3

            client = boto3.client("kinesis", region_name=settings.LOGPIPE["KINESIS_REGION"])
            client.create_stream(StreamName=opts["topic"], ShardCount=opts["partitions"])
            client.get_waiter("stream_exists").wait(
                StreamName=opts["topic"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
            )
            return
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=settings.LOGPIPE["KAFKA_BOOTSTRAP_SERVERS"])
        try:
            admin.create_topics([NewTopic(opts["topic"], opts["partitions"], 1)])
        finally:
            admin.close()
