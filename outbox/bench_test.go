package outbox_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/outbox"
)

// benchEnv is a PostgreSQL database and a new topic on the shared broker.
func benchEnv(b *testing.B) (logpipe.Settings, string) {
	b.Helper()
	brokers := testenv.KafkaBrokers(b)
	db := testenv.Postgres(b)
	require.NoError(b, db.AutoMigrate(&Entity{}))
	topic := testenv.Name("outbox-bench")
	cl := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	require.NoError(b, err)
	require.NoError(b, res.Errors[topic])
	b.Cleanup(func() {
		_, _ = cl.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return logpipe.Settings{Backend: kafka.New(kafka.Config{Brokers: brokers}), DB: db, Logger: quiet}, topic
}

// saveEntity is the application's write of each benchmark: one row.
func saveEntity(tx *gorm.DB, i int) error {
	return tx.Save(&Entity{ID: fmt.Sprintf("e%d", i%1000), N: i}).Error
}

// BenchmarkProducerSend: the dual write without the outbox, one message
// at a time: save in a transaction, commit, then Producer.Send.
func BenchmarkProducerSend(b *testing.B) {
	s, topic := benchEnv(b)
	ctx := context.Background()
	p, err := logpipe.NewProducer(ctx, s, topic)
	require.NoError(b, err)
	defer p.Close()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		require.NoError(b, s.DB.Transaction(func(tx *gorm.DB) error { return saveEntity(tx, i) }))
		_, err := p.Send(ctx, &Change{ID: fmt.Sprintf("e%d", i%1000), N: i})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkOutboxSend: the same save with its message written to the
// outbox in the transaction; the relay is not running (what the
// application's request pays).
func BenchmarkOutboxSend(b *testing.B) {
	s, topic := benchEnv(b)
	ctx := context.Background()
	w, err := outbox.NewWriter(s, topic)
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		require.NoError(b, s.DB.Transaction(func(tx *gorm.DB) error {
			if err := saveEntity(tx, i); err != nil {
				return err
			}
			_, err := w.Send(ctx, tx, &Change{ID: fmt.Sprintf("e%d", i%1000), N: i})
			return err
		}))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkOutboxSendAndRelay: the save with its outbox message, while a
// relay sends; the clock stops once the relay has sent everything, so
// msgs/s is end-to-end throughput.
func BenchmarkOutboxSendAndRelay(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, topic := benchEnv(b)
			ctx := context.Background()
			w, err := outbox.NewWriter(s, topic)
			require.NoError(b, err)
			r, err := outbox.NewRelay(s, outbox.WithBatchSize(batch), outbox.WithPollInterval(5*time.Millisecond))
			require.NoError(b, err)
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(rctx) }()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				require.NoError(b, s.DB.Transaction(func(tx *gorm.DB) error {
					if err := saveEntity(tx, i); err != nil {
						return err
					}
					_, err := w.Send(ctx, tx, &Change{ID: fmt.Sprintf("e%d", i%1000), N: i})
					return err
				}))
			}
			waitDrained(b, s.DB, 5*time.Minute)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			cancel()
			require.NoError(b, <-done)
		})
	}
}

// BenchmarkCommitNotify measures what LISTEN/NOTIFY would cost writers:
// concurrent transactions that insert an outbox row, with and without a
// pg_notify, which takes a cluster-wide lock at commit and so serializes
// the commits of every notifying transaction.
func BenchmarkCommitNotify(b *testing.B) {
	for _, notify := range []bool{false, true} {
		b.Run(fmt.Sprintf("notify=%v", notify), func(b *testing.B) {
			s, topic := benchEnv(b)
			ctx := context.Background()
			w, err := outbox.NewWriter(s, topic)
			require.NoError(b, err)
			sqlDB, err := s.DB.DB()
			require.NoError(b, err)
			sqlDB.SetMaxOpenConns(16)
			var n atomic.Int64
			b.SetParallelism(4) // 4 x GOMAXPROCS writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					require.NoError(b, s.DB.Transaction(func(tx *gorm.DB) error {
						if _, err := w.Send(ctx, tx, &Change{ID: fmt.Sprintf("p%d", i), N: i}); err != nil {
							return err
						}
						if notify {
							return tx.Exec("SELECT pg_notify('logpipe_outbox', '')").Error
						}
						return nil
					}))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
