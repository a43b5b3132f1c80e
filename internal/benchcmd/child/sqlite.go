//go:build !nosqlite

package main

import (
	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
)

func init() {
	// WAL, and an fsync at each commit (synchronous=FULL).
	openSQLite = func(path string) gorm.Dialector {
		return sqlite.Open(path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	}
}
