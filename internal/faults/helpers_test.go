package faults

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/offsetstore"
)

func offsetstoreMigrate(db *gorm.DB) error { return offsetstore.Migrate(context.Background(), db) }

func newMemory(t *testing.T, topic string, partitions int) *memory.Broker {
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic(topic, partitions))
	return b
}
