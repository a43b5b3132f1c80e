package kinesis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

func TestLeaseConfigDefaults(t *testing.T) {
	t.Parallel()
	l := LeaseConfig{}.withDefaults()
	assert.Equal(t, DefaultLeaseDuration, l.Duration)
	assert.Equal(t, DefaultLeaseDuration/DefaultLeaseRenewDivisor, l.Renew)
	assert.NotEmpty(t, l.Owner)
	assert.NotEqual(t, l.Owner, LeaseConfig{}.withDefaults().Owner, "default owners differ between consumers")
	assert.Equal(t, 5*time.Second, LeaseConfig{Duration: 20 * time.Second}.withDefaults().Renew)
	assert.Equal(t, "pod-1", LeaseConfig{Owner: "pod-1"}.withDefaults().Owner)
	require.NoError(t, Config{Leases: &LeaseConfig{}}.Validate())
	require.NoError(t, Config{Leases: &LeaseConfig{Duration: 2 * time.Second, Renew: 400 * time.Millisecond}}.Validate())
}

func TestLeaseConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Config{Leases: &LeaseConfig{Duration: -time.Second, Renew: -time.Second, Owner: strings.Repeat("o", 201)}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"Leases.Duration -1s", "Leases.Renew -1s", "201 characters"} {
		assert.Contains(t, err.Error(), want)
	}
	err = Config{Leases: &LeaseConfig{Duration: 10 * time.Second, Renew: 5 * time.Second}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not less than half")

	_, err = NewConsumer(context.Background(), Config{Leases: &LeaseConfig{}}, ConsumerOptions{Topic: "s", Offsets: nil})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Leases needs ConsumerOptions.DB")
}

func TestBackendSharesWorkWithLeases(t *testing.T) {
	t.Parallel()
	assert.False(t, New(Config{}).SharesPartitions(backend.ConsumerOptions{}))
	assert.True(t, New(Config{Leases: &LeaseConfig{}}).SharesPartitions(backend.ConsumerOptions{}))
}

// A consumer with leases on a stream that does not exist fails at once with
// a *MissingStreamError, and leaves no lease row behind.
func TestLeasedConsumerOfMissingStream(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	cfg := testConfig(t)
	cfg.Leases = &LeaseConfig{}
	_, err := NewConsumer(context.Background(), cfg, ConsumerOptions{Topic: testenv.Name("lp-missing"), DB: db})
	var missing *MissingStreamError
	require.ErrorAs(t, err, &missing)
}
