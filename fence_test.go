package logpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// applied counts how many times each message was saved.
type applied struct {
	ID    string `gorm:"primaryKey"`
	Times int
}

type counted struct {
	NoLookup
	NoKey
	ID string `json:"id"`
}

func (*counted) MessageType() string { return "counted" }
func (*counted) Version() int        { return 1 }
func (c *counted) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.Assignments(map[string]any{"times": gorm.Expr("applieds.times + 1")}),
	}).Create(&applied{ID: c.ID, Times: 1}).Error
}

// Two consumers of one topic on one offsets table (two replicas during a
// rolling deploy): the offset commits are conditional, so no record is
// applied twice; the consumer that loses a race stops with
// offsetstore.ErrOffsetMoved.
func TestSecondConsumerOfATopicIsFenced(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			require.NoError(t, db.AutoMigrate(&applied{}))
			b := memory.NewBroker(memory.WithAutoCreateTopics(1))
			s := Settings{Backend: b, DB: db}
			p, err := NewProducer(context.Background(), s, "fenced")
			require.NoError(t, err)
			const n = 300
			batch := make([]Message, n)
			for i := range batch {
				batch[i] = &counted{ID: fmt.Sprint(i)}
			}
			_, err = p.SendBatch(context.Background(), batch)
			require.NoError(t, err)

			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				c, err := NewConsumer(s, "fenced", WithIdleTimeout(300*time.Millisecond), WithoutStandby())
				require.NoError(t, err)
				require.NoError(t, c.Register(&counted{}))
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = c.Run(context.Background()) }()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					assert.ErrorIs(t, err, offsetstore.ErrOffsetMoved)
				}
			}
			var twice int64
			require.NoError(t, db.Model(&applied{}).Where("times > 1").Count(&twice).Error)
			assert.Zero(t, twice, "no record applied twice")
			if errs[0] != nil && errs[1] != nil {
				return // both lost a race at some point; a restart resumes
			}
			var total int64
			require.NoError(t, db.Model(&applied{}).Count(&total).Error)
			assert.Equal(t, int64(n), total, "the consumer that kept going applied everything")
			t.Logf("errors: %v", errors.Join(errs...))
		})
	}
}
