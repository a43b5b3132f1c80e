package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/offsetstore"
	"github.com/logpipe-go/logpipe/outbox"
)

// change is the outbox measurement's message: one per saved row, each with
// its own key, so that its record on the topic tells when it was sent.
type change struct {
	ID string `json:"id"`
}

func (*change) MessageType() string { return "change" }
func (*change) Version() int        { return 1 }
func (*change) KeyField() string    { return "id" }

// changeRow is the row a change saves.
type changeRow struct {
	ID string `gorm:"primaryKey"`
}

// childOutbox saves a.n rows, one transaction each, and sends a change for
// each: with -mode outbox through outbox.Send in the row's transaction and
// a Relay in the same process; with -mode plain with Producer.Send after
// the commit. The measure runs from the first save to the last record
// acknowledged (outbox: relayed and deleted). With -mode outbox it then
// reads the topic and reports each record's commit-to-send latency: the
// record's timestamp (set by the relay's producer when it sends, to the
// millisecond) minus its transaction's commit.
func childOutbox(ctx context.Context, a childArgs) (childResult, error) {
	db, err := openDB(a.db)
	if err != nil {
		return childResult{}, err
	}
	if err := offsetstore.Migrate(ctx, db); err != nil {
		return childResult{}, err
	}
	if err := db.AutoMigrate(&changeRow{}); err != nil {
		return childResult{}, err
	}
	s := a.settings(db)
	committed := make(map[string]time.Time, a.n)
	save := func(i int, send func(tx *gorm.DB, msg logpipe.Message) error) error {
		msg := &change{ID: "c" + strconv.Itoa(i)}
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&changeRow{ID: msg.ID}).Error; err != nil {
				return err
			}
			if send != nil {
				return send(tx, msg)
			}
			return nil
		})
		committed[msg.ID] = time.Now()
		return err
	}
	start := time.Now()
	switch a.mode {
	case "plain":
		p, err := logpipe.NewProducer(ctx, s, a.topic)
		if err != nil {
			return childResult{}, err
		}
		defer func() { _ = p.Close() }()
		for i := range a.n {
			if err := save(i, nil); err != nil {
				return childResult{}, err
			}
			if _, err := p.Send(ctx, &change{ID: "c" + strconv.Itoa(i)}); err != nil {
				return childResult{}, err
			}
		}
	case "outbox":
		w, err := outbox.NewWriter(s, a.topic)
		if err != nil {
			return childResult{}, err
		}
		relay, err := outbox.NewRelay(s, outbox.WithPollInterval(20*time.Millisecond))
		if err != nil {
			return childResult{}, err
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- relay.Run(rctx) }()
		for i := range a.n {
			if err := save(i, func(tx *gorm.DB, msg logpipe.Message) error { _, err := w.Send(ctx, tx, msg); return err }); err != nil {
				stop()
				return childResult{}, err
			}
		}
		for {
			left, err := outbox.Pending(ctx, db, a.topic)
			if err != nil {
				stop()
				return childResult{}, err
			}
			if left == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			return childResult{}, err
		}
	default:
		return childResult{}, fmt.Errorf("unknown -mode %q: outbox or plain", a.mode)
	}
	res := childResult{Records: a.n, Seconds: time.Since(start).Seconds()}
	if a.mode == "outbox" { // after a commit, Producer.Send's latency is the send itself
		if res.P50Ms, res.P99Ms, err = sendLatency(ctx, s, a.topic, committed); err != nil {
			return childResult{}, err
		}
	}
	return res, nil
}

// sendLatency reads the topic once and returns the median and 99th
// percentile, in milliseconds, of each record's timestamp minus its commit.
func sendLatency(ctx context.Context, s logpipe.Settings, topic string, committed map[string]time.Time) (p50, p99 float64, err error) {
	c, err := s.Backend.NewConsumer(ctx, backend.ConsumerOptions{Topic: topic, Offsets: nowhere{}})
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = c.Close() }()
	var lat []float64
	seen := map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	for len(seen) < len(committed) {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("read %d of %d records back", len(seen), len(committed))
		}
		recs, err := c.Fetch(ctx)
		if err != nil {
			return 0, 0, err
		}
		for _, r := range recs {
			k := string(r.Key)
			at, ok := committed[k]
			if !ok || seen[k] {
				continue
			}
			seen[k] = true
			lat = append(lat, float64(r.Timestamp.Sub(at).Microseconds())/1000)
		}
	}
	if len(lat) == 0 {
		return 0, 0, errors.New("no records")
	}
	sort.Float64s(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], nil
}

// nowhere is an offset store that keeps nothing: the latency read starts
// at the earliest offsets.
type nowhere struct{}

func (nowhere) Load(context.Context, string, string) ([]backend.Position, error) { return nil, nil }
func (nowhere) Commit(context.Context, *gorm.DB, backend.Checkpoint) error       { return nil }
