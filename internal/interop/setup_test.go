package interop

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/backend/kinesis"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// region is the Kinesis region of both sides; it is part of the key of
// logpipe_kinesisoffset, so Django and Go must agree on it.
const region = "us-east-1"

// idle is how long a Go consumer waits for records before it stops.
const idle = 3 * time.Second

// env is one test's world: a fresh PostgreSQL database migrated by Django
// (offsets tables and people_person), the Django project pointed at it and at
// the broker, and Go settings for the same database and broker.
type env struct {
	db       *gorm.DB
	django   *Django
	settings logpipe.Settings
	backend  string
}

func newKafkaEnv(t *testing.T) *env {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	return newEnv(t, DjangoConfig{Backend: "kafka", Brokers: brokers}, logpipe.Settings{
		Backend: kafka.New(kafka.Config{Brokers: brokers}),
	})
}

func newKinesisEnv(t *testing.T) *env {
	t.Helper()
	endpoint := testenv.KinesisEndpoint(t)
	return newEnv(t, DjangoConfig{Backend: "kinesis", KinesisEndpoint: endpoint, Region: region}, logpipe.Settings{
		Backend: kinesis.New(kinesis.Config{
			Region:       region,
			Endpoint:     endpoint,
			PollInterval: 200 * time.Millisecond,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "interop test"}, nil
			}),
		}),
	})
}

func newEnv(t *testing.T, cfg DjangoConfig, s logpipe.Settings) *env {
	t.Helper()
	NewDjango(t, cfg) // skips before a database is made when the venv is missing
	db, dsn := testenv.PostgresDSN(t)
	cfg.DSN = dsn
	dj := NewDjango(t, cfg)
	dj.Migrate(t)
	// As a Go service on a Django database does: Migrate leaves Django's
	// offsets tables alone and adds logpipe's own (dead letters).
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, db.AutoMigrate(&AppliedLog{}))
	s.DB = db
	s.Logger = slog.New(slog.DiscardHandler)
	return &env{db: db, django: dj, settings: s, backend: cfg.Backend}
}

// topic creates a new topic (stream) with n partitions (shards).
func (e *env) topic(t *testing.T, prefix string, n int) string {
	t.Helper()
	name := testenv.Name(prefix)
	e.django.CreateTopic(t, name, n)
	return name
}

// withFormat returns the Go settings with another producer format.
func (e *env) withFormat(f string) logpipe.Settings {
	s := e.settings
	s.Format = f
	return s
}

// consumeGo runs a Go consumer of topic with PersonV1 and PersonV2
// registered until it has been idle for a while or ctx ends.
func (e *env) consumeGo(ctx context.Context, t *testing.T, topic string, ignore ...string) error {
	t.Helper()
	return e.consumeGoWith(ctx, t, topic, ignore)
}

// consumeGoWith is consumeGo with consumer options.
func (e *env) consumeGoWith(ctx context.Context, t *testing.T, topic string, ignore []string, opts ...logpipe.ConsumerOption) error {
	t.Helper()
	c, err := logpipe.NewConsumer(e.settings, topic, append([]logpipe.ConsumerOption{logpipe.WithIdleTimeout(idle)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, c.Register(&PersonV1{}, &PersonV2{}))
	c.Ignore(ignore...)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return c.Run(ctx)
}

// goApplied returns what the Go serializers applied, in order.
func (e *env) goApplied(t *testing.T) []AppliedLog {
	t.Helper()
	var rows []AppliedLog
	require.NoError(t, e.db.Order("id").Find(&rows).Error)
	return rows
}

// people returns every row of people_person, read by Go, by UUID.
func (e *env) people(t *testing.T) map[string]Person {
	t.Helper()
	var rows []Person
	require.NoError(t, e.db.Order("id").Find(&rows).Error)
	m := make(map[string]Person, len(rows))
	for _, p := range rows {
		m[p.UUID.String()] = p
	}
	require.Len(t, m, len(rows), "people_person has duplicate UUIDs")
	return m
}

// kafkaOffsets returns the rows of logpipe_kafkaoffset for topic, by partition.
func (e *env) kafkaOffsets(t *testing.T, topic string) map[int32]int64 {
	t.Helper()
	var rows []offsetstore.KafkaOffset
	require.NoError(t, e.db.Where("topic = ?", topic).Find(&rows).Error)
	m := map[int32]int64{}
	for _, r := range rows {
		m[r.Partition] = r.Offset
	}
	return m
}

// kinesisOffsets returns the rows of logpipe_kinesisoffset for stream, by shard.
func (e *env) kinesisOffsets(t *testing.T, stream string) map[string]string {
	t.Helper()
	var rows []offsetstore.KinesisOffset
	require.NoError(t, e.db.Where("region = ? AND stream = ?", region, stream).Find(&rows).Error)
	m := map[string]string{}
	for _, r := range rows {
		m[r.Shard] = r.SequenceNumber
	}
	return m
}

// wantEnd returns, per partition (Kafka) or shard (Kinesis), the position
// that the offsets table must hold once every produced record has been
// consumed: the last offset plus one, or the last sequence number.
func wantKafkaEnd(t *testing.T, recs []Produced) map[int32]int64 {
	t.Helper()
	m := map[int32]int64{}
	for _, r := range recs {
		p, err := r.KafkaPartition()
		require.NoError(t, err)
		var off int64
		require.NoError(t, jsonUnmarshal(r.Offset, &off))
		if off+1 > m[p] {
			m[p] = off + 1
		}
	}
	return m
}
