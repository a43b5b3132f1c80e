package logpipe

import (
	"context"
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// Message is one version of one message type, as a producer needs it: the
// struct's exported fields, named by their JSON tags, are the message's
// fields, for both json and msgpack (a field type's MarshalJSON and
// UnmarshalJSON drive msgpack too). A produce-only type implements Message
// alone and needs neither a database nor GORM. MessageType, Version and
// KeyField must not depend on the field values.
type Message interface {
	// MessageType names the type within its topic, like MESSAGE_TYPE.
	MessageType() string
	// Version is the schema version, like VERSION.
	Version() int
	// KeyField is the JSON name of the field whose value is the record key
	// (Kafka's key, Kinesis's partition key), like KEY_FIELD; "" for none.
	KeyField() string
}

// Serializer is one version of one message type that a consumer applies. It
// plays the part of a django-logpipe serializer class: a Message that can
// also look up and save what it describes.
//
// A producer renders a Serializer value and sends it. A consumer decodes each
// incoming message into a new value of the registered type (see
// Consumer.Register), validates it (see Validator), then calls LookupInstance
// and Save inside the database transaction in which the record's offset is
// committed: the application's writes and the offset commit succeed or fail
// together.
//
// Methods are usually declared on the pointer type. RecordFrom(ctx) gives
// LookupInstance and Save the record being applied (position, key,
// timestamp, headers, producer id).
type Serializer interface {
	Message
	// LookupInstance returns the existing object that this message
	// updates, or nil when the message describes a new one. It runs inside
	// the record's transaction tx (nil when no database is configured).
	// Return a *ValidationError to skip the message as invalid.
	LookupInstance(ctx context.Context, tx *gorm.DB) (any, error)
	// Save applies the message, given what LookupInstance returned. It
	// runs inside the record's transaction tx (nil when no database is
	// configured); an error stops the consumer and commits nothing, so the
	// record is applied again after a restart. Return a *ValidationError
	// to skip the message as invalid instead.
	Save(ctx context.Context, tx *gorm.DB, instance any) error
}

// Validator is implemented by serializers that check their decoded fields,
// as a Django REST Framework serializer's is_valid does. A failure is
// reported as a *ValidationError (any other error is wrapped in one).
type Validator interface {
	Validate() error
}

// Consume-only serializers whose Save does all the work can embed NoLookup;
// types sent without a key can embed NoKey. Produce-only types implement
// Message and need neither.

// NoLookup implements LookupInstance by finding nothing, for serializers
// whose Save does all the work.
type NoLookup struct{}

// LookupInstance returns nil, nil.
func (NoLookup) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }

// NoKey implements KeyField for types sent without a record key.
type NoKey struct{}

// KeyField returns "".
func (NoKey) KeyField() string { return "" }

// keyFields caches, per struct type, the index of the field with each JSON
// name, so that a producer finds the key field without re-reading tags.
var keyFields sync.Map // reflect.Type -> map[string][]int

// recordKey returns the string form of msg's key field: text as is, numbers
// in decimal, other values (such as a UUID) through their String or
// MarshalText method.
func recordKey(msg Message) ([]byte, error) {
	name := msg.KeyField()
	if name == "" {
		return nil, nil
	}
	v := reflect.ValueOf(msg)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, fmt.Errorf("logpipe: %s is nil", typeName(msg))
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("logpipe: %s has key field %q but is not a struct", typeName(msg), name)
	}
	index, ok := jsonFields(v.Type())[name]
	if !ok {
		return nil, fmt.Errorf("logpipe: key field %q names no field of %s (match a field's JSON name)", name, typeName(msg))
	}
	f, err := v.FieldByIndexErr(index)
	if err != nil {
		return nil, nil // reached through a nil embedded pointer: no key
	}
	return keyText(f)
}

func keyText(f reflect.Value) ([]byte, error) {
	for f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return nil, nil
		}
		f = f.Elem()
	}
	if f.CanInterface() {
		switch t := f.Interface().(type) {
		case fmt.Stringer:
			return []byte(t.String()), nil
		case encoding.TextMarshaler:
			return t.MarshalText()
		}
	}
	switch f.Kind() {
	case reflect.String:
		return []byte(f.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(nil, f.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(nil, f.Uint(), 10), nil
	}
	return nil, fmt.Errorf("logpipe: key field of type %s has no string form (use a string, an integer, or a type with a String method)", f.Type())
}

func jsonFields(t reflect.Type) map[string][]int {
	if m, ok := keyFields.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Tag.Get("json") == "" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := m[name]; !dup {
			m[name] = f.Index
		}
	}
	keyFields.Store(t, m)
	return m
}

func typeName(v any) string { return reflect.TypeOf(v).String() }
