package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openDB opens the database --db names, and checks that it answers.
func (a *app) openDB(ctx context.Context) (*gorm.DB, func(), error) {
	if a.dsn == "" {
		return nil, nil, errors.New("no database: give --db (or LOGPIPE_DB), e.g. --db postgres://user@host:5432/app or --db sqlite:app.db")
	}
	dialector, what, err := dialectorFor(a.dsn)
	if err != nil {
		return nil, nil, err
	}
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("open the %s database: %w", what, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("open the %s database: %w", what, err)
	}
	closeDB := func() { _ = sqlDB.Close() }
	if err := sqlDB.PingContext(ctx); err != nil {
		closeDB()
		return nil, nil, fmt.Errorf("connect to the %s database: %w (check --db)", what, err)
	}
	return db, closeDB, nil
}

// dialectorFor picks the GORM driver from the DSN's form. The DSN itself
// never appears in an error: it may hold a password.
func dialectorFor(dsn string) (gorm.Dialector, string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"),
		strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname="):
		return postgres.Open(dsn), "PostgreSQL", nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, "", errors.New("--db sqlite: needs a file, e.g. --db sqlite:app.db")
		}
		return sqlite.Open(path), "SQLite", nil
	}
	return nil, "", errors.New("--db: unknown database; use postgres://..., host=... dbname=... (PostgreSQL) or sqlite:path (SQLite)")
}
