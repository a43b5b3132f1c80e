package logpipe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
	"github.com/logpipe-go/logpipe/drf"
)

// InvoiceV1 and the V2 variants below exercise Register's check that a
// version does not inherit another version's Save.
type InvoiceV1 struct {
	logpipe.NoLookup
	ID    int         `json:"id"`
	Total drf.Decimal `json:"total" drf:"max_digits=10,decimal_places=2"`
}

func (*InvoiceV1) MessageType() string                                     { return "invoice" }
func (*InvoiceV1) Version() int                                            { return 1 }
func (*InvoiceV1) KeyField() string                                        { return "id" }
func (o *InvoiceV1) Validate() error                                       { return drf.Validate(o) }
func (*InvoiceV1) Save(context.Context, *gorm.DB, any) error               { return nil }
func (*InvoiceV2Forgot) Version() int                                      { return 2 }
func (*InvoiceV2Own) Version() int                                         { return 2 }
func (*InvoiceV2Own) Save(context.Context, *gorm.DB, any) error            { return nil }
func (InvoiceV2Value) Version() int                                        { return 2 }
func (InvoiceV2Value) Save(context.Context, *gorm.DB, any) error           { return nil }
func (*InvoiceV2Pointer) Version() int                                     { return 2 }
func (*InvoiceV2Deep) Version() int                                        { return 3 }
func (*InvoiceV2Helper) Version() int                                      { return 2 }
func (*InvoiceV2Helper) MessageType() string                               { return "invoice" }
func (*InvoiceV2Helper) KeyField() string                                  { return "" }
func (upsertHelper) Save(context.Context, *gorm.DB, any) error             { return nil }
func (upsertHelper) LookupInstance(context.Context, *gorm.DB) (any, error) { return nil, nil }

// InvoiceV2Forgot embeds InvoiceV1 and forgets Save: refused.
type InvoiceV2Forgot struct {
	InvoiceV1
	Note string `json:"note"`
}

// InvoiceV2Own declares its own Save: accepted.
type InvoiceV2Own struct {
	InvoiceV1
	Note string `json:"note"`
}

// InvoiceV2Value declares Save on the value receiver: accepted.
type InvoiceV2Value struct {
	InvoiceV1
	Note string `json:"note"`
}

// InvoiceV2Pointer embeds *InvoiceV1 and forgets Save: refused.
type InvoiceV2Pointer struct {
	*InvoiceV1
	Note string `json:"note"`
}

// InvoiceV2Deep inherits V1's Save through V2Forgot: refused.
type InvoiceV2Deep struct {
	InvoiceV2Forgot
}

type upsertHelper struct{}

// InvoiceV2Helper takes Save from a helper that is not a serializer: accepted.
type InvoiceV2Helper struct {
	upsertHelper
	Note string `json:"note"`
}

func TestRegisterRefusesPromotedSave(t *testing.T) {
	s, _ := memorySettings(t)
	c, err := logpipe.NewConsumer(s, "invoices")
	require.NoError(t, err)

	err = c.Register(&InvoiceV2Forgot{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "promoted from the embedded *logpipe_test.InvoiceV1 (field InvoiceV1)")
	assert.Contains(t, err.Error(), "declare Save on *logpipe_test.InvoiceV2Forgot")

	err = c.Register(&InvoiceV2Pointer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "promoted from the embedded *logpipe_test.InvoiceV1")

	err = c.Register(&InvoiceV2Deep{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "promoted from the embedded *logpipe_test.InvoiceV2Forgot")

	require.NoError(t, c.Register(&InvoiceV1{}))
	require.NoError(t, c.Register(&InvoiceV2Own{}))
	c2, err := logpipe.NewConsumer(s, "invoices2")
	require.NoError(t, err)
	require.NoError(t, c2.Register(&InvoiceV2Value{}))
	c3, err := logpipe.NewConsumer(s, "invoices3")
	require.NoError(t, err)
	require.NoError(t, c3.Register(&InvoiceV2Helper{}))
}

// Decode and validation errors name the field, as DRF's {"total": [...]}.
func TestValidationErrorsNameTheField(t *testing.T) {
	s, b := memorySettings(t)
	c, err := logpipe.NewConsumer(s, "invoices", logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(&InvoiceV1{}))

	for _, tc := range []struct {
		msg, field, text string
		code             string
	}{
		// Refused by Validate (drf tag): DRF's max_decimal_places.
		{`{"id":1,"total":"12.345"}`, "total", "total: Ensure that there are no more than 2 decimal places.", drf.CodeMaxDecimalPlaces},
		// Refused while decoding: not a number.
		{`{"id":1,"total":"abc"}`, "total", "total: A valid number is required.", drf.CodeInvalid},
		// null for a field without null.
		{`{"id":1,"total":null}`, "total", "total: This field may not be null.", drf.CodeNull},
		// A plain Go type error names its field too.
		{`{"id":"x","total":"1"}`, "id", "id: json: cannot unmarshal", ""},
	} {
		sendRaw(t, b, "invoices", "1", []byte(`json:{"type":"invoice","version":1,"message":`+tc.msg+`}`))
		err := runIdle(t, c)
		require.Error(t, err, tc.msg)
		assert.ErrorIs(t, err, logpipe.ErrValidation, tc.msg)
		var ve *logpipe.ValidationError
		require.ErrorAs(t, err, &ve, tc.msg)
		assert.Equal(t, tc.field, ve.Field, tc.msg)
		assert.Contains(t, ve.Error(), tc.text, tc.msg)
		if tc.code != "" {
			var de *drf.Error
			require.ErrorAs(t, err, &de, tc.msg)
			assert.Equal(t, tc.code, de.Code, tc.msg)
			assert.ErrorIs(t, err, drf.ErrInvalid)
		}
		// Skip the record: the next test case starts after it.
		c, err = logpipe.NewConsumer(s, "invoices", logpipe.WithThrowErrors())
		require.NoError(t, err)
		require.NoError(t, c.Register(&InvoiceV1{}))
		skip, err := logpipe.NewConsumer(s, "invoices", logpipe.WithIdleTimeout(200e6))
		require.NoError(t, err)
		require.NoError(t, skip.Register(&InvoiceV1{}))
		require.NoError(t, skip.Run(context.Background()))
	}
	require.True(t, errors.Is(drf.ErrInvalid, drf.ErrInvalid))
}

// A field promoted from an embedded pointer is named too.
func TestValidationErrorNamesPromotedField(t *testing.T) {
	s, b := memorySettings(t)
	c, err := logpipe.NewConsumer(s, "invoices", logpipe.WithThrowErrors())
	require.NoError(t, err)
	require.NoError(t, c.Register(&InvoiceV2Pointer2{}))
	sendRaw(t, b, "invoices", "1", []byte(`json:{"type":"invoice","version":2,"message":{"id":1,"total":"x","note":"n"}}`))
	err = runIdle(t, c)
	var ve *logpipe.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "total", ve.Field)
	assert.Equal(t, "total: A valid number is required.", ve.Error())
}

// InvoiceV2Pointer2 embeds *InvoiceV1 and declares its own Save.
type InvoiceV2Pointer2 struct {
	*InvoiceV1
	Note string `json:"note"`
}

func (*InvoiceV2Pointer2) Version() int                              { return 2 }
func (*InvoiceV2Pointer2) Save(context.Context, *gorm.DB, any) error { return nil }
