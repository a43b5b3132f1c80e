package logpipe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"

	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/format"
)

// dispatcher takes one record through the steps of django-logpipe's
// consumer, in order (README, "Receiving messages"): parse the envelope, skip ignored types, find the serializer for
// the type and version, decode and validate, look up, save.
type dispatcher struct {
	types   map[string]map[int]reflect.Type
	ignored map[string]bool
}

// clone returns a copy of d to modify.
func (d *dispatcher) clone() *dispatcher {
	out := &dispatcher{types: make(map[string]map[int]reflect.Type, len(d.types)), ignored: maps.Clone(d.ignored)}
	for t, vs := range d.types {
		out.types[t] = maps.Clone(vs)
	}
	return out
}

// save looks up and saves s, decoded from rec, within tx (nil when there is
// no database). There is no savepoint: when it fails, the caller rolls the
// whole transaction back and, to skip the record, applies the group again
// without it (see applyGroup). Every error is a *RecordError.
func (d *dispatcher) save(ctx context.Context, tx *gorm.DB, rec backend.Record, s Serializer, env *format.Envelope) error {
	ctx = withRecord(ctx, &Record{
		Position: rec.Position, Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers,
		Type: env.Type, Version: env.Version, ProducerID: env.Producer,
	})
	instance, err := s.LookupInstance(ctx, tx)
	if err != nil {
		err = fmt.Errorf("lookup instance: %w", err)
	} else {
		err = s.Save(ctx, tx, instance)
	}
	if err != nil {
		return &RecordError{Position: rec.Position, Key: rec.Key, Type: env.Type, Version: env.VersionText, Kind: kindOf(err), Err: err}
	}
	return nil
}

// decode parses rec and decodes its message into a new value of the
// registered serializer, validated.
func (d *dispatcher) decode(rec backend.Record) (Serializer, *format.Envelope, error) {
	env, err := format.Parse(rec.Value)
	if err != nil {
		return nil, nil, &RecordError{Position: rec.Position, Key: rec.Key, Kind: ErrInvalidMessage, Err: err}
	}
	fail := func(kind, cause error) error {
		return &RecordError{Position: rec.Position, Key: rec.Key, Type: env.Type, Version: env.VersionText, Kind: kind, Err: cause}
	}
	if env.TypeIsString && d.ignored[env.Type] {
		return nil, env, fail(ErrIgnoredType, nil)
	}
	versions := d.types[env.Type]
	if !env.TypeIsString || versions == nil {
		return nil, env, fail(ErrUnknownType, nil)
	}
	t, ok := versions[env.Version]
	if !env.VersionIsInt || !ok {
		return nil, env, fail(ErrUnknownVersion, nil)
	}
	s := reflect.New(t).Interface().(Serializer)
	if env.Message == nil {
		return nil, env, fail(ErrValidation, &ValidationError{Reason: "the message holds values JSON cannot represent (NaN or infinity)"})
	}
	if err := format.Unmarshal(env.Message, s); err != nil {
		return nil, env, fail(ErrValidation, decodeError(t, env.Message, err))
	}
	if v, ok := s.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, env, fail(ErrValidation, validationFrom(err))
		}
	}
	return s, env, nil
}

// kindOf classifies an error from LookupInstance or Save: a
// *ValidationError skips the record, anything else stops the consumer.
func kindOf(err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ErrValidation
	}
	return ErrSave
}
