package drf_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/format"
)

// A DecimalField(max_digits=10, decimal_places=2) value, as DRF renders it.
func ExampleNewDecimal() {
	total, err := drf.NewDecimal(decimal.RequireFromString("12.3"), 10, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := format.Marshal(total)
	fmt.Println(string(out))
	// Output: "12.30"
}

// Validate applies the drf tags of a message, with DRF's error messages,
// naming the field.
func ExampleValidate() {
	var msg struct {
		Total drf.Decimal `json:"total" drf:"max_digits=10,decimal_places=2"`
	}
	if err := format.Unmarshal([]byte(`{"total":"12.345"}`), &msg); err != nil {
		fmt.Println(err)
		return
	}
	err := drf.Validate(&msg)
	var e *drf.Error
	fmt.Println(errors.As(err, &e), e.Field, e.Code)
	fmt.Println(err)

	_ = format.Unmarshal([]byte(`{"total":"12.3"}`), &msg)
	fmt.Println(drf.Validate(&msg), msg.Total) // rounded to DRF's form
	// Output:
	// true total max_decimal_places
	// total: Ensure that there are no more than 2 decimal places.
	// <nil> 12.30
}

// DateTime renders in the zone set by SetTimeZone (Django's TIME_ZONE).
func ExampleSetTimeZone() {
	ny, _ := time.LoadLocation("America/New_York")
	drf.SetTimeZone(ny)
	defer drf.SetTimeZone(time.UTC)
	at := drf.NewDateTime(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	fmt.Println(at)
	drf.SetTimeZone(time.UTC)
	fmt.Println(at)
	at = drf.NewDateTime(time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.UTC))
	fmt.Println(at)
	// Output:
	// 2020-01-01T22:04:05-05:00
	// 2020-01-02T03:04:05Z
	// 2020-01-02T03:04:05.123456Z
}

// Durations render as Django's duration_string.
func ExampleDuration() {
	fmt.Println(drf.Duration(26*time.Hour + 3*time.Second))
	fmt.Println(drf.Duration(-time.Second))
	d, _ := drf.ParseDuration("P3DT4H")
	fmt.Println(d)
	// Output:
	// 1 02:00:03
	// -1 23:59:59
	// 3 04:00:00
}

// A JSONField value keeps its keys in order, and renders as Python does.
func ExampleParseJSON() {
	j, _ := drf.ParseJSON([]byte(`{"zeta": 1e2, "alpha": [1.50, "é"]}`))
	fmt.Println(j)
	// Output: {"zeta":100.0,"alpha":[1.5,"é"]}
}

// Optional tells an absent field (left unchanged by a partial update) from
// null (cleared) and a value.
func ExampleOptional() {
	type patch struct {
		Email drf.Optional[string] `json:"email,omitzero"`
	}
	for _, msg := range []string{`{}`, `{"email":null}`, `{"email":"a@example.com"}`} {
		var p patch
		_ = format.Unmarshal([]byte(msg), &p)
		current := new(string)
		*current = "old@example.com"
		p.Email.Apply(&current) // what a Save does with a *string column
		out, _ := format.Marshal(p)
		if current == nil {
			fmt.Println(string(out), "-> NULL")
		} else {
			fmt.Println(string(out), "->", *current)
		}
	}
	// Output:
	// {} -> old@example.com
	// {"email":null} -> NULL
	// {"email":"a@example.com"} -> a@example.com
}
