package drf_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe/drf"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// fieldRow has a column of each type, like a Django model with the
// matching fields.
type fieldRow struct {
	ID        int64                      `gorm:"primaryKey"`
	Total     drf.Decimal                `gorm:"type:numeric(10,2)"`
	Big       drf.Decimal                `gorm:"type:numeric(65,30)"`
	At        drf.DateTime               `gorm:"not null"`
	Day       drf.Date                   `gorm:"not null"`
	Clock     drf.Time                   `gorm:"not null"`
	Took      drf.Duration               `gorm:"not null"`
	Data      drf.JSON                   `gorm:"not null"`
	Note      drf.Optional[string]       `gorm:"type:text"`
	MaybeAt   drf.Optional[drf.DateTime] ``
	MaybeTook drf.Optional[drf.Duration] ``
	MaybeDec  drf.Optional[drf.Decimal]  `gorm:"type:numeric(10,2)"`
}

func dec(t *testing.T, s string, digits, places int) drf.Decimal {
	t.Helper()
	d, err := drf.NewDecimal(decimal.RequireFromString(s), digits, places)
	require.NoError(t, err)
	return d
}

func sampleRows(t *testing.T) []fieldRow {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return []fieldRow{
		{
			Total: dec(t, "-12.3", 10, 2), Big: dec(t, "99999999999999999999999999999999999.999999999999999999999999999999", 65, 30),
			At:  drf.NewDateTime(time.Date(1850, 6, 1, 12, 0, 0, 123456000, time.UTC)),
			Day: drf.Date{Year: 1, Month: 1, Day: 1}, Clock: drf.Time{Hour: 23, Minute: 59, Second: 59, Microsecond: 999999},
			Took: drf.Duration(-time.Microsecond), Data: drf.MustJSON(`{"b":1,"a":[1.0,"x",null]}`),
			Note: drf.Some("hello"), MaybeAt: drf.Some(drf.NewDateTime(time.Date(2021, 11, 7, 1, 30, 0, 0, ny))),
			MaybeTook: drf.Some(drf.Duration(36*time.Hour + time.Microsecond)), MaybeDec: drf.Some(dec(t, "0", 10, 2)),
		},
		{
			Total: dec(t, "0", 10, 2), Big: dec(t, "-0.000000000000000000000000000001", 65, 30),
			At:  drf.NewDateTime(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)),
			Day: drf.Date{Year: 9999, Month: 12, Day: 31}, Clock: drf.Time{},
			Took: drf.Duration(106751 * 24 * time.Hour), Data: drf.MustJSON(`"text"`),
			Note: drf.Null[string](), MaybeAt: drf.Null[drf.DateTime](), MaybeTook: drf.Null[drf.Duration](), MaybeDec: drf.Null[drf.Decimal](),
		},
	}
}

func roundTrip(t *testing.T, db *gorm.DB, exact bool) {
	t.Helper()
	require.NoError(t, db.AutoMigrate(&fieldRow{}))
	rows := sampleRows(t)
	require.NoError(t, db.Create(&rows).Error)
	var got []fieldRow
	require.NoError(t, db.Order("id").Find(&got).Error)
	require.Len(t, got, len(rows))
	for i, want := range rows {
		g := got[i]
		assert.True(t, want.Total.Decimal().Equal(g.Total.Decimal()), "total %s %s", want.Total, g.Total)
		if exact { // SQLite keeps a decimal column as a float, as for Django
			assert.True(t, want.Big.Decimal().Equal(g.Big.Decimal()), "big %s %s", want.Big, g.Big)
		}
		assert.True(t, want.At.Equal(g.At.Time), "at %s %s", want.At, g.At)
		assert.Equal(t, want.Day, g.Day)
		assert.Equal(t, want.Clock, g.Clock)
		assert.Equal(t, want.Took, g.Took)
		var wj, gj any
		require.NoError(t, want.Data.Unmarshal(&wj))
		require.NoError(t, g.Data.Unmarshal(&gj))
		assert.Equal(t, wj, gj)
		// GORM leaves a field as it is for NULL (it does not call Scan):
		// a NULL column reads as the zero Optional, which is absent.
		assert.Equal(t, want.Note.Ptr(), g.Note.Ptr())
		wa, wok := want.MaybeAt.Get()
		ga, gok := g.MaybeAt.Get()
		assert.Equal(t, wok, gok)
		assert.True(t, wa.Equal(ga.Time))
		assert.Equal(t, want.MaybeTook.Ptr(), g.MaybeTook.Ptr())
		assert.Equal(t, want.MaybeDec.IsSet(), g.MaybeDec.IsSet())
	}
	// Absent is stored as NULL, read back as null.
	row := fieldRow{Total: dec(t, "1", 10, 2), Big: dec(t, "1", 65, 30), At: drf.NewDateTime(time.Unix(0, 0)), Day: drf.Date{Year: 2000, Month: 1, Day: 1}, Data: drf.MustJSON("{}")}
	require.NoError(t, db.Create(&row).Error)
	var back fieldRow
	require.NoError(t, db.First(&back, row.ID).Error)
	assert.False(t, back.Note.IsSet())
	assert.False(t, back.MaybeTook.IsSet())
	// database/sql calls Scan with nil: null.
	var note drf.Optional[string]
	var took drf.Optional[drf.Duration]
	require.NoError(t, db.Raw("SELECT note, maybe_took FROM field_rows WHERE id = ?", row.ID).Row().Scan(&note, &took))
	assert.True(t, note.IsNull())
	assert.True(t, took.IsNull())
}

func TestDBSQLite(t *testing.T) {
	roundTrip(t, testenv.SQLiteEmpty(t), false)
}

func TestDBPostgres(t *testing.T) {
	db, _ := testenv.PostgresDSN(t)
	roundTrip(t, db, true)
	// The columns Django creates for the same model fields.
	var cols []struct {
		ColumnName string
		DataType   string
	}
	require.NoError(t, db.Raw(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'field_rows' ORDER BY ordinal_position`).Scan(&cols).Error)
	types := map[string]string{}
	for _, c := range cols {
		types[c.ColumnName] = c.DataType
	}
	assert.Equal(t, map[string]string{
		"id": "bigint", "total": "numeric", "big": "numeric", "at": "timestamp with time zone", "day": "date",
		"clock": "time without time zone", "took": "interval", "data": "jsonb", "note": "text",
		"maybe_at": "timestamp with time zone", "maybe_took": "interval", "maybe_dec": "numeric",
	}, types)
	// PostgreSQL renders numeric(10,2) with its two places, as DRF does.
	var got fieldRow
	require.NoError(t, db.Order("id").First(&got).Error)
	assert.Equal(t, "-12.30", got.Total.String())
	assert.Equal(t, "-1 23:59:59.999999", got.Took.String())
	// Values Django wrote (psycopg's interval text, a day-count interval).
	require.NoError(t, db.Exec(`UPDATE field_rows SET took = '3 days 04:05:06.5'::interval, maybe_took = '-1 day +01:00:00' WHERE id = ?`, got.ID).Error)
	require.NoError(t, db.First(&got, got.ID).Error)
	assert.Equal(t, "3 04:05:06.500000", got.Took.String())
	v, ok := got.MaybeTook.Get()
	require.True(t, ok)
	assert.Equal(t, "-1 01:00:00", v.String())
}

// Django on SQLite stores datetimes as UTC text, durations as bigint
// microseconds, decimals as numbers, dates and times as text.
func TestDBSQLiteDjangoValues(t *testing.T) {
	db := testenv.SQLiteEmpty(t)
	require.NoError(t, db.AutoMigrate(&fieldRow{}))
	require.NoError(t, db.Exec(`INSERT INTO field_rows (total, big, at, day, clock, took, data) VALUES (12.3, '1.5', '2020-01-02 03:04:05.123456', '1969-07-20', '03:04:05.000001', 90061000001, '{"z":1,"a":2}')`).Error)
	var got fieldRow
	require.NoError(t, db.First(&got).Error)
	require.NoError(t, got.Total.Check(10, 2))
	assert.Equal(t, "12.30", got.Total.String())
	out, err := json.Marshal(got.At)
	require.NoError(t, err)
	assert.Equal(t, `"2020-01-02T03:04:05.123456Z"`, string(out))
	assert.Equal(t, "1969-07-20", got.Day.String())
	assert.Equal(t, "03:04:05.000001", got.Clock.String())
	assert.Equal(t, "1 01:01:01.000001", got.Took.String())
	assert.Equal(t, `{"z":1,"a":2}`, got.Data.String())
}
