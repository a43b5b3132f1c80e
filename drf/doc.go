// Package drf has Go types for the fields of Django REST Framework
// serializers, for logpipe messages exchanged with Django services:
// Decimal (DecimalField), DateTime (DateTimeField), Date (DateField), Time
// (TimeField), Duration (DurationField), JSON (JSONField) and Optional[T]
// (a field that may be absent, null or set).
//
// Each type renders exactly the JSON text DRF renders for the same value,
// accepts what the DRF field accepts and refuses what it refuses, with
// DRF's error code and message (an *Error, matching ErrInvalid). The
// accept/reject cases in testdata/drf_cases.json were produced by running
// DRF 3.18's own fields (testdata/gen_drf_cases.py).
//
// The types implement json.Marshaler and json.Unmarshaler; logpipe's
// msgpack format carries a message as its JSON form, so they work the same
// in both formats. They are also database column types (driver.Valuer,
// sql.Scanner and GORM's data type interfaces), tested on PostgreSQL and
// SQLite, with the columns Django creates for the same model fields.
//
// DRF settings mirrored: USE_TZ = True with TIME_ZONE set by SetTimeZone
// (UTC by default); COERCE_DECIMAL_TO_STRING = True (decimals are JSON
// strings); the ISO 8601 input and output formats (DRF's defaults).
//
// A nullable Django field (null=True) maps to Optional[T], or to *T when
// absent and null need not be told apart. The types refuse JSON null
// themselves, as a DRF field without allow_null does.
package drf
