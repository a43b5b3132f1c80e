// Command producer is a service that publishes people to a Kafka topic:
// half as version 1, then the same people again as version 2 with an email.
// The topic must exist (logpipe never creates topics):
//
//	kafka-topics.sh --bootstrap-server 127.0.0.1:19092 --create --topic people --partitions 3
//	go run ./examples/kafka/producer -brokers 127.0.0.1:19092 -topic people -n 100
//
// With scripts/services/kafka.sh start, a broker runs on 127.0.0.1:19092 and
// Kafka's tools are on $LOGPIPE_TEST_KAFKA_CLASSPATH:
//
//	java -cp "$LOGPIPE_TEST_KAFKA_CLASSPATH" org.apache.kafka.tools.TopicCommand \
//	  --bootstrap-server 127.0.0.1:19092 --create --topic people --partitions 3
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/examples/kafka/person"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated Kafka brokers")
	topic := flag.String("topic", "people", "topic to publish to")
	n := flag.Int("n", 100, "people to publish")
	format := flag.String("format", "json", "json or msgpack")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{
		Backend: kafka.New(kafka.Config{
			Brokers:     strings.Split(*brokers, ","),
			SendTimeout: 10 * time.Second,
			// For a hosted cluster: TLS: &tls.Config{}, SASL: &kafka.SASL{...}
		}),
		Format:     *format,
		ProducerID: "example-producer",
	}, *topic)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			log.Print(err)
		}
	}()

	ids := make([]uuid.UUID, *n)
	for i := range ids {
		ids[i] = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "example-person-%d", i))
	}
	// Version 1, one at a time: each Send returns once the broker has the
	// record.
	for i, id := range ids {
		pos, err := p.Send(ctx, &person.V1{UUID: id, FirstName: "Person", LastName: fmt.Sprint(i)})
		if err != nil {
			log.Fatal(err)
		}
		if i < 3 {
			log.Printf("sent person %d v1 to %s", i, pos)
		}
	}
	// Version 2, in one batch: the fast path for many records.
	batch := make([]logpipe.Message, len(ids))
	for i, id := range ids {
		email := fmt.Sprintf("person%d@example.com", i)
		batch[i] = &person.V2{V1: person.V1{UUID: id, FirstName: "Person", LastName: fmt.Sprint(i)}, Email: &email}
	}
	if _, err := p.SendBatch(ctx, batch); err != nil {
		log.Fatal(err)
	}
	log.Printf("published %d people, versions 1 and 2, to %s", *n, *topic)
}
