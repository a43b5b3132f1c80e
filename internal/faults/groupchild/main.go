// Command groupchild is the consumer process of the group assignment fault
// tests: it runs a logpipe consumer of the topic's "tick" messages in Kafka
// group assignment mode, recording each application (which process, which
// tick) in PostgreSQL, so that the tests can count what each process
// applied and whether anything was applied twice. Its logs (info level) go
// to stderr. Not for use outside the tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
)

// Tick is the message the fault tests send.
type Tick struct {
	ID string `json:"id"`
	logpipe.NoLookup
}

// Apply is one application of a tick by a process: a row of group_applies.
type Apply struct {
	Seq  int64  `gorm:"primaryKey;autoIncrement"`
	Tick string `gorm:"index;not null"`
	Who  string `gorm:"not null"`
}

// TableName returns "group_applies".
func (Apply) TableName() string { return "group_applies" }

// MessageType returns "tick".
func (*Tick) MessageType() string { return "tick" }

// Version returns 1.
func (*Tick) Version() int { return 1 }

// KeyField returns "id".
func (*Tick) KeyField() string { return "id" }

var (
	who       string
	saveDelay time.Duration
	slowID    string
	slowFor   time.Duration
	slowOnce  sync.Once
)

// Save records the application, taking saveDelay (and slowFor the first
// time this process applies slowID).
func (t *Tick) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	time.Sleep(saveDelay)
	if t.ID == slowID {
		slowOnce.Do(func() {
			slog.Info("groupchild: slow save", "tick", t.ID, "for", slowFor)
			time.Sleep(slowFor)
		})
	}
	return tx.WithContext(ctx).Create(&Apply{Tick: t.ID, Who: who}).Error
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL DSN")
	brokers := flag.String("brokers", "", "Kafka broker")
	topic := flag.String("topic", "", "topic")
	group := flag.String("group", "", "consumer group")
	name := flag.String("name", "", "consumer name")
	idle := flag.Duration("idle", 0, "stop after this long without records")
	txSize := flag.Int("tx", 1, "records per transaction")
	session := flag.Duration("session", 6*time.Second, "group session timeout")
	heartbeat := flag.Duration("heartbeat", time.Second, "group heartbeat interval")
	rebalance := flag.Duration("rebalance", 3*time.Second, "group rebalance timeout")
	flag.StringVar(&who, "who", "", "this process's name, recorded with each application")
	flag.DurationVar(&saveDelay, "delay", 2*time.Millisecond, "time each save takes")
	flag.StringVar(&slowID, "slow-id", "", "a tick whose first save here takes -slow-for")
	flag.DurationVar(&slowFor, "slow-for", 0, "see -slow-id")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := gorm.Open(postgres.Open(*dsn+" application_name=logpipe-group-"+who), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("who", who)
	slog.SetDefault(logger)
	b := kafka.New(kafka.Config{
		Brokers: []string{*brokers}, ClientID: who, PollInterval: 200 * time.Millisecond, MetadataRefresh: 2 * time.Second,
		GroupID: *group, GroupAssignment: true,
		GroupSessionTimeout: *session, GroupHeartbeat: *heartbeat, GroupRebalanceTimeout: *rebalance,
	})
	opts := []logpipe.ConsumerOption{logpipe.WithTransactionSize(*txSize), logpipe.WithName(*name), logpipe.WithThrowErrors()}
	if *idle > 0 {
		opts = append(opts, logpipe.WithIdleTimeout(*idle))
	}
	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: b, DB: db, Logger: logger}, *topic, opts...)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Register(&Tick{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("running")
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped")
}
