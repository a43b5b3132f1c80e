package logpipeprom_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/plugin/logpipeprom"
)

// scrape returns the metrics page the real promhttp handler serves.
func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	require.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// The metrics move as records flow through a real Kafka broker into
// PostgreSQL, as a Prometheus server scraping /metrics sees them.
func TestMetricsMoveAsRecordsFlow(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.KafkaTopic(t, 2)
	db := testenv.Postgres(t)
	require.NoError(t, db.AutoMigrate(&people.Person{}))

	metrics := logpipeprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	kb := kafka.New(kafka.Config{Brokers: brokers, PollInterval: 200 * time.Millisecond})
	settings := logpipe.Settings{Backend: kb, DB: db, Hooks: []logpipe.Hook{metrics}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	before := scrape(t, srv.URL)
	assert.NotContains(t, before, `logpipe_records_sent_total{topic="`+topic)

	p, err := logpipe.NewProducer(ctx, settings, topic)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	for i := range 4 {
		_, err := p.Send(ctx, &people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Joe", LastName: strconv.Itoa(i)})
		require.NoError(t, err)
	}
	_, err = p.SendBatch(ctx, []logpipe.Message{&people.PersonV1{UUID: people.UUID(uuid.New()), FirstName: "Ann", LastName: "Batch"}})
	require.NoError(t, err)
	raw, err := kb.NewProducer(ctx, backend.ProducerOptions{})
	require.NoError(t, err)
	_, err = raw.Send(ctx, backend.Message{Topic: topic, Key: []byte("bad"), Value: []byte("json:{not json")})
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	sent := scrape(t, srv.URL)
	assert.Contains(t, sent, `logpipe_records_sent_total{topic="`+topic+`",type="person"} 5`)
	assert.Contains(t, sent, `logpipe_send_duration_seconds_count{topic="`+topic+`"} 5`)
	assert.NotContains(t, sent, `logpipe_records_applied_total{topic="`+topic)

	c, err := logpipe.NewConsumer(settings, topic, logpipe.WithIdleTimeout(2*time.Second))
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}))
	require.NoError(t, c.Run(ctx))

	after := scrape(t, srv.URL)
	for _, line := range []string{
		`logpipe_records_applied_total{topic="` + topic + `",type="person"} 5`,
		`logpipe_save_duration_seconds_count{topic="` + topic + `",type="person"} 5`,
		`logpipe_records_skipped_total{reason="invalid_message",topic="` + topic + `"} 1`,
		`logpipe_records_fetched_total{topic="` + topic + `"} 6`,
		`logpipe_consumer_lag_records{partition="0",topic="` + topic + `"} 0`,
		`logpipe_consumer_lag_records{partition="1",topic="` + topic + `"} 0`,
		`logpipe_partition_assignments_total{change="added",topic="` + topic + `"} 2`,
	} {
		assert.Contains(t, after, line)
	}
	assert.NotContains(t, after, `logpipe_apply_failures_total{topic="`+topic)
	var n int64
	require.NoError(t, db.Model(&people.Person{}).Count(&n).Error)
	assert.Equal(t, int64(5), n)
	lag := c.Lag()
	require.Len(t, lag, 2)
	var end int64
	for _, l := range lag {
		assert.Equal(t, int64(0), l.Records, "partition %d", l.Partition)
		end += l.End
	}
	assert.Equal(t, int64(6), end, "the high watermarks count every record")
}
