package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// The service serves metrics that move and a passing health check, and
// returns nil when its context ends (what SIGTERM does through
// signal.NotifyContext).
func TestServiceRunsAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	db := filepath.Join(t.TempDir(), "service.db")
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db, "-every", "10ms"}, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("the service stopped: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var metrics string
	for !strings.Contains(metrics, `logpipe_records_applied_total{topic="people",type="person"}`) {
		require.True(t, time.Now().Before(deadline), "no record applied: %s", metrics)
		time.Sleep(20 * time.Millisecond)
		_, metrics = get(t, "http://"+addr+"/metrics")
	}
	assert.Contains(t, metrics, `logpipe_records_sent_total{topic="people",type="person"}`)
	assert.Contains(t, metrics, "go_goroutines")

	status, body := get(t, "http://"+addr+"/healthz")
	assert.Equal(t, http.StatusOK, status, body)
	var h struct {
		OK        bool                   `json:"ok"`
		Consuming bool                   `json:"consuming"`
		Lag       []logpipe.PartitionLag `json:"lag"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &h))
	assert.True(t, h.OK)
	assert.True(t, h.Consuming)
	assert.Len(t, h.Lag, 3, "one entry per partition")

	cancel()
	require.NoError(t, <-done, "a clean stop")
}

func TestHealthFailsWhenBehindOrStopped(t *testing.T) {
	lag := []logpipe.PartitionLag{{Topic: "people", Partition: 0, Records: 5}}
	status, _ := health(true, lag, 10)
	assert.Equal(t, http.StatusOK, status)
	status, body := health(true, lag, 4)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, false, body["ok"])
	status, _ = health(false, nil, 10)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	status, _ = health(true, []logpipe.PartitionLag{{Topic: "s", Shard: "shardId-0", Records: -1, Behind: 2 * time.Minute}}, 10)
	assert.Equal(t, http.StatusServiceUnavailable, status)
}
