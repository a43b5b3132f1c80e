package logpipe_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// A skipped (or dead-lettered) record's log line and error quote wire
// values cut to a fixed size with a marker, however long they are on the
// wire: a 10 MB type, key, version or format code makes a short line, not a
// 20 MB one.
func TestSkippedRecordLogIsBounded(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 10<<20)
	records := map[string]struct {
		key, value string
		kind       error
	}{
		"type":        {"k", `json:{"type":"` + big + `","version":1,"message":{}}`, logpipe.ErrUnknownType},
		"key":         {big, `json:{"type":"nope","version":1,"message":{}}`, logpipe.ErrUnknownType},
		"version":     {"k", `json:{"type":"person","version":"` + big + `","message":{}}`, logpipe.ErrUnknownVersion},
		"format code": {"k", big + `:{}`, logpipe.ErrInvalidMessage},
		"ignored":     {"k", `json:{"type":"ignored","version":"` + big + `","message":{}}`, logpipe.ErrIgnoredType},
	}
	for name, r := range records {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, broker := memorySettings(t)
			var logged testenv.Buffer
			s.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
			sendRaw(t, broker, "clip", r.key, []byte(r.value))

			c, err := logpipe.NewConsumer(s, "clip", logpipe.WithIdleTimeout(50*time.Millisecond))
			require.NoError(t, err)
			require.NoError(t, c.Register(&people.PersonV1{}))
			c.Ignore("ignored")
			require.NoError(t, runIdle(t, c))
			var line string
			for l := range strings.SplitSeq(logged.String(), "\n") {
				if strings.Contains(l, "skipped record") || strings.Contains(l, "record dead-lettered") {
					line = l
				}
			}
			require.NotEmpty(t, line, "the record is logged")
			assert.Less(t, len(line), 2000)
			assert.Contains(t, line, "bytes cut]")

			thrower, err := logpipe.NewConsumer(s, "clip", logpipe.WithIdleTimeout(50*time.Millisecond), logpipe.WithThrowErrors())
			require.NoError(t, err)
			require.NoError(t, thrower.Register(&people.PersonV1{}))
			thrower.Ignore("ignored")
			sendRaw(t, broker, "clip", r.key, []byte(r.value))
			err = runIdle(t, thrower)
			require.ErrorIs(t, err, r.kind)
			var re *logpipe.RecordError
			require.True(t, errors.As(err, &re))
			assert.Less(t, len(err.Error()), 2000)
			assert.Contains(t, err.Error(), "bytes cut]")
			assert.Equal(t, len(r.key), len(re.Key), "the error's fields keep the whole values")
		})
	}
}
