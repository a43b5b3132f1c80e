// Sends N records one at a time with Kafka's own Java producer, waiting for
// each acknowledgement (send().get()), and prints the rate. The reference
// for logpipe's one-at-a-time Send in scripts/bench-kafka.sh.
// Usage: java JavaSyncSend BOOTSTRAP TOPIC N RECORD_SIZE
import java.util.Arrays;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaSyncSend {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        props.put("acks", "all");
        props.put("linger.ms", "0");
        int n = Integer.parseInt(args[2]);
        byte[] value = new byte[Integer.parseInt(args[3])];
        Arrays.fill(value, (byte) 'x');
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < 2000; i++) { // warm up
                producer.send(new ProducerRecord<>(args[1], Integer.toString(i % 1000).getBytes(), value)).get();
            }
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(args[1], Integer.toString(i % 1000).getBytes(), value)).get();
            }
            double secs = (System.nanoTime() - start) / 1e9;
            System.out.printf("%d records sent one at a time, %.1f records/sec%n", n, n / secs);
        }
    }
}
