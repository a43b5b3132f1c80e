package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	kafkago "github.com/segmentio/kafka-go"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/internal/benchcmd/fixture"
)

// partitions is the partition count of every topic, and the shard count of
// every stream.
const partitions = 4

// goroutines is the number of goroutines of the concurrent send.
const goroutines = 64

// kinesisBatch is the records per SendBatch call when filling a stream
// (PutRecords takes at most 500).
const kinesisBatch = 500

func (r *runner) admin() *kafkago.Client {
	return &kafkago.Client{Addr: kafkago.TCP(strings.Split(r.e.brokers, ",")...), Timeout: 30 * time.Second}
}

// topic creates a topic of the given partitions, deleted at the end.
func (r *runner) topic(ctx context.Context, prefix string) (string, error) {
	t := name(prefix)
	res, err := r.admin().CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: t, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err == nil {
		err = res.Errors[t]
	}
	if err != nil {
		return "", fmt.Errorf("create topic %s: %w", t, err)
	}
	r.topics = append(r.topics, t)
	return t, nil
}

func (r *runner) dropTopic(ctx context.Context, t string) {
	_, _ = r.admin().DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{t}})
}

func (r *runner) kinesisClient() *awskinesis.Client {
	return awskinesis.New(awskinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(r.e.kinesis),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// stream creates a Kinesis stream and waits until it is active.
func (r *runner) stream(ctx context.Context) (string, error) {
	s := name("lpbench-")
	cl := r.kinesisClient()
	if _, err := cl.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(s), ShardCount: aws.Int32(partitions)}); err != nil {
		return "", fmt.Errorf("create stream: %w", err)
	}
	r.streams = append(r.streams, s)
	w := awskinesis.NewStreamExistsWaiter(cl, func(o *awskinesis.StreamExistsWaiterOptions) { o.MinDelay = 200 * time.Millisecond })
	return s, w.Wait(ctx, &awskinesis.DescribeStreamInput{StreamName: aws.String(s)}, time.Minute)
}

// database returns a new database: a SQLite file, or a new PostgreSQL
// database (dropped at the end), as the child's -db flag takes it and as
// the original's LOGPIPE_DJANGO_DATABASE takes it.
func (r *runner) database(ctx context.Context, kind string) (goSpec, djangoSpec string, err error) {
	if kind == "sqlite" {
		path := filepath.Join(r.tmp, name("db-")+".sqlite3")
		return "sqlite:" + path, "sqlite:///" + path, nil
	}
	admin, err := gorm.Open(postgres.Open(r.e.pgDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return "", "", err
	}
	if sqlDB, err := admin.DB(); err == nil {
		defer func() { _ = sqlDB.Close() }()
	}
	db := name("lpbench_")
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + db).Error; err != nil {
		return "", "", err
	}
	r.pgDBs = append(r.pgDBs, db)
	dsn := r.e.pgDSN + " dbname=" + db
	return dsn, dsn, nil
}

func (r *runner) cleanup(ctx context.Context) {
	for _, t := range r.topics {
		r.dropTopic(ctx, t)
	}
	if len(r.streams) > 0 {
		cl := r.kinesisClient()
		for _, s := range r.streams {
			_, _ = cl.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: aws.String(s)})
		}
	}
	if len(r.pgDBs) > 0 {
		if admin, err := gorm.Open(postgres.Open(r.e.pgDSN), &gorm.Config{Logger: logger.Discard}); err == nil {
			for _, db := range r.pgDBs {
				_ = admin.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)").Error
			}
			if sqlDB, err := admin.DB(); err == nil {
				_ = sqlDB.Close()
			}
		}
	}
}

// python runs scripts/bench_original.py with the interop venv's python and
// the Django project's settings.
func (r *runner) python(ctx context.Context, djangoEnv map[string]string, args ...string) (sample, error) {
	script := filepath.Join(filepath.Dir(filepath.Dir(r.o.djangoProj)), "scripts", "bench_original.py")
	cmd := exec.CommandContext(ctx, r.e.python, append([]string{script, "--project", r.o.djangoProj}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "DJANGO_SETTINGS_MODULE=lptest.settings",
		"LOGPIPE_DJANGO_KAFKA_BROKERS="+r.e.brokers, "LOGPIPE_DJANGO_KINESIS_ENDPOINT="+r.e.kinesis)
	for k, v := range djangoEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return r.exec(ctx, cmd, parseChildJSON)
}

// java runs one of Kafka's tools from the broker's jars.
func (r *runner) java(ctx context.Context, parse func([]byte) (sample, error), class string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, "java", append([]string{"-Xmx512m", "-cp", r.e.classpath, class}, args...)...)
	return r.exec(ctx, cmd, parse)
}

// recordSize is the size of the values the Go producer writes, for
// ProducerPerformance's --record-size.
func recordSize() int {
	codec, err := format.Lookup("json")
	if err != nil {
		return 200
	}
	body, err := format.Marshal(fixture.Person(12345))
	if err != nil {
		return 200
	}
	v, err := format.Render(codec, &format.Envelope{Type: "person", Version: 1, Message: body, Producer: "bench"})
	if err != nil {
		return 200
	}
	return len(v)
}

// fillOneRecordBatches writes n person records to t, one produce request
// (so one record batch) per record, one goroutine per partition: the
// shape of a topic written by kafka-python with linger 0, as
// django-logpipe's producer sends.
func (r *runner) fillOneRecordBatches(ctx context.Context, t string, n int) error {
	codec, err := format.Lookup("json")
	if err != nil {
		return err
	}
	cl := r.admin()
	errs := make([]error, partitions)
	var wg sync.WaitGroup
	for p := range partitions {
		wg.Go(func() {
			for i := p; i < n && errs[p] == nil; i += partitions {
				msg := fixture.Person(i)
				body, err := format.Marshal(msg)
				if err != nil {
					errs[p] = err
					return
				}
				v, err := format.Render(codec, &format.Envelope{Type: "person", Version: 1, Message: body, Producer: "bench"})
				if err != nil {
					errs[p] = err
					return
				}
				for try := 0; ; try++ {
					res, err := cl.Produce(ctx, &kafkago.ProduceRequest{
						Topic: t, Partition: p, RequiredAcks: kafkago.RequireAll,
						Records: kafkago.NewRecordReader(kafkago.Record{Key: kafkago.NewBytes([]byte(msg.UUID.String())), Value: kafkago.NewBytes(v)}),
					})
					if err == nil {
						err = res.Error
					}
					if err != nil && try < 50 && (errors.Is(err, kafkago.NotLeaderForPartition) || errors.Is(err, kafkago.LeaderNotAvailable)) {
						time.Sleep(200 * time.Millisecond)
						continue
					}
					errs[p] = err
					break
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setup fills the topics and streams the consumers read and returns the
// cases, in the order each round runs them.
func (r *runner) setup(ctx context.Context) ([]benchCase, error) {
	o, e := r.o, r.e
	// "large": written by SendBatch, read by every consume-and-apply,
	// read-and-dispatch and ConsumerPerformance.
	large, err := r.topic(ctx, "lpbench-large-")
	if err != nil {
		return nil, err
	}
	nLarge := max(o.perf, o.applyMax)
	if _, err := r.child(ctx, "kafka", "", 0, "-kind", "fill", "-topic", large, "-n", strconv.Itoa(nLarge), "-batch", "10000"); err != nil {
		return nil, fmt.Errorf("fill %s: %w", large, err)
	}
	one, err := r.topic(ctx, "lpbench-one-")
	if err != nil {
		return nil, err
	}
	if err := r.fillOneRecordBatches(ctx, one, o.oneBatches); err != nil {
		return nil, fmt.Errorf("fill %s: %w", one, err)
	}
	var stream, sendStream string
	if e.kinesis != "" && o.kinesis > 0 {
		if stream, err = r.stream(ctx); err != nil {
			return nil, err
		}
		if sendStream, err = r.stream(ctx); err != nil {
			return nil, err
		}
		if _, err := r.child(ctx, "all", "", 0, "-backend", "kinesis", "-kind", "fill", "-topic", stream, "-n", strconv.Itoa(o.kinesis), "-batch", strconv.Itoa(kinesisBatch)); err != nil {
			return nil, fmt.Errorf("fill stream %s: %w", stream, err)
		}
	}

	var cases []benchCase
	add := func(c benchCase) { cases = append(cases, c) }
	sendTo := func(slug string, args ...string) func(context.Context, int) (sample, error) {
		return func(ctx context.Context, round int) (sample, error) {
			t, err := r.topic(ctx, "lpbench-send-")
			if err != nil {
				return sample{}, err
			}
			defer r.dropTopic(ctx, t)
			return r.child(ctx, "kafka", slug, round, append([]string{"-topic", t}, args...)...)
		}
	}
	add(benchCase{name: "Go Send, one at a time", group: "send", n: o.send, bound: "a broker round trip per record (acks=all)",
		run: sendTo("send-one", "-kind", "send-one", "-n", strconv.Itoa(o.send))})
	if e.python != "" {
		add(benchCase{name: "original send, one at a time", group: "send", n: o.send, bound: "a broker round trip per record (kafka-python, acks=1)",
			run: func(ctx context.Context, round int) (sample, error) {
				t, err := r.topic(ctx, "lpbench-send-")
				if err != nil {
					return sample{}, err
				}
				defer r.dropTopic(ctx, t)
				return r.python(ctx, nil, "send", "--topic", t, "--count", strconv.Itoa(o.send))
			}})
	}
	add(benchCase{name: fmt.Sprintf("Go Send, %d goroutines", goroutines), group: "send", n: o.concurrent, bound: "the broker; concurrent Sends share requests",
		run: sendTo("send-concurrent", "-kind", "send-concurrent", "-n", strconv.Itoa(o.concurrent), "-workers", strconv.Itoa(goroutines))})
	for _, b := range []int{100, 1000, 10000} {
		add(benchCase{name: fmt.Sprintf("Go SendBatch, %d a call", b), group: "batch", n: o.perf, bound: "the broker and the CPU (2 cores shared with it)",
			run: sendTo(fmt.Sprintf("sendbatch-%d", b), "-kind", "send-batch", "-n", strconv.Itoa(o.perf), "-batch", strconv.Itoa(b))})
	}
	if e.classpath != "" {
		size := strconv.Itoa(recordSize())
		for _, v := range []struct{ name, props string }{
			{"ProducerPerformance, defaults", ""},
			{"ProducerPerformance, batch.size=1048576 linger.ms=10", "batch.size=1048576 linger.ms=10"},
		} {
			add(benchCase{name: v.name, group: "batch", n: o.perf, bound: "the broker and the CPU",
				run: func(ctx context.Context, _ int) (sample, error) {
					t, err := r.topic(ctx, "lpbench-perf-")
					if err != nil {
						return sample{}, err
					}
					defer r.dropTopic(ctx, t)
					props := append([]string{"bootstrap.servers=" + e.brokers, "acks=all"}, strings.Fields(v.props)...)
					return r.java(ctx, parseProducerPerformance, "org.apache.kafka.tools.ProducerPerformance",
						append([]string{"--topic", t, "--num-records", strconv.Itoa(o.perf), "--record-size", size, "--throughput", "-1", "--producer-props"}, props...)...)
				}})
		}
	}
	dbs := []string{"sqlite"}
	if e.pgDSN != "" {
		dbs = append(dbs, "postgres")
	}
	for _, db := range dbs {
		for _, tx := range []int{1, 10, 100, 1000} {
			n := min(o.apply1*tx, o.applyMax)
			bound := map[string]string{
				"sqlite":   "SQLite's commit: an fsync of its WAL per transaction",
				"postgres": "PostgreSQL's commit (a WAL flush) per transaction, and two round trips per record",
			}[db]
			if tx >= 100 {
				bound = map[string]string{
					"sqlite":   "the CPU: the lookup and the insert or update, in process, and GORM",
					"postgres": "two round trips to PostgreSQL per record (the lookup, then the insert or update)",
				}[db]
			}
			add(benchCase{name: fmt.Sprintf("Go consume and apply, %s, %d/tx", db, tx), group: "apply-" + db, n: n, bound: bound,
				run: func(ctx context.Context, round int) (sample, error) {
					spec, _, err := r.database(ctx, db)
					if err != nil {
						return sample{}, err
					}
					return r.child(ctx, "kafka-"+db, fmt.Sprintf("apply-%s-%d", db, tx), round, "-kind", "apply", "-topic", large, "-n", strconv.Itoa(n), "-tx", strconv.Itoa(tx), "-db", spec)
				}})
		}
		if e.python != "" {
			add(benchCase{name: "original consume and apply, " + db, group: "apply-" + db, n: o.apply1, bound: "a commit per record, its round trips, and Django and DRF's CPU per record",
				run: func(ctx context.Context, _ int) (sample, error) {
					_, dj, err := r.database(ctx, db)
					if err != nil {
						return sample{}, err
					}
					return r.python(ctx, map[string]string{"LOGPIPE_DJANGO_DATABASE": dj, "LOGPIPE_DJANGO_KAFKA_GROUP": name("lpbench-")},
						"consume", "--topic", large, "--count", strconv.Itoa(o.apply1))
				}})
		}
	}
	if e.pgDSN != "" {
		for _, v := range []struct{ name, mode, bound string }{
			{"Go save, commit, then Producer.Send, postgres", "plain", "a commit and a broker round trip per change"},
			{"Go outbox: save and outbox.Send in the transaction, relayed, postgres", "outbox", "a commit per change (with the outbox row); the relay batches the sends"},
		} {
			add(benchCase{name: v.name, group: "outbox", n: o.send, bound: v.bound,
				run: func(ctx context.Context, round int) (sample, error) {
					spec, _, err := r.database(ctx, "postgres")
					if err != nil {
						return sample{}, err
					}
					t, err := r.topic(ctx, "lpbench-outbox-")
					if err != nil {
						return sample{}, err
					}
					defer r.dropTopic(ctx, t)
					return r.child(ctx, "kafka-postgres", "outbox-"+v.mode, round, "-kind", "outbox", "-mode", v.mode, "-topic", t, "-n", strconv.Itoa(o.send), "-db", spec)
				}})
		}
	}
	add(benchCase{name: "Go read and dispatch, no-op save, 1000/tx", group: "read", n: o.perf, bound: "the CPU: parsing and decoding, kafka-go",
		run: func(ctx context.Context, round int) (sample, error) {
			spec, _, err := r.database(ctx, "sqlite")
			if err != nil {
				return sample{}, err
			}
			return r.child(ctx, "kafka-sqlite", "dispatch", round, "-kind", "dispatch", "-topic", large, "-n", strconv.Itoa(o.perf), "-tx", "1000", "-db", spec)
		}})
	add(benchCase{name: "Go read and dispatch, one-record batches", group: "read", n: o.oneBatches, bound: "the broker: one record batch per record",
		run: func(ctx context.Context, round int) (sample, error) {
			spec, _, err := r.database(ctx, "sqlite")
			if err != nil {
				return sample{}, err
			}
			return r.child(ctx, "kafka-sqlite", "dispatch-one", round, "-kind", "dispatch", "-topic", one, "-n", strconv.Itoa(o.oneBatches), "-tx", "1000", "-db", spec)
		}})
	if e.classpath != "" {
		add(benchCase{name: "ConsumerPerformance", group: "read", n: o.perf, bound: "the broker and the CPU",
			run: func(ctx context.Context, _ int) (sample, error) {
				return r.java(ctx, parseConsumerPerformance, "org.apache.kafka.tools.ConsumerPerformance",
					"--bootstrap-server", e.brokers, "--topic", large, "--messages", strconv.Itoa(o.perf), "--group", name("lpbench-"), "--timeout", "120000")
			}})
	}
	if stream != "" {
		k := strconv.Itoa(o.kinesis)
		kenv := func(db string) map[string]string {
			return map[string]string{"LOGPIPE_DJANGO_BACKEND": "kinesis", "LOGPIPE_DJANGO_DATABASE": db}
		}
		add(benchCase{name: "Kinesis: Go Send, one at a time", group: "kinesis", n: o.kinesis, bound: "the emulator: an HTTP round trip per record",
			run: func(ctx context.Context, round int) (sample, error) {
				return r.child(ctx, "all", "kinesis-send", round, "-backend", "kinesis", "-kind", "send-one", "-topic", sendStream, "-n", k)
			}})
		if e.python != "" {
			add(benchCase{name: "Kinesis: original send, one at a time", group: "kinesis", n: o.kinesis, bound: "the emulator",
				run: func(ctx context.Context, _ int) (sample, error) {
					return r.python(ctx, kenv(""), "send", "--topic", sendStream, "--count", k)
				}})
		}
		add(benchCase{name: "Kinesis: Go consume and apply, sqlite, 1/tx", group: "kinesis", n: o.kinesis, bound: "the emulator and SQLite's commit",
			run: func(ctx context.Context, round int) (sample, error) {
				spec, _, err := r.database(ctx, "sqlite")
				if err != nil {
					return sample{}, err
				}
				return r.child(ctx, "all", "kinesis-apply", round, "-backend", "kinesis", "-kind", "apply", "-topic", stream, "-n", k, "-tx", "1", "-db", spec)
			}})
		if e.python != "" {
			add(benchCase{name: "Kinesis: original consume and apply, sqlite", group: "kinesis", n: o.kinesis, bound: "the emulator and SQLite's commit",
				run: func(ctx context.Context, _ int) (sample, error) {
					_, dj, err := r.database(ctx, "sqlite")
					if err != nil {
						return sample{}, err
					}
					return r.python(ctx, kenv(dj), "consume", "--topic", stream, "--count", k)
				}})
		}
	}
	return cases, nil
}
