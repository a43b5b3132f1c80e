package logpipe_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// announcement is a produce-only message: it implements logpipe.Message
// alone, with no Save, LookupInstance or GORM.
type announcement struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

func (*announcement) MessageType() string { return "announcement" }
func (*announcement) Version() int        { return 1 }
func (*announcement) KeyField() string    { return "id" }

func TestProduceOnlyMessageNeedsNoDatabase(t *testing.T) {
	t.Parallel()
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("news", 1))
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: b}, "news")
	require.NoError(t, err)
	defer p.Close()
	pos, err := p.Send(context.Background(), &announcement{ID: "a1", Text: "hello"})
	require.NoError(t, err)
	recs := b.Records("news", pos.Partition)
	require.Len(t, recs, 1)
	assert.Equal(t, "a1", string(recs[0].Key))
	assert.Equal(t, `json:{"type":"announcement","version":1,"message":{"id":"a1","text":"hello"}}`, string(recs[0].Value))
}

type metaPerson struct{ people.PersonV1 }

func (p *metaPerson) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }

func (p *metaPerson) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	rec, ok := logpipe.RecordFrom(ctx)
	if !ok {
		return logpipe.Invalid("", "no record in the context")
	}
	return tx.Create(&recordMeta{Key: string(rec.Key), Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Type: rec.Type, Version: rec.Version, Producer: rec.ProducerID, Header: headerValue(rec.Headers, "h"), HasTime: !rec.Timestamp.IsZero()}).Error
}

type recordMeta struct {
	ID        int64
	Key       string
	Topic     string
	Partition int32
	Offset    int64
	Type      string
	Version   int
	Producer  string
	Header    string
	HasTime   bool
}

func headerValue(hs []logpipe.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// LookupInstance and Save see the record being applied: position, key,
// timestamp, headers, type, version and producer id.
func TestRecordMetadataInTheApplyPath(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&recordMeta{}))
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("people", 2))
	p, err := logpipe.NewProducer(context.Background(), logpipe.Settings{Backend: b, ProducerID: "svc-a"}, "people")
	require.NoError(t, err)
	m, err := p.Send(context.Background(), person(7))
	require.NoError(t, err)
	// A raw record with a header, as a Kafka producer with tracing sends.
	raw := b.Records("people", m.Partition)[0]
	pos, err := b.Append(backend.Message{Topic: "people", Key: raw.Key, Value: raw.Value, Headers: []backend.Header{{Key: "h", Value: []byte("v")}}})
	require.NoError(t, err)

	c, err := logpipe.NewConsumer(logpipe.Settings{Backend: b, DB: db}, "people", logpipe.WithIdleTimeout(100*time.Millisecond), logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(&metaPerson{}))
	require.NoError(t, runIdle(t, c))
	var got []recordMeta
	require.NoError(t, db.Order("id").Find(&got).Error)
	require.Len(t, got, 2)
	want := recordMeta{Key: string(raw.Key), Topic: "people", Partition: m.Partition, Offset: m.Offset, Type: "person", Version: 1, Producer: "svc-a", HasTime: true}
	want.ID = got[0].ID
	assert.Equal(t, want, got[0])
	want.ID, want.Offset, want.Header = got[1].ID, pos.Offset, "v"
	assert.Equal(t, want, got[1])
}

// WithLimit applies exactly n records, then Run returns nil; the next Run
// goes on from there.
func TestWithLimitAppliesExactlyN(t *testing.T) {
	t.Parallel()
	s, b := memorySettings(t)
	require.NoError(t, b.CreateTopic("limited", 3))
	p, err := logpipe.NewProducer(context.Background(), s, "limited")
	require.NoError(t, err)
	for i := range 10 {
		_, err := p.Send(context.Background(), person(i))
		require.NoError(t, err)
	}
	for _, step := range []struct{ limit, txSize, total int }{{4, 1, 4}, {3, 2, 7}, {3, 1, 10}} {
		c, err := logpipe.NewConsumer(s, "limited", logpipe.WithLimit(step.limit), logpipe.WithTransactionSize(step.txSize))
		require.NoError(t, err)
		require.NoError(t, c.Register(&people.PersonV1{}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		require.NoError(t, c.Run(ctx), "Run returns nil at the limit")
		require.NoError(t, ctx.Err(), "the limit stopped the consumer, not the deadline")
		cancel()
		assert.Len(t, peopleIn(t, s.DB), step.total)
	}
	_, err = logpipe.NewConsumer(s, "limited", logpipe.WithLimit(-1))
	assert.ErrorContains(t, err, "WithLimit(-1) is negative")
}

// A factory that returns neither a consumer nor an error, and a nil
// consumer given to a MultiConsumer, are errors, not panics.
func TestNilRunnersAreErrors(t *testing.T) {
	t.Parallel()
	r := &logpipe.Registry{}
	r.Register(func(logpipe.Settings) (logpipe.Runner, error) { return nil, nil })
	r.Register(func(logpipe.Settings) (logpipe.Runner, error) { return (*logpipe.Consumer)(nil), nil })
	err := r.Run(context.Background(), logpipe.Settings{})
	assert.ErrorContains(t, err, "consumer factory 0: returned no consumer")
	assert.ErrorContains(t, err, "consumer factory 1: returned no consumer")
	assert.ErrorContains(t, logpipe.NewMultiConsumer(nil).Run(context.Background()), "consumer 0 is nil")
	var m *logpipe.MultiConsumer
	assert.Error(t, m.Run(context.Background()))
}

// Any Runner runs beside consumers.
type countingRunner struct{ ran chan struct{} }

func (r countingRunner) Run(ctx context.Context) error { close(r.ran); return nil }

func TestMultiConsumerRunsAnyRunner(t *testing.T) {
	t.Parallel()
	r := countingRunner{ran: make(chan struct{})}
	require.NoError(t, logpipe.NewMultiConsumer(r).Run(context.Background()))
	select {
	case <-r.ran:
	default:
		t.Fatal("the runner did not run")
	}
}
