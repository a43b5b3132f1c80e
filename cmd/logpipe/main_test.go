package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/libtnb/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// cli runs the command line and returns its output and error.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// cliJSON runs the command line with -o json and decodes its output.
func cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := cli(t, append(args, "-o", "json")...)
	require.NoError(t, err, out)
	require.NoError(t, json.Unmarshal([]byte(out), v), out)
}

type listOut struct {
	Kafka   []kafkaRow   `json:"kafka"`
	Kinesis []kinesisRow `json:"kinesis"`
}

type resetOut struct {
	Topic      string     `json:"topic"`
	Executed   bool       `json:"executed"`
	Partitions []resetRow `json:"partitions"`
}

func TestHelpExplainsItself(t *testing.T) {
	out, err := cli(t, "--help")
	require.NoError(t, err)
	for _, s := range []string{"offsets", "migrate", "LOGPIPE_DB", "sqlite:path", "LOGPIPE_KAFKA_SASL_PASSWORD"} {
		assert.Contains(t, out, s)
	}
	out, err = cli(t, "offsets", "reset", "--help")
	require.NoError(t, err)
	for _, s := range []string{"--execute", "--to-datetime", "--shift-by", "changes\nnothing"} {
		assert.Contains(t, out, s)
	}
}

// Errors say what to fix, and never quote the DSN (it may hold a password).
func TestErrorsSayWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"offsets", "list"}, "give --db (or LOGPIPE_DB)"},
		{[]string{"offsets", "list", "--db", "mysql://root:s3cret@db/app"}, "use postgres://..., host=... dbname=... (PostgreSQL) or sqlite:path"},
		{[]string{"offsets", "list", "--db", "sqlite:x.db", "-o", "yaml"}, `--output "yaml": use table or json`},
		{[]string{"offsets", "reset", "--db", "sqlite:x.db", "--topic", "t"}, "exactly one of --to-earliest, --to-latest, --to-datetime T, --shift-by N"},
		{[]string{"offsets", "reset", "--db", "sqlite:x.db", "--topic", "t", "--to-latest"}, "needs the Kafka brokers, --kafka-brokers"},
		{[]string{"offsets", "reset", "--db", "sqlite:x.db", "--topic", "t", "--to-datetime", "yesterday", "--kafka-brokers", "127.0.0.1:1"}, "use RFC 3339"},
		{[]string{"offsets", "reset", "--db", "sqlite:x.db", "--to-latest"}, "--topic NAME"},
	} {
		out, err := cli(t, tc.args...)
		require.Error(t, err, "%v: %s", tc.args, out)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}

// sendPeople sends n people with the given last name and returns when the
// broker has them.
func sendPeople(t *testing.T, p *logpipe.Producer, n int, last string) {
	t.Helper()
	msgs := make([]logpipe.Message, n)
	for i := range msgs {
		msgs[i] = &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "P", LastName: last}
	}
	_, err := p.SendBatch(context.Background(), msgs)
	require.NoError(t, err)
}

// offsets reset --to-datetime puts a consumer where it says: after the
// reset, a consumer applies exactly the records sent after that time. A
// dry run changes nothing.
func TestResetToDatetimeMovesTheConsumer(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.KafkaTopic(t, 2)
	db, dsn := testenv.PostgresDSN(t)
	require.NoError(t, offsetstore.Migrate(context.Background(), db))
	require.NoError(t, db.AutoMigrate(&people.Person{}))
	settings := logpipe.Settings{Backend: kafka.New(kafka.Config{Brokers: brokers, PollInterval: 200 * time.Millisecond}), DB: db}
	p, err := logpipe.NewProducer(context.Background(), settings, topic)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()

	sendPeople(t, p, 5, "old")
	time.Sleep(20 * time.Millisecond) // record timestamps have millisecond resolution
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	sendPeople(t, p, 3, "new")

	args := []string{"--db", dsn, "--kafka-brokers", strings.Join(brokers, ","), "offsets"}
	var before listOut
	cliJSON(t, &before, append(args, "list", "--topic", topic)...)
	require.Len(t, before.Kafka, 2)
	var lag int64
	for _, r := range before.Kafka {
		assert.Nil(t, r.Position, "nothing stored yet")
		lag += *r.Lag
	}
	assert.Equal(t, int64(8), lag, "every record is still to apply")

	reset := append(args, "reset", "--topic", topic, "--to-datetime", cut.UTC().Format(time.RFC3339Nano))
	var plan resetOut
	cliJSON(t, &plan, reset...)
	assert.False(t, plan.Executed)
	require.Len(t, plan.Partitions, 2)
	var skipped int64
	for _, r := range plan.Partitions {
		skipped += r.New
	}
	assert.Equal(t, int64(5), skipped, "the plan skips the 5 records sent before the cut")
	stored, err := offsetstore.KafkaPositions(context.Background(), db, topic)
	require.NoError(t, err)
	assert.Empty(t, stored, "a dry run changes nothing")
	table, err := cli(t, reset...)
	require.NoError(t, err)
	assert.Contains(t, table, "TOPIC")
	assert.Contains(t, table, "Dry run: nothing changed")

	// While a consumer of the topic runs, --execute is refused.
	running, err := logpipe.NewConsumer(settings, topic)
	require.NoError(t, err)
	require.NoError(t, running.Register(&noSave{}))
	rctx, stopRunning := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- running.Run(rctx) }()
	require.Eventually(t, func() bool {
		r, _, _ := logpipe.ConsumerRunning(context.Background(), db, "kafka", topic, "")
		return r
	}, 30*time.Second, 50*time.Millisecond, "the consumer takes the topic's lock")
	_, err = cli(t, append(reset, "--execute")...)
	require.ErrorContains(t, err, "is running on this database")
	stopRunning()
	require.NoError(t, <-runDone)
	stored, err = offsetstore.KafkaPositions(context.Background(), db, topic)
	require.NoError(t, err)
	assert.Empty(t, stored, "the refused reset changed nothing, and the consumer applied nothing")

	var done resetOut
	cliJSON(t, &done, append(reset, "--execute")...)
	assert.True(t, done.Executed)
	assert.Equal(t, plan.Partitions, done.Partitions, "--execute does what the dry run said")

	c, err := logpipe.NewConsumer(settings, topic, logpipe.WithIdleTimeout(2*time.Second))
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.Run(ctx))
	var applied []people.Person
	require.NoError(t, db.Find(&applied).Error)
	require.Len(t, applied, 3, "only the records sent after the cut are applied")
	for _, a := range applied {
		assert.Equal(t, "new", a.LastName)
	}

	var after listOut
	cliJSON(t, &after, append(args, "list", "--topic", topic)...)
	for _, r := range after.Kafka {
		require.NotNil(t, r.Position)
		assert.Equal(t, *r.End, *r.Position, "partition %d read to its end", r.Partition)
		assert.Equal(t, int64(0), *r.Lag)
	}
	out, err := cli(t, append(args, "list", "--topic", topic)...)
	require.NoError(t, err)
	t.Logf("offsets list:\n%s", out)
}

// The tables as django-logpipe 1.6.0's migrations create them (as in
// offsetstore/store_test.go), with 32-bit offsets.
var djangoDDL = map[string][]string{
	"sqlite": {
		`CREATE TABLE "logpipe_kafkaoffset" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "topic" varchar(200) NOT NULL, "partition" integer unsigned NOT NULL CHECK ("partition" >= 0), "offset" integer unsigned NOT NULL CHECK ("offset" >= 0))`,
		`CREATE UNIQUE INDEX "logpipe_offset_topic_partition_8988af52_uniq" ON "logpipe_kafkaoffset" ("topic", "partition")`,
		`CREATE TABLE "logpipe_kinesisoffset" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "stream" varchar(200) NOT NULL, "shard" varchar(200) NOT NULL, "sequence_number" varchar(200) NOT NULL, "region" varchar(20) NOT NULL)`,
		`CREATE UNIQUE INDEX "logpipe_kinesisoffset_region_stream_shard_18abe976_uniq" ON "logpipe_kinesisoffset" ("region", "stream", "shard")`,
	},
	"postgres": {
		`CREATE TABLE logpipe_kafkaoffset (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, topic varchar(200) NOT NULL, partition integer NOT NULL CHECK (partition >= 0), "offset" integer NOT NULL CHECK ("offset" >= 0), CONSTRAINT logpipe_offset_topic_partition_8988af52_uniq UNIQUE (topic, partition))`,
		`CREATE TABLE logpipe_kinesisoffset (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, stream varchar(200) NOT NULL, shard varchar(200) NOT NULL, sequence_number varchar(200) NOT NULL, region varchar(20) NOT NULL, CONSTRAINT logpipe_kinesisoffset_region_stream_shard_18abe976_uniq UNIQUE (region, stream, shard))`,
	},
}

// The command works on the tables Django created, on PostgreSQL and
// SQLite: migrate keeps them, list reads them, reset writes them.
func TestCLIOnDjangoTables(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	for _, dbName := range []string{"sqlite", "postgres"} {
		t.Run(dbName, func(t *testing.T) {
			var (
				db  *gorm.DB
				dsn string
			)
			if dbName == "postgres" {
				db, dsn = testenv.PostgresDSN(t)
			} else {
				path := filepath.Join(t.TempDir(), "django.db")
				var err error
				db, err = gorm.Open(sqlite.Open(path), &gorm.Config{Logger: logger.Discard})
				require.NoError(t, err)
				t.Cleanup(func() {
					if s, err := db.DB(); err == nil {
						_ = s.Close()
					}
				})
				dsn = "sqlite:" + path
			}
			for _, stmt := range djangoDDL[dbName] {
				require.NoError(t, db.Exec(stmt).Error)
			}
			topic := testenv.KafkaTopic(t, 1)
			p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: kafka.New(kafka.Config{Brokers: brokers})}, topic)
			require.NoError(t, err)
			sendPeople(t, p, 4, "x")
			require.NoError(t, p.Close())
			// Django's consumer applied the first record: next offset 1.
			require.NoError(t, db.Exec(`INSERT INTO logpipe_kafkaoffset (topic, partition, "offset") VALUES (?, 0, 1)`, topic).Error)
			require.NoError(t, db.Exec(`INSERT INTO logpipe_kinesisoffset (region, stream, shard, sequence_number) VALUES ('eu-west-1', 'people', 'shardId-000000000000', '4959')`).Error)

			out, err := cli(t, "migrate", "--db", dsn)
			require.NoError(t, err, out)
			assert.Contains(t, out, "offsets tables at schema version")

			var stored listOut
			cliJSON(t, &stored, "offsets", "list", "--db", dsn)
			require.Len(t, stored.Kafka, 1)
			assert.Equal(t, int64(1), *stored.Kafka[0].Position)
			assert.Nil(t, stored.Kafka[0].Lag, "no brokers, no lag")
			assert.Equal(t, []kinesisRow{{Region: "eu-west-1", Stream: "people", Shard: "shardId-000000000000", SequenceNumber: "4959"}}, stored.Kinesis)

			kafkaArgs := []string{"--db", dsn, "--kafka-brokers", strings.Join(brokers, ","), "offsets"}
			var withLag listOut
			cliJSON(t, &withLag, append(kafkaArgs, "list", "--topic", topic)...)
			require.Len(t, withLag.Kafka, 1)
			assert.Equal(t, int64(4), *withLag.Kafka[0].End)
			assert.Equal(t, int64(3), *withLag.Kafka[0].Lag)

			var shifted resetOut
			cliJSON(t, &shifted, append(kafkaArgs, "reset", "--topic", topic, "--shift-by", "10", "--execute")...)
			assert.Equal(t, []resetRow{{Partition: 0, Current: ptr(int64(1)), New: 4}}, shifted.Partitions, "a shift stays within the log")
			var next int64
			require.NoError(t, db.Raw(`SELECT "offset" FROM logpipe_kafkaoffset WHERE topic = ?`, topic).Scan(&next).Error)
			assert.Equal(t, int64(4), next, "the Django table holds the new position")
			cliJSON(t, &shifted, append(kafkaArgs, "reset", "--topic", topic, "--to-earliest", "--partitions", "0", "--execute")...)
			require.NoError(t, db.Raw(`SELECT "offset" FROM logpipe_kafkaoffset WHERE topic = ?`, topic).Scan(&next).Error)
			assert.Equal(t, int64(0), next)
			_, err = cli(t, append(kafkaArgs, "reset", "--topic", topic, "--to-latest", "--partitions", "3")...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "partition 3 does not exist (the topic has 1 partitions, 0 to 0)")
		})
	}
}

// noSave holds its first record until the consumer stops, then rolls it
// back: a consumer that holds the topic while the test tries a reset, and
// applies nothing.
type noSave struct{ people.PersonV1 }

func (*noSave) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }
func (*noSave) Save(ctx context.Context, _ *gorm.DB, _ any) error {
	<-ctx.Done()
	return ctx.Err()
}
