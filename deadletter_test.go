package logpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/testenv"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// keyed is a message with a key whose save fails while Fail is set, as a
// value the database refuses would.
type keyed struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	Fail  bool   `json:"fail"`
}

type keyedRow struct {
	ID    string `gorm:"primaryKey"`
	Value string
}

func (*keyed) MessageType() string { return "keyed" }
func (*keyed) Version() int        { return 1 }
func (*keyed) KeyField() string    { return "id" }
func (k *keyed) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	return nil, nil
}
func (k *keyed) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	if err := tx.WithContext(ctx).Save(&keyedRow{ID: k.ID, Value: k.Value}).Error; err != nil {
		return err
	}
	if k.Fail {
		return fmt.Errorf("the value %q is refused: %w", k.Value, ErrPermanent)
	}
	return nil
}

// keyedFixed is keyed with the failure fixed, as a new deploy would have it.
type keyedFixed struct{ keyed }

func (k *keyedFixed) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	return tx.WithContext(ctx).Save(&keyedRow{ID: k.ID, Value: k.Value}).Error
}

func keyedRows(t *testing.T, db *gorm.DB) map[string]string {
	var rows []keyedRow
	require.NoError(t, db.Find(&rows).Error)
	out := map[string]string{}
	for _, r := range rows {
		out[r.ID] = r.Value
	}
	return out
}

// A poison record (its save fails permanently) is dead-lettered in the
// transaction of its offset, with what it wrote undone, and the records
// after it are applied; a bad envelope is dead-lettered too. Replay applies
// a dead letter through the fixed code and removes it, unless a later
// record of its key was applied since (superseded), which needs force.
func TestPoisonRecordIsDeadLetteredAndReplayed(t *testing.T) {
	t.Parallel()
	for name, open := range testenv.Databases(t) {
		for _, size := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/tx=%d", name, size), func(t *testing.T) {
				t.Parallel()
				db := open(t)
				require.NoError(t, db.AutoMigrate(&keyedRow{}))
				b := memory.NewBroker()
				require.NoError(t, b.CreateTopic("dl", 2))
				s := Settings{Backend: b, DB: db}
				p, err := NewProducer(context.Background(), s, "dl")
				require.NoError(t, err)
				ctx := context.Background()
				for _, m := range []*keyed{
					{ID: "a", Value: "a1"}, {ID: "p", Value: "poison", Fail: true}, {ID: "b", Value: "b1"},
					{ID: "q", Value: "q-poison", Fail: true}, {ID: "q", Value: "q2"}, // q's poison is superseded by q2
				} {
					_, err := p.Send(ctx, m)
					require.NoError(t, err)
				}
				bad, err := b.Append(backend.Message{Topic: "dl", Key: []byte("x"), Value: []byte("json:{not json")})
				require.NoError(t, err)

				c, err := NewConsumer(s, "dl", WithIdleTimeout(200*time.Millisecond), WithTransactionSize(size))
				require.NoError(t, err)
				require.NoError(t, c.Register(&keyed{}))
				require.NoError(t, c.Run(ctx), "the poison record does not stop the consumer")
				assert.Equal(t, map[string]string{"a": "a1", "b": "b1", "q": "q2"}, keyedRows(t, db), "the poison record's write was undone; the others applied")

				dls, err := offsetstore.ListDeadLetters(ctx, db, offsetstore.DeadLetterFilter{Topic: "dl"})
				require.NoError(t, err)
				require.Len(t, dls, 3)
				byKey := map[string]offsetstore.DeadLetter{}
				for _, d := range dls {
					byKey[string(d.Key)] = d
				}
				assert.Equal(t, "save", byKey["p"].ErrorKind)
				assert.Equal(t, 1, byKey["p"].Attempts, "ErrPermanent: dead-lettered at the first failure")
				assert.Equal(t, "keyed", byKey["p"].Type)
				assert.Contains(t, byKey["p"].Error, "poison")
				assert.Contains(t, string(byKey["p"].Value), `"value":"poison"`, "the raw value is kept")
				assert.Nil(t, byKey["p"].SupersededAt)
				assert.NotNil(t, byKey["q"].SupersededAt, "a later record of key q was applied")
				assert.Equal(t, "invalid message", byKey["x"].ErrorKind)
				assert.Equal(t, bad.Offset, byKey["x"].Offset)
				assert.Equal(t, bad.Partition, byKey["x"].Partition)
				offsets, err := testenv.NextOffsets(ctx, db, "dl")
				require.NoError(t, err)
				total := int64(0)
				for _, o := range offsets {
					total += o
				}
				assert.EqualValues(t, 6, total, "every record's offset is committed")

				// Replay with the code fixed.
				fixed, err := NewConsumer(s, "dl")
				require.NoError(t, err)
				require.NoError(t, fixed.Register(&keyedFixed{}))
				require.NoError(t, fixed.ReplayDeadLetter(ctx, byKey["p"].ID, false))
				assert.Equal(t, "poison", keyedRows(t, db)["p"])
				err = fixed.ReplayDeadLetter(ctx, byKey["q"].ID, false)
				require.ErrorIs(t, err, ErrSuperseded, "replaying q would overwrite q2")
				assert.Equal(t, "q2", keyedRows(t, db)["q"])
				require.NoError(t, fixed.ReplayDeadLetter(ctx, byKey["q"].ID, true), "forced")
				assert.Equal(t, "q-poison", keyedRows(t, db)["q"])
				assert.Error(t, fixed.ReplayDeadLetter(ctx, byKey["x"].ID, false), "a bad envelope stays bad")
				left, err := offsetstore.ListDeadLetters(ctx, db, offsetstore.DeadLetterFilter{Topic: "dl"})
				require.NoError(t, err)
				require.Len(t, left, 1, "replayed dead letters are removed")
				n, err := offsetstore.PurgeDeadLetters(ctx, db, offsetstore.DeadLetterFilter{Topic: "dl"})
				require.NoError(t, err)
				assert.EqualValues(t, 1, n)
			})
		}
	}
}

// flaky fails its first saves with an error that is neither transient nor
// permanent, then succeeds: tried again, not dead-lettered.
type flaky struct {
	keyed
}

var flakyFailures sync.Map // id -> remaining failures (*int)

func (f *flaky) Save(ctx context.Context, tx *gorm.DB, _ any) error {
	if v, ok := flakyFailures.Load(f.ID); ok && *v.(*int) > 0 {
		*v.(*int)--
		return errors.New("something odd")
	}
	return tx.WithContext(ctx).Save(&keyedRow{ID: f.ID, Value: f.Value}).Error
}

func TestSaveTriedAgainBeforeDeadLettering(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	require.NoError(t, db.AutoMigrate(&keyedRow{}))
	b := memory.NewBroker()
	require.NoError(t, b.CreateTopic("flaky", 1))
	s := Settings{Backend: b, DB: db}
	p, err := NewProducer(context.Background(), s, "flaky")
	require.NoError(t, err)
	twice, thrice := uuid.NewString(), uuid.NewString()
	flakyFailures.Store(twice, new(int))
	*mustLoad(twice) = 2 // succeeds at the third attempt
	flakyFailures.Store(thrice, new(int))
	*mustLoad(thrice) = 3 // never within SaveAttempts=3
	for _, id := range []string{twice, thrice} {
		_, err := p.Send(context.Background(), &flaky{keyed{ID: id, Value: "v"}})
		require.NoError(t, err)
	}
	c, err := NewConsumer(s, "flaky", WithIdleTimeout(200*time.Millisecond), WithRetryPolicy(RetryPolicy{MinBackoff: time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, c.Register(&flaky{}))
	require.NoError(t, c.Run(context.Background()))
	rows := keyedRows(t, db)
	assert.Contains(t, rows, twice, "applied at its third attempt")
	assert.NotContains(t, rows, thrice)
	dls, err := offsetstore.ListDeadLetters(context.Background(), db, offsetstore.DeadLetterFilter{Topic: "flaky"})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, thrice, string(dls[0].Key))
	assert.Equal(t, 3, dls[0].Attempts)
}

func mustLoad(id string) *int {
	v, _ := flakyFailures.Load(id)
	return v.(*int)
}

// Transient errors are recognised; permanent ones are not retried.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	assert.True(t, IsTransient(fmt.Errorf("x: %w", ErrTransient)))
	assert.True(t, IsTransient(sqlStateErr("40001")))
	assert.True(t, IsTransient(sqlStateErr("40P01")))
	assert.True(t, IsTransient(sqlStateErr("08006")))
	assert.True(t, IsTransient(sqlStateErr("57P01")))
	assert.False(t, IsTransient(sqlStateErr("23505")))
	assert.True(t, isPermanent(sqlStateErr("23505")))
	assert.True(t, isPermanent(sqlStateErr("22021")), "a NUL byte in text")
	assert.False(t, IsTransient(context.Canceled))
	assert.False(t, IsTransient(offsetstore.ErrOffsetMoved))
	assert.False(t, IsTransient(fmt.Errorf("x: %w", backend.ErrMissingTopic)))
	assert.False(t, IsTransient(errors.New("something odd")))
}

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "ERROR (SQLSTATE " + string(e) + ")" }
func (e sqlStateErr) SQLState() string { return string(e) }
