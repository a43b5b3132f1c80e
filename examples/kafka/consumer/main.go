// Command consumer is a service that applies the people published by
// ./examples/kafka/producer to its own SQLite database, keeping its Kafka
// offsets in the same database (exactly-once), and stops after -idle with no
// records (0: runs until interrupted).
//
//	go run ./examples/kafka/consumer -brokers 127.0.0.1:19092 -topic people -db people.db
//
// Run it again: it resumes where it stopped. With -group NAME it keeps its
// offsets in that Kafka consumer group instead (at-least-once).
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/examples/kafka/person"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated Kafka brokers")
	topic := flag.String("topic", "people", "topic to read")
	dbPath := flag.String("db", "people.db", "SQLite database file")
	group := flag.String("group", "", "keep offsets in this Kafka consumer group instead of the database")
	idle := flag.Duration("idle", 5*time.Second, "stop after this long without records (0: never)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := gorm.Open(sqlite.Open(*dbPath+"?_pragma=busy_timeout(5000)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&person.Person{}); err != nil {
		log.Fatal(err)
	}

	kcfg := kafka.Config{Brokers: strings.Split(*brokers, ",")}
	settings := logpipe.Settings{
		DB:     db,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if *group != "" {
		settings.Offsets = logpipe.OffsetsInBroker
		kcfg.GroupID = *group
	}
	settings.Backend = kafka.New(kcfg)
	var opts []logpipe.ConsumerOption
	if *idle > 0 {
		opts = append(opts, logpipe.WithIdleTimeout(*idle))
	}
	c, err := logpipe.NewConsumer(settings, *topic, opts...)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Register(&person.V1{}, &person.V2{}); err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	var count, withEmail int64
	db.Model(&person.Person{}).Count(&count)
	db.Model(&person.Person{}).Where("email IS NOT NULL").Count(&withEmail)
	log.Printf("%d people in %s, %d with an email", count, *dbPath, withEmail)
}
