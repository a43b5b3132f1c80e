package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/format"
	"github.com/logpipe-go/logpipe/offsetstore"
)

// SeqHeader is the header in which the relay sends a record's per-key
// sequence number (decimal), on backends with headers (Kafka). The first
// record of a topic and key is 1.
const SeqHeader = "logpipe-outbox-seq"

// ErrNoTransaction is returned by Send when tx is not a transaction: the
// record would commit on its own, which is what the outbox is there to
// avoid.
var ErrNoTransaction = errors.New("logpipe/outbox: Send needs a transaction (call it inside db.Transaction or after db.Begin)")

// ErrUnsupportedDatabase is returned for a database other than PostgreSQL
// or SQLite.
var ErrUnsupportedDatabase = errors.New("logpipe/outbox: the outbox supports PostgreSQL and SQLite")

// Entry is a record the Writer stored.
type Entry struct {
	// ID is the row's id in logpipe_outbox.
	ID int64
	// Seq is the record's sequence number among those of its topic and
	// key (1 for the first), or 0 for a record without a key.
	Seq int64
}

// Writer stores messages for one topic in the outbox, rendered with the
// format and producer id of the settings it was made from. It holds no
// connection and is safe for concurrent use.
type Writer struct {
	topic    string
	settings logpipe.Settings
	notify   bool
}

// NewWriter returns a writer for topic with the Format and ProducerID of
// s. s needs no Backend or DB: the writer writes through the transaction
// each Send is given. Options: WithNotify.
func NewWriter(s logpipe.Settings, topic string, opts ...WriterOption) (*Writer, error) {
	if topic == "" {
		return nil, errors.New("logpipe/outbox: NewWriter needs a topic")
	}
	if len(topic) > 249 {
		return nil, fmt.Errorf("logpipe/outbox: topic %q is longer than 249 characters", topic)
	}
	if _, err := format.Lookup(cmp.Or(s.Format, format.Default)); err != nil {
		return nil, fmt.Errorf("logpipe/outbox: Settings.Format: %w", err)
	}
	w := &Writer{topic: topic, settings: s}
	for _, o := range opts {
		if o != nil {
			o(w)
		}
	}
	return w, nil
}

// Topic returns the topic or stream the writer's records go to.
func (w *Writer) Topic() string { return w.topic }

// Send renders msg as logpipe.Producer.Send would and inserts it, with
// headers, into the outbox through tx, which must be a transaction: the
// record is sent once tx commits, and never if it rolls back. For a message
// with a key, Send locks the key's counter row until tx ends (see the
// package documentation on ordering).
func (w *Writer) Send(ctx context.Context, tx *gorm.DB, msg logpipe.Message, headers ...logpipe.Header) (Entry, error) {
	if tx == nil {
		return Entry{}, ErrNoTransaction
	}
	if _, ok := tx.Statement.ConnPool.(gorm.TxCommitter); !ok {
		return Entry{}, ErrNoTransaction
	}
	if d := tx.Name(); d != "postgres" && d != "sqlite" {
		return Entry{}, fmt.Errorf("%w (this is %s)", ErrUnsupportedDatabase, d)
	}
	if msg == nil {
		return Entry{}, fmt.Errorf("logpipe/outbox: send to %s: the message is nil", w.topic)
	}
	rec, err := logpipe.Render(w.settings, w.topic, msg)
	if err != nil {
		return Entry{}, fmt.Errorf("logpipe/outbox: send to %s: %w", w.topic, err)
	}
	var hdrs *string
	if len(headers) > 0 {
		b, err := json.Marshal(encodeHeaders(headers))
		if err != nil {
			return Entry{}, fmt.Errorf("logpipe/outbox: send to %s: encode headers: %w", w.topic, err)
		}
		s := string(b)
		hdrs = &s
	}
	db := tx.WithContext(ctx)
	var e Entry
	var key any // NULL for no key
	if len(rec.Key) > 0 {
		key = rec.Key
		// The upsert locks the key's counter row until tx ends: a second
		// transaction of the same key waits here, so it takes its number
		// and its id only after this one has committed.
		err := db.Raw("INSERT INTO "+offsetstore.OutboxSeqTable+" (topic, msg_key, seq) VALUES (?, ?, 1) "+
			"ON CONFLICT (topic, msg_key) DO UPDATE SET seq = "+offsetstore.OutboxSeqTable+".seq + 1 RETURNING seq",
			w.topic, rec.Key).Scan(&e.Seq).Error
		if err != nil {
			return Entry{}, fmt.Errorf("logpipe/outbox: send to %s (key %q): take the key's sequence number: %w", w.topic, rec.Key, err)
		}
	}
	var seq any
	if e.Seq > 0 {
		seq = e.Seq
	}
	err = db.Raw("INSERT INTO "+offsetstore.OutboxTable+" (topic, msg_key, seq, value, headers, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		w.topic, key, seq, rec.Value, hdrs, time.Now().UTC()).Scan(&e.ID).Error
	if err != nil {
		return Entry{}, fmt.Errorf("logpipe/outbox: send to %s (key %q): insert: %w", w.topic, rec.Key, err)
	}
	if w.notify && tx.Name() == "postgres" {
		// Delivered at commit; several in one transaction are one.
		if err := db.Exec("SELECT pg_notify(?, '')", NotifyChannel).Error; err != nil {
			return Entry{}, fmt.Errorf("logpipe/outbox: send to %s (key %q): notify: %w", w.topic, rec.Key, err)
		}
	}
	return e, nil
}

// Send stores msg for topic in the outbox through the transaction tx, as
// NewWriter(s, topic) then Send would.
func Send(ctx context.Context, tx *gorm.DB, s logpipe.Settings, topic string, msg logpipe.Message, headers ...logpipe.Header) (Entry, error) {
	w, err := NewWriter(s, topic)
	if err != nil {
		return Entry{}, err
	}
	return w.Send(ctx, tx, msg, headers...)
}

// header is a header as stored in the headers column.
type header struct {
	Key   string `json:"k"`
	Value []byte `json:"v"`
}

func encodeHeaders(hs []logpipe.Header) []header {
	out := make([]header, len(hs))
	for i, h := range hs {
		out[i] = header{Key: h.Key, Value: h.Value}
	}
	return out
}

func decodeHeaders(s string) ([]logpipe.Header, error) {
	var hs []header
	if err := json.Unmarshal([]byte(s), &hs); err != nil {
		return nil, err
	}
	out := make([]logpipe.Header, len(hs))
	for i, h := range hs {
		out[i] = logpipe.Header{Key: h.Key, Value: h.Value}
	}
	return out, nil
}
