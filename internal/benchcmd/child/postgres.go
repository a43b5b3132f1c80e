//go:build !nopostgres

package main

import (
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

func init() {
	openPostgres = func(dsn string) gorm.Dialector { return postgres.Open(dsn) }
}
