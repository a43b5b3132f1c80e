// Command child is the consumer process the fault tests kill: it applies
// the topic's "tick" messages into PostgreSQL, counting how many times each
// was applied, with slow saves so that most of its time is spent inside a
// transaction. Not for use outside the tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/kinesis"
)

// Tick is the message the fault tests send.
type Tick struct {
	ID string `json:"id"`
	logpipe.NoLookup
}

// Applied counts the applications of a tick.
type Applied struct {
	ID    string `gorm:"primaryKey"`
	Times int
}

// MessageType returns "tick".
func (*Tick) MessageType() string { return "tick" }

// Version returns 1.
func (*Tick) Version() int { return 1 }

// KeyField returns "id".
func (*Tick) KeyField() string { return "id" }

var (
	saveDelay time.Duration
	owner     string
)

// Save counts the application, slowly; with -owner it also records which
// process applied it (column owner).
func (t *Tick) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	time.Sleep(saveDelay)
	if owner != "" {
		return tx.WithContext(ctx).Exec("INSERT INTO applieds (id, times, owner) VALUES (?, 1, ?) ON CONFLICT (id) DO UPDATE SET times = applieds.times + 1, owner = excluded.owner", t.ID, owner).Error
	}
	return tx.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.Assignments(map[string]any{"times": gorm.Expr("applieds.times + 1")}),
	}).Create(&Applied{ID: t.ID, Times: 1}).Error
}

// Keyed is a message whose key several messages share, numbered by Seq in
// the order they were sent: its Save counts those applied out of order in
// key_orders.
type Keyed struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	Seq int    `json:"seq"`
	logpipe.NoLookup
}

// MessageType returns "keyed".
func (*Keyed) MessageType() string { return "keyed" }

// Version returns 1.
func (*Keyed) Version() int { return 1 }

// KeyField returns "key".
func (*Keyed) KeyField() string { return "key" }

// Save counts the application, and whether it followed the key's previous
// one.
func (k *Keyed) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	if err := (&Tick{ID: k.ID}).Save(ctx, tx, nil); err != nil {
		return err
	}
	return tx.WithContext(ctx).Exec(`INSERT INTO key_orders (key, last_seq, out_of_order) VALUES (?, ?, CASE WHEN ? = 0 THEN 0 ELSE 1 END)
		ON CONFLICT (key) DO UPDATE SET out_of_order = key_orders.out_of_order + CASE WHEN excluded.last_seq = key_orders.last_seq + 1 THEN 0 ELSE 1 END,
		last_seq = excluded.last_seq`, k.Key, k.Seq, k.Seq).Error
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL DSN")
	kind := flag.String("backend", "kafka", "kafka or kinesis")
	brokers := flag.String("brokers", "", "Kafka broker")
	endpoint := flag.String("endpoint", "", "Kinesis endpoint")
	topic := flag.String("topic", "", "topic or stream")
	idle := flag.Duration("idle", 0, "stop after this long without records")
	flag.DurationVar(&saveDelay, "delay", 5*time.Millisecond, "time each save takes")
	txSize := flag.Int("tx", 1, "records per transaction")
	leases := flag.Duration("leases", 0, "Kinesis: share the shards through leases of this duration (renewed every fifth of it)")
	flag.StringVar(&owner, "owner", "", "the lease owner, recorded with each application")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := "logpipe-fault-child"
	if owner != "" {
		app = "logpipe-fault-" + owner
	}
	db, err := gorm.Open(postgres.Open(*dsn+" application_name="+app), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	var b backend.Backend
	switch *kind {
	case "kafka":
		b = kafka.New(kafka.Config{Brokers: []string{*brokers}, PollInterval: 200 * time.Millisecond})
	case "kinesis":
		var lc *kinesis.LeaseConfig
		if *leases > 0 {
			lc = &kinesis.LeaseConfig{Owner: owner, Duration: *leases, Renew: *leases / 5}
		}
		b = kinesis.New(kinesis.Config{
			Leases:   lc,
			Endpoint: *endpoint, Region: "eu-west-1", PollInterval: 200 * time.Millisecond,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "fault", SecretAccessKey: "fault", Source: "fault test"}, nil
			}),
		})
	default:
		log.Fatalf("unknown backend %q", *kind)
	}
	level := slog.LevelWarn
	if *leases > 0 {
		level = slog.LevelInfo // lease changes are logged at info level
	}
	s := logpipe.Settings{Backend: b, DB: db, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	opts := []logpipe.ConsumerOption{logpipe.WithTransactionSize(*txSize)}
	if *idle > 0 {
		opts = append(opts, logpipe.WithIdleTimeout(*idle))
	}
	c, err := logpipe.NewConsumer(s, *topic, opts...)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Register(&Tick{}, &Keyed{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("running")
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped")
}
