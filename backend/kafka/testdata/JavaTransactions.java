// Writes transactions to partition 0 of a topic with Kafka's own Java
// producer: a committed one (c1, c2), an aborted one (a1, a2), and a
// committed one (c3). Usage: java JavaTransactions BOOTSTRAP TOPIC
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaTransactions {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        props.put("transactional.id", "logpipe-test-" + args[1]);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            producer.initTransactions();
            send(producer, args[1], true, "c1", "c2");
            send(producer, args[1], false, "a1", "a2");
            send(producer, args[1], true, "c3");
        }
    }

    private static void send(KafkaProducer<String, String> producer, String topic, boolean commit, String... values)
            throws Exception {
        producer.beginTransaction();
        for (String v : values) {
            producer.send(new ProducerRecord<>(topic, 0, "k", v)).get();
        }
        if (commit) {
            producer.commitTransaction();
        } else {
            producer.abortTransaction();
        }
    }
}
