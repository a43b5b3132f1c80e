package logpipe_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/memory"
	"github.com/logpipe-go/logpipe/internal/people"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

func TestRoundTripTypesAndVersions(t *testing.T) {
	t.Parallel()
	s, _ := memorySettings(t)
	s.ProducerID = "test-producer"
	for _, f := range []string{"json", "msgpack"} {
		t.Run(f, func(t *testing.T) {
			s := s
			s.Format = f
			topic := "people-" + f
			p, err := logpipe.NewProducer(context.Background(), s, topic)
			require.NoError(t, err)
			defer p.Close()
			ctx := context.Background()
			v1 := person(1)
			pos, err := p.Send(ctx, v1)
			require.NoError(t, err)
			assert.Equal(t, topic, pos.Topic)
			assert.Equal(t, int64(0), pos.Offset)
			email := "joe@example.com"
			v2 := &people.PersonV2{PersonV1: *person(2), Email: &email}
			_, err = p.Send(ctx, v2)
			require.NoError(t, err)

			c, err := logpipe.NewConsumer(s, topic, logpipe.WithIdleTimeout(200*time.Millisecond))
			require.NoError(t, err)
			require.NoError(t, c.Register(&people.PersonV1{}, &people.PersonV2{}))
			require.NoError(t, runIdle(t, c))

			var got []people.Person
			require.NoError(t, s.DB.Where("uuid IN ?", []string{v1.UUID.String(), v2.UUID.String()}).Order("id").Find(&got).Error)
			require.Len(t, got, 2)
			assert.Equal(t, v1.UUID.String(), got[0].UUID.String())
			assert.Nil(t, got[0].Email)
			require.NotNil(t, got[1].Email)
			assert.Equal(t, email, *got[1].Email)

			offsets, err := testenv.NextOffsets(ctx, s.DB, topic)
			require.NoError(t, err)
			assert.Equal(t, map[int32]int64{0: 2}, offsets, "the next offset to read is stored")
		})
	}
}

func TestKeyIsTheKeyFieldsText(t *testing.T) {
	t.Parallel()
	s, b := memorySettings(t)
	p, err := logpipe.NewProducer(context.Background(), s, "keys")
	require.NoError(t, err)
	msg := person(7)
	_, err = p.Send(context.Background(), msg)
	require.NoError(t, err)
	recs := b.Records("keys", 0)
	require.Len(t, recs, 1)
	assert.Equal(t, msg.UUID.String(), string(recs[0].Key))
	assert.Equal(t, `json:{"type":"person","version":1,"message":{"uuid":"`+msg.UUID.String()+`","first_name":"First","last_name":"Last"}}`, string(recs[0].Value))
}

type badInput struct {
	Case     string `json:"case"`
	ValueB64 string `json:"value_b64"`
}

// Every bad input of the original's test data: a typed error when errors
// are thrown; otherwise logged, committed, skipped, and the next good record
// applied.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	want := map[string]error{
		"control_valid": nil, "version_float_1_0": nil, "validation_uuid_int": nil, "extra_fields": nil, "msgpack_well_formed": nil,
		"no_prefix": logpipe.ErrUnknownFormat, "no_colon": logpipe.ErrUnknownFormat, "empty_value": logpipe.ErrUnknownFormat,
		"unknown_format_xml": logpipe.ErrUnknownFormat, "uppercase_JSON_prefix": logpipe.ErrUnknownFormat, "pickle_prefix_not_enabled": logpipe.ErrUnknownFormat,
		"invalid_json": logpipe.ErrInvalidMessage, "json_empty_body": logpipe.ErrInvalidMessage, "json_trailing_garbage": logpipe.ErrInvalidMessage,
		"json_nan_literal": logpipe.ErrInvalidMessage, "json_invalid_utf8": logpipe.ErrInvalidMessage, "json_top_level_array": logpipe.ErrInvalidMessage,
		"json_top_level_number": logpipe.ErrInvalidMessage, "json_top_level_null": logpipe.ErrInvalidMessage, "missing_type": logpipe.ErrInvalidMessage,
		"missing_version": logpipe.ErrInvalidMessage, "missing_message": logpipe.ErrInvalidMessage, "msgpack_garbage": logpipe.ErrInvalidMessage,
		"unknown_type": logpipe.ErrUnknownType, "type_null": logpipe.ErrUnknownType, "ignored_type": logpipe.ErrIgnoredType,
		"unknown_version": logpipe.ErrUnknownVersion, "version_as_string": logpipe.ErrUnknownVersion,
		"validation_first_name_too_long": logpipe.ErrValidation, "validation_first_name_null": logpipe.ErrValidation,
		"validation_missing_last_name": logpipe.ErrValidation, "validation_uuid_missing": logpipe.ErrValidation,
		"validation_uuid_malformed": logpipe.ErrValidation, "message_is_string": logpipe.ErrValidation,
		"message_is_list": logpipe.ErrValidation, "message_is_null": logpipe.ErrValidation,
	}
	f, err := os.Open("testdata/interop/bad-inputs.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var cases []badInput
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var c badInput
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		cases = append(cases, c)
	}
	require.Len(t, cases, len(want), "every case of the file has an expectation")
	for _, bc := range cases {
		wantErr, ok := want[bc.Case]
		require.True(t, ok, bc.Case)
		value, err := base64.StdEncoding.DecodeString(bc.ValueB64)
		require.NoError(t, err)
		for _, throw := range []bool{false, true} {
			name := bc.Case + "/skip"
			if throw {
				name = bc.Case + "/throw"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s, b := memorySettings(t)
				topic := "bad"
				sendRaw(t, b, topic, "bad-key", value)
				good := person(1)
				p, err := logpipe.NewProducer(context.Background(), s, topic)
				require.NoError(t, err)
				_, err = p.Send(context.Background(), good)
				require.NoError(t, err)
				opts := []logpipe.ConsumerOption{logpipe.WithIdleTimeout(100 * time.Millisecond)}
				if throw {
					opts = append(opts, logpipe.WithThrowErrors())
				}
				c, err := logpipe.NewConsumer(s, topic, opts...)
				require.NoError(t, err)
				require.NoError(t, c.Register(&people.PersonV1{}))
				c.Ignore("ignoredtype")
				err = runIdle(t, c)
				offsets, lerr := testenv.NextOffsets(context.Background(), s.DB, topic)
				require.NoError(t, lerr)
				applied := peopleIn(t, s.DB)
				if wantErr == nil || !throw {
					require.NoError(t, err)
					assert.Equal(t, map[int32]int64{0: 2}, offsets, "both records committed")
					wantRows := 1
					if wantErr == nil {
						wantRows = 2
					}
					assert.Len(t, applied, wantRows)
					assert.Equal(t, good.UUID.String(), applied[len(applied)-1].UUID.String(), "the good record after it is applied")
					return
				}
				require.Error(t, err)
				assert.True(t, errors.Is(err, wantErr), "got %v, want %v", err, wantErr)
				var re *logpipe.RecordError
				require.True(t, errors.As(err, &re))
				assert.Equal(t, topic, re.Topic)
				assert.Equal(t, int64(0), re.Offset)
				assert.Equal(t, "bad-key", string(re.Key))
				assert.Contains(t, err.Error(), "bad/0@0")
				assert.Empty(t, offsets, "nothing committed")
				assert.Empty(t, applied)
			})
		}
	}
}

func TestSettingsReportEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := logpipe.NewConsumer(logpipe.Settings{Format: "xml", MinMessageLag: -1}, "t", logpipe.WithTransactionSize(0))
	require.Error(t, err)
	for _, want := range []string{"Settings.Backend is nil", "Settings.Format", "MinMessageLag is negative", "Settings.DB is nil", "WithTransactionSize(0)"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = logpipe.NewConsumer(logpipe.Settings{Backend: memory.NewBroker(), Offsets: logpipe.OffsetsInBroker}, "t")
	require.ErrorIs(t, err, backend.ErrUnsupported)
	assert.Contains(t, err.Error(), "the memory backend does not support")
	_, err = logpipe.NewProducer(context.Background(), logpipe.Settings{}, "t")
	assert.ErrorContains(t, err, "Settings.Backend is nil")
}

func TestRegisterRejectsDuplicatesAndNonPointers(t *testing.T) {
	t.Parallel()
	s, _ := memorySettings(t)
	c, err := logpipe.NewConsumer(s, "t")
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}, &people.PersonV2{}))
	assert.ErrorContains(t, c.Register(&people.PersonV1{}), `already handles type "person" version 1`)
}

func TestMinMessageLagHoldsYoungRecords(t *testing.T) {
	t.Parallel()
	s, _ := memorySettings(t)
	s.MinMessageLag = 300 * time.Millisecond
	p, err := logpipe.NewProducer(context.Background(), s, "lag")
	require.NoError(t, err)
	sent := time.Now()
	_, err = p.Send(context.Background(), person(1))
	require.NoError(t, err)
	c, err := logpipe.NewConsumer(s, "lag", logpipe.WithIdleTimeout(50*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Register(&people.PersonV1{}))
	require.NoError(t, runIdle(t, c))
	// Not a timing assertion of speed: the record must not be applied
	// before it is MinMessageLag old.
	assert.GreaterOrEqual(t, time.Since(sent), s.MinMessageLag)
	assert.Len(t, peopleIn(t, s.DB), 1)
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	s, _ := memorySettings(t)
	c, err := logpipe.NewConsumer(s, "quiet")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	assert.ErrorIs(t, c.Run(context.Background()), logpipe.ErrAlreadyRunning)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
