package interop

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// expected is what a person row must hold after a message was applied to an
// empty table.
type expected struct {
	UUID      string
	FirstName string
	LastName  string
	Email     *string
	Version   int
}

// expectFromDjango returns the rows the person records among recs must
// produce (the last message per UUID wins), by UUID.
func expectFromDjango(t *testing.T, recs []Produced) map[string]expected {
	t.Helper()
	m := map[string]expected{}
	for _, r := range recs {
		if r.Type != "person" {
			continue
		}
		e := expected{UUID: r.Key, Version: r.Version}
		var ok bool
		e.FirstName, ok = r.Message["first_name"].(string)
		require.True(t, ok, "first_name of %v", r.Message)
		e.LastName, ok = r.Message["last_name"].(string)
		require.True(t, ok, "last_name of %v", r.Message)
		require.Equal(t, r.Key, r.Message["uuid"], "the key is the uuid")
		if email, has := r.Message["email"]; has && email != nil {
			s, ok := email.(string)
			require.True(t, ok, "email of %v", r.Message)
			e.Email = &s
		}
		m[r.Key] = e
	}
	return m
}

// expectFromGo returns the rows the Go messages must produce, by UUID.
func expectFromGo(msgs []any) map[string]expected {
	m := map[string]expected{}
	for _, msg := range msgs {
		switch v := msg.(type) {
		case *PersonV1:
			m[v.UUID.String()] = expected{UUID: v.UUID.String(), FirstName: v.FirstName, LastName: v.LastName, Version: 1}
		case *PersonV2:
			m[v.UUID.String()] = expected{UUID: v.UUID.String(), FirstName: v.FirstName, LastName: v.LastName, Email: v.Email, Version: 2}
		}
	}
	return m
}

// assertGoRows checks every Go-read row against want: same set of UUIDs,
// every field equal.
func assertGoRows(t *testing.T, want map[string]expected, got map[string]Person) {
	t.Helper()
	require.Len(t, got, len(want), "people_person rows")
	for id, w := range want {
		p, ok := got[id]
		if !assert.True(t, ok, "person %s missing", id) {
			continue
		}
		assert.Equal(t, w.FirstName, p.FirstName, "first_name of %s", id)
		assert.Equal(t, w.LastName, p.LastName, "last_name of %s", id)
		assert.Equal(t, w.Email, p.Email, "email of %s", id)
	}
}

// assertDjangoRows checks rows read by Django against want.
func assertDjangoRows(t *testing.T, want map[string]expected, rows []PersonRow) {
	t.Helper()
	got := map[string]PersonRow{}
	for _, r := range rows {
		_, dup := got[r.UUID]
		require.False(t, dup, "person %s twice in people_person", r.UUID)
		got[r.UUID] = r
	}
	require.Len(t, got, len(want), "people_person rows")
	for id, w := range want {
		r, ok := got[id]
		if !assert.True(t, ok, "person %s missing", id) {
			continue
		}
		assert.Equal(t, w.FirstName, r.FirstName, "first_name of %s", id)
		assert.Equal(t, w.LastName, r.LastName, "last_name of %s", id)
		assert.Equal(t, w.Email, r.Email, "email of %s", id)
	}
}

// assertOnce checks that the applied UUIDs (from both sides, in any order)
// are exactly the wanted ones, each once, with the wanted version.
func assertOnce(t *testing.T, want map[string]expected, goApplied []AppliedLog, djApplied []Applied) {
	t.Helper()
	t.Logf("applied: %d by Go, %d by Django, of %d persons sent", len(goApplied), len(djApplied), len(want))
	seen := map[string]string{}
	add := func(id string, version int, side string) {
		if prev, dup := seen[id]; dup {
			t.Errorf("person %s applied twice: by %s and by %s", id, prev, side)
			return
		}
		seen[id] = side
		w, ok := want[id]
		if !ok {
			t.Errorf("%s applied person %s, which was not sent as a person", side, id)
			return
		}
		assert.Equal(t, w.Version, version, "version %s applied for %s", side, id)
	}
	for _, a := range goApplied {
		add(a.UUID, a.Version, "Go")
	}
	for _, a := range djApplied {
		assert.Equal(t, "person", a.Type)
		add(a.Person.UUID, a.Version, "Django")
	}
	for id := range want {
		if _, ok := seen[id]; !ok {
			t.Errorf("person %s was never applied (a gap)", id)
		}
	}
}
