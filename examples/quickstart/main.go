// Command quickstart runs two services in one program: a producer service
// that sends Person records, and a consumer service that applies them to its
// own database, through logpipe's in-memory broker. Each service has its own
// SQLite database (pure Go, no cgo). Halfway, the producer moves from schema
// version 1 to version 2 (adds email), as in django-logpipe's README; the
// consumer handles both.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// Person is the model of both services.
type Person struct {
	ID        uint   `gorm:"primaryKey"`
	UUID      string `gorm:"size:36;uniqueIndex"`
	FirstName string `gorm:"size:200"`
	LastName  string `gorm:"size:200"`
	Email     *string
}

// PersonV1 is version 1 of the "person" message.
type PersonV1 struct {
	UUID      uuid.UUID `json:"uuid"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
}

// MessageType is the type name on the wire, like MESSAGE_TYPE.
func (*PersonV1) MessageType() string { return "person" }

// Version is the schema version, like VERSION.
func (*PersonV1) Version() int { return 1 }

// KeyField names the field whose value is the record key, like KEY_FIELD.
func (*PersonV1) KeyField() string { return "uuid" }

// Validate rejects messages the model cannot hold; they are logged and
// skipped.
func (p *PersonV1) Validate() error {
	if p.UUID == uuid.Nil {
		return logpipe.Invalid("uuid", "required")
	}
	if p.FirstName == "" || len(p.FirstName) > 200 {
		return logpipe.Invalid("first_name", "required, at most 200 characters")
	}
	return nil
}

// LookupInstance finds the person the message updates, inside the record's
// transaction.
func (p *PersonV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var person Person
	err := tx.WithContext(ctx).Where("uuid = ?", p.UUID.String()).Take(&person).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &person, err
}

// Save creates or updates the person, in the transaction that commits the
// record's offset.
func (p *PersonV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	person, _ := instance.(*Person)
	if person == nil {
		person = &Person{UUID: p.UUID.String()}
	}
	person.FirstName, person.LastName = p.FirstName, p.LastName
	return tx.WithContext(ctx).Save(person).Error
}

// PersonV2 adds an email: version 2 of "person".
type PersonV2 struct {
	PersonV1
	Email string `json:"email"`
}

// Version is 2.
func (*PersonV2) Version() int { return 2 }

// Save creates or updates the person, email included.
func (p *PersonV2) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	person, _ := instance.(*Person)
	if person == nil {
		person = &Person{UUID: p.UUID.String()}
	}
	person.FirstName, person.LastName, person.Email = p.FirstName, p.LastName, &p.Email
	return tx.WithContext(ctx).Save(person).Error
}

func openDB(dir, name string) (*gorm.DB, error) {
	return gorm.Open(sqlite.Open(filepath.Join(dir, name)+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) (err error) {
	dir, err := os.MkdirTemp("", "logpipe-quickstart-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	broker := memory.NewBroker() // stands in for Kafka or Kinesis
	if err := broker.CreateTopic("people", 1); err != nil {
		return err
	}

	// The producer service: its own database of people, which it
	// publishes; then a schema change to version 2.
	pdb, err := openDB(dir, "producer.db")
	if err != nil {
		return err
	}
	if err := pdb.AutoMigrate(&Person{}); err != nil {
		return err
	}
	producer, err := logpipe.NewProducer(context.Background(), logpipe.Settings{
		Backend: broker, ProducerID: "people-service",
	}, "people")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, producer.Close()) }()
	joe := uuid.MustParse("9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a01")
	for _, msg := range []logpipe.Message{
		&PersonV1{UUID: joe, FirstName: "Joe", LastName: "Schmoe"},
		&PersonV1{UUID: uuid.MustParse("9f4a4b8e-7c4c-4b1e-9d55-3d8c0c1f6a02"), FirstName: "Jane", LastName: "Doe"},
		&PersonV1{UUID: uuid.Nil, FirstName: "", LastName: "Invalid"}, // skipped by the consumer
		&PersonV2{PersonV1: PersonV1{UUID: joe, FirstName: "Joe", LastName: "Schmoe"}, Email: "joe@example.com"},
	} {
		if v1, ok := msg.(*PersonV1); ok && v1.UUID != uuid.Nil {
			if err := pdb.Create(&Person{UUID: v1.UUID.String(), FirstName: v1.FirstName, LastName: v1.LastName}).Error; err != nil {
				return err
			}
		}
		pos, err := producer.Send(ctx, msg)
		if err != nil {
			return err
		}
		fmt.Printf("sent %s v%d to %s\n", msg.MessageType(), msg.Version(), pos)
	}

	// The consumer service: its own database, the offsets tables, and a
	// consumer for both versions that stops after half a quiet second.
	db, err := openDB(dir, "consumer.db")
	if err != nil {
		return err
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		return err
	}
	if err := db.AutoMigrate(&Person{}); err != nil {
		return err
	}
	consumer, err := logpipe.NewConsumer(logpipe.Settings{
		Backend: broker, DB: db,
	}, "people", logpipe.WithIdleTimeout(500*time.Millisecond))
	if err != nil {
		return err
	}
	if err := consumer.Register(&PersonV1{}, &PersonV2{}); err != nil {
		return err
	}
	if err := consumer.Run(ctx); err != nil {
		return err
	}

	var people []Person
	if err := db.Order("id").Find(&people).Error; err != nil {
		return err
	}
	fmt.Println("the consumer's database now holds:")
	for _, p := range people {
		email := "-"
		if p.Email != nil {
			email = *p.Email
		}
		fmt.Printf("  %s %s %s <%s>\n", p.UUID, p.FirstName, p.LastName, email)
	}
	var offsets []offsetstore.KafkaOffset
	if err := db.Find(&offsets).Error; err != nil {
		return err
	}
	for _, o := range offsets {
		fmt.Printf("offset: topic %s partition %d next %d\n", o.Topic, o.Partition, o.Offset)
	}
	// The invalid record was not lost: it is a dead letter, kept in the
	// transaction that committed its offset, to look at and replay.
	dead, err := offsetstore.ListDeadLetters(ctx, db, offsetstore.DeadLetterFilter{Topic: "people"})
	if err != nil {
		return err
	}
	for _, d := range dead {
		fmt.Printf("dead letter %d: %s/%d@%d (%s): %s\n", d.ID, d.Topic, d.Partition, d.Offset, d.ErrorKind, d.Value)
	}
	return nil
}
