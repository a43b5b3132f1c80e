package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// sendN sends n keyed records, keys spread over 7 values, and returns their
// positions by value.
func sendN(t testing.TB, p *kafka.Producer, topic string, from, n int) map[string]backend.Position {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	msgs := make([]backend.Message, n)
	for i := range msgs {
		msgs[i] = msg(topic, fmt.Sprintf("k%d", (from+i)%7), fmt.Sprintf("json:{\"n\":%d}", from+i))
	}
	poss, err := p.SendBatch(ctx, msgs)
	require.NoError(t, err)
	out := map[string]backend.Position{}
	for i, m := range msgs {
		out[string(m.Value)] = poss[i]
	}
	return out
}

func TestConsumeEveryPartitionAtItsPosition(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 3)
	p := newProducer(t, testConfig(t))
	before := time.Now().Add(-time.Second)
	sent := sendN(t, p, topic, 0, 60)

	db := testenv.SQLite(t)
	c := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: db}})
	assert.False(t, c.CommitsOutsideTransaction())
	got := consume(t, c, 60, nil)

	partitions := map[int32]bool{}
	last := map[int32]int64{}
	for _, r := range got {
		want, ok := sent[string(r.Value)]
		require.True(t, ok, "unexpected record %q", r.Value)
		assert.Equal(t, want, r.Position, "record %q", r.Value)
		assert.Equal(t, kafka.PartitionForKey(r.Key, 3), r.Partition)
		if prev, ok := last[r.Partition]; ok {
			assert.Equal(t, prev+1, r.Offset, "records of a partition come in order")
		}
		last[r.Partition] = r.Offset
		partitions[r.Partition] = true
		assert.WithinRange(t, r.Timestamp, before, time.Now())
	}
	assert.Len(t, partitions, 3, "every partition was read")
	assertNoMore(t, c)
}

func TestResumeFromDatabaseOffsets(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := createTopic(t, 3)
			db := open(t)
			store := &offsetstore.Kafka{DB: db}
			p := newProducer(t, testConfig(t))
			sent := sendN(t, p, topic, 0, 40)

			// First run: apply and commit 25 records, each in one
			// transaction with the "application's" write.
			require.NoError(t, db.Exec("CREATE TABLE applied (value VARCHAR(100) PRIMARY KEY)").Error)
			c1 := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: store})
			ctx := ctxTimeout(t, 60*time.Second)
			applied := 0
			for applied < 25 {
				recs, err := c1.Fetch(ctx)
				require.NoError(t, err)
				for _, r := range recs {
					if applied == 25 {
						break
					}
					require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
						if err := tx.Exec("INSERT INTO applied (value) VALUES (?)", string(r.Value)).Error; err != nil {
							return err
						}
						return c1.Commit(ctx, tx, r)
					}))
					applied++
				}
			}
			require.NoError(t, c1.Close())
			require.NoError(t, c1.Close(), "Close is idempotent")

			for k, v := range sendN(t, p, topic, 40, 20) {
				sent[k] = v
			}

			// Second run: everything not applied, and nothing else.
			c2 := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: store})
			got := consume(t, c2, 60-25, func(r backend.Record) {
				require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
					if err := tx.Exec("INSERT INTO applied (value) VALUES (?)", string(r.Value)).Error; err != nil {
						return err // a record applied twice fails on the primary key
					}
					return c2.Commit(ctx, tx, r)
				}))
			})
			assertNoMore(t, c2)
			for _, r := range got {
				assert.Equal(t, sent[string(r.Value)], r.Position)
			}
			var count int64
			require.NoError(t, db.Table("applied").Count(&count).Error)
			assert.EqualValues(t, 60, count, "every record applied exactly once")

			stored, err := testenv.NextOffsets(ctx, db, topic)
			require.NoError(t, err)
			for part, next := range stored {
				var max int64 = -1
				for _, pos := range sent {
					if pos.Partition == part && pos.Offset > max {
						max = pos.Offset
					}
				}
				assert.Equal(t, max+1, next, "partition %d's stored offset is the next to read", part)
			}
		})
	}
}

func TestBrokerSideOffsetsResume(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 2)
	p := newProducer(t, testConfig(t))
	sent := sendN(t, p, topic, 0, 30)
	cfg := testConfig(t)
	cfg.GroupID = testenv.Name("lp-group")

	c1 := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, BrokerOffsets: true})
	assert.True(t, c1.CommitsOutsideTransaction())
	ctx := ctxTimeout(t, 60*time.Second)
	seen := map[string]bool{}
	for len(seen) < 12 {
		recs, err := c1.Fetch(ctx)
		require.NoError(t, err)
		for _, r := range recs {
			if len(seen) == 12 {
				break
			}
			require.NoError(t, c1.Commit(ctx, nil, r))
			seen[string(r.Value)] = true
		}
	}
	require.NoError(t, c1.Close())

	c2 := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, BrokerOffsets: true})
	got := consume(t, c2, 18, func(r backend.Record) { require.NoError(t, c2.Commit(ctx, nil, r)) })
	assertNoMore(t, c2)
	for _, r := range got {
		assert.False(t, seen[string(r.Value)], "record %q delivered again", r.Value)
		seen[string(r.Value)] = true
	}
	assert.Len(t, seen, len(sent))
}

func TestBrokerSideOffsetsNeedGroupID(t *testing.T) {
	t.Parallel()
	_, err := kafka.NewConsumer(kafka.Config{Brokers: []string{"127.0.0.1:9"}}, kafka.ConsumerOptions{Topic: "x", BrokerOffsets: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GroupID")
	_, err = kafka.NewConsumer(kafka.Config{Brokers: []string{"127.0.0.1:9"}}, kafka.ConsumerOptions{Topic: "x"})
	assert.ErrorContains(t, err, "neither Offsets nor DB", "positions must be kept somewhere")
}

func TestMissingTopic(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	topic := testenv.Name("lp-missing")
	ctx := ctxTimeout(t, 30*time.Second)

	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	_, err := c.Fetch(ctx)
	var missing *kafka.MissingTopicError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, topic, missing.Topic)
	assert.Equal(t, cfg.Brokers, missing.Brokers)
	assert.Contains(t, err.Error(), topic)
	assert.Contains(t, err.Error(), cfg.Brokers[0])

	p := newProducer(t, cfg)
	_, err = p.Send(ctx, msg(topic, "k", "json:{}"))
	require.ErrorAs(t, err, &missing)
}

func TestFetchIsEmptyAfterPollInterval(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 2)
	cfg := testConfig(t)
	cfg.PollInterval = 300 * time.Millisecond
	c := newConsumer(t, cfg, kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	ctx := ctxTimeout(t, 30*time.Second)
	recs, err := c.Fetch(ctx)
	require.NoError(t, err)
	assert.NotNil(t, recs)
	assert.Empty(t, recs)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Fetch(cctx)
	assert.ErrorIs(t, err, context.Canceled)

	require.NoError(t, c.Close())
	_, err = c.Fetch(ctx)
	assert.ErrorIs(t, err, kafka.ErrClosed)
}

func TestFetchDeadlinesLoseNothing(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 3)
	p := newProducer(t, testConfig(t))
	sent := sendN(t, p, topic, 0, 300)
	c := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})

	deadline := time.Now().Add(60 * time.Second)
	got := map[string]backend.Position{}
	last := map[int32]int64{}
	for len(got) < len(sent) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		recs, err := c.Fetch(ctx)
		cancel()
		if err != nil {
			require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
			continue
		}
		for _, r := range recs {
			if prev, ok := last[r.Partition]; ok {
				require.Equal(t, prev+1, r.Offset, "no gap or repeat in partition %d", r.Partition)
			}
			last[r.Partition] = r.Offset
			got[string(r.Value)] = r.Position
		}
	}
	assert.Equal(t, sent, got)
}

func TestNewPartitionsArePickedUp(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 1)
	p := newProducer(t, testConfig(t))
	c := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
	sendN(t, p, topic, 0, 5)
	consume(t, c, 5, nil)

	addPartitions(t, topic, 3)
	// A key that goes to partition 2 of 3.
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprintf("new-%d", i); kafka.PartitionForKey([]byte(k), 3) == 2 {
			key = k
		}
	}
	ctx := ctxTimeout(t, 60*time.Second)
	var pos backend.Position
	require.Eventually(t, func() bool {
		var err error
		pos, err = p.Send(ctx, msg(topic, key, "json:{\"new\":true}"))
		require.NoError(t, err)
		return pos.Partition == 2
	}, 30*time.Second, 200*time.Millisecond, "the producer sees the new partitions")

	for {
		recs, err := c.Fetch(ctx)
		require.NoError(t, err, "the consumer never read the new partition")
		for _, r := range recs {
			if r.Partition == 2 {
				assert.Equal(t, pos, r.Position)
				return
			}
		}
	}
}
