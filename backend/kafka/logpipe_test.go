package kafka_test

// End-to-end tests through the root package: logpipe.Producer and
// logpipe.Consumer on the Kafka backend, against the real broker.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// eventV1 is a message whose Save inserts a row keyed by its id, so that a
// record applied twice fails the consumer.
type eventV1 struct {
	ID   int    `json:"id"`
	Note string `json:"note"`
	logpipe.NoLookup
}

type appliedEvent struct {
	ID   int    `gorm:"primaryKey;autoIncrement:false"`
	Note string `gorm:"size:200"`
}

func (*eventV1) MessageType() string { return "event" }
func (*eventV1) Version() int        { return 1 }
func (*eventV1) KeyField() string    { return "id" }
func (e *eventV1) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Create(&appliedEvent{ID: e.ID, Note: e.Note}).Error
}

func kafkaSettings(t testing.TB, db *gorm.DB) logpipe.Settings {
	t.Helper()
	require.NoError(t, db.AutoMigrate(&people.Person{}, &appliedEvent{}))
	return logpipe.Settings{Backend: kafka.New(testConfig(t)), DB: db}
}

func runConsumer(t testing.TB, s logpipe.Settings, topic string, register ...logpipe.Serializer) {
	t.Helper()
	c, err := logpipe.NewConsumer(s, topic, logpipe.WithIdleTimeout(2*time.Second), logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(register...))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, c.Run(ctx))
	require.NoError(t, ctx.Err(), "the idle timeout stopped the consumer, not the test's deadline")
	t.Logf("consumer ran %s", time.Since(start).Round(time.Millisecond))
}

func personID(i int) people.UUID {
	return people.UUID(uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint("person-", i))))
}

func TestLogpipeTypesVersionsAndFormats(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "msgpack"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			topic := createTopic(t, 3)
			s := kafkaSettings(t, testenv.SQLite(t))
			s.Format = format
			s.ProducerID = "go-service-" + format
			p, err := logpipe.NewProducer(context.Background(), s, topic)
			require.NoError(t, err)
			defer p.Close()
			ctx := ctxTimeout(t, 30*time.Second)

			// Version 1 of 20 people, then version 2 (with an email) of
			// half of them, which must be applied after their version 1:
			// one key, one partition, in order.
			for i := range 20 {
				_, err := p.Send(ctx, &people.PersonV1{UUID: personID(i), FirstName: "First", LastName: fmt.Sprint("V1-", i)})
				require.NoError(t, err)
			}
			var batch []logpipe.Message
			for i := range 10 {
				email := fmt.Sprintf("p%d@example.com", i)
				batch = append(batch, &people.PersonV2{PersonV1: people.PersonV1{UUID: personID(i), FirstName: "First", LastName: fmt.Sprint("V2-", i)}, Email: &email})
			}
			for i := range 5 {
				batch = append(batch, &eventV1{ID: i, Note: "n"})
			}
			poss, err := p.SendBatch(ctx, batch)
			require.NoError(t, err)
			for i, pos := range poss[:10] {
				assert.Equal(t, kafka.PartitionForKey([]byte(personID(i).String()), 3), pos.Partition, "the key is the uuid")
			}

			runConsumer(t, s, topic, &people.PersonV1{}, &people.PersonV2{}, &eventV1{})

			var ps []people.Person
			require.NoError(t, s.DB.Order("last_name").Find(&ps).Error)
			require.Len(t, ps, 20)
			for _, person := range ps {
				if strings.HasPrefix(person.LastName, "V2-") {
					require.NotNil(t, person.Email)
				} else {
					assert.Nil(t, person.Email)
				}
			}
			var v2 int64
			require.NoError(t, s.DB.Model(&people.Person{}).Where("last_name LIKE ?", "V2-%").Count(&v2).Error)
			assert.EqualValues(t, 10, v2)
			var events int64
			require.NoError(t, s.DB.Model(&appliedEvent{}).Count(&events).Error)
			assert.EqualValues(t, 5, events)

			// The envelope on the wire: format prefix and producer id.
			raw := newConsumer(t, testConfig(t), kafka.ConsumerOptions{Topic: topic, Offsets: &offsetstore.Kafka{DB: testenv.SQLite(t)}})
			for _, r := range consume(t, raw, 35, nil) {
				assert.True(t, strings.HasPrefix(string(r.Value), format+":"), "%q", r.Value)
				assert.Contains(t, string(r.Value), s.ProducerID)
			}
		})
	}
}

func TestLogpipeResumesAfterRestart(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := createTopic(t, 4)
			s := kafkaSettings(t, open(t))
			p, err := logpipe.NewProducer(context.Background(), s, topic)
			require.NoError(t, err)
			defer p.Close()
			ctx := ctxTimeout(t, 60*time.Second)
			send := func(from, to int) {
				var batch []logpipe.Message
				for i := from; i < to; i++ {
					batch = append(batch, &eventV1{ID: i, Note: fmt.Sprint("event ", i)})
				}
				_, err := p.SendBatch(ctx, batch)
				require.NoError(t, err)
			}
			send(0, 50)
			// An event applied twice fails its insert, and so the run.
			runConsumer(t, s, topic, &eventV1{})
			send(50, 80)
			runConsumer(t, s, topic, &eventV1{})

			var ids []int
			require.NoError(t, s.DB.Model(&appliedEvent{}).Order("id").Pluck("id", &ids).Error)
			require.Len(t, ids, 80, "none missed")
			for i, id := range ids {
				require.Equal(t, i, id)
			}
			var total int64
			require.NoError(t, s.DB.Model(&offsetstore.KafkaOffset{}).Where("topic = ?", topic).Select("COALESCE(SUM(\"offset\"), 0)").Scan(&total).Error)
			assert.EqualValues(t, 80, total, "the stored offsets of the partitions add up to the records read")
		})
	}
}

func TestLogpipeBrokerSideOffsets(t *testing.T) {
	t.Parallel()
	topic := createTopic(t, 2)
	s := kafkaSettings(t, testenv.SQLite(t))
	s.Offsets = logpipe.OffsetsInBroker
	cfg := testConfig(t)
	cfg.GroupID = testenv.Name("lp-group")
	s.Backend = kafka.New(cfg)
	p, err := logpipe.NewProducer(context.Background(), s, topic)
	require.NoError(t, err)
	defer p.Close()
	ctx := ctxTimeout(t, 60*time.Second)
	for i := range 25 {
		_, err := p.Send(ctx, &eventV1{ID: i})
		require.NoError(t, err)
	}
	runConsumer(t, s, topic, &eventV1{})
	for i := 25; i < 40; i++ {
		_, err := p.Send(ctx, &eventV1{ID: i})
		require.NoError(t, err)
	}
	runConsumer(t, s, topic, &eventV1{})
	var n int64
	require.NoError(t, s.DB.Model(&appliedEvent{}).Count(&n).Error)
	assert.EqualValues(t, 40, n)
	var rows int64
	require.NoError(t, s.DB.Model(&offsetstore.KafkaOffset{}).Count(&rows).Error)
	assert.Zero(t, rows, "no offsets in the database with broker-side offsets")
}

func TestLogpipeMissingTopic(t *testing.T) {
	t.Parallel()
	s := kafkaSettings(t, testenv.SQLite(t))
	topic := testenv.Name("lp-missing")
	c, err := logpipe.NewConsumer(s, topic, logpipe.WithIdleTimeout(time.Second))
	require.NoError(t, err)
	err = c.Run(ctxTimeout(t, 30*time.Second))
	var missing *kafka.MissingTopicError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, topic, missing.Topic)
}
