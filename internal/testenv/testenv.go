// Package testenv gives tests the real services that the project's test
// command (scripts/test) starts: PostgreSQL, an Apache Kafka broker, a
// Kinesis emulator and a Python virtual environment with django-logpipe.
//
// Each service is found through an environment variable. When it is not set,
// the test is skipped with a message naming the variable, unless
// LOGPIPE_TEST_REQUIRE_SERVICES=1 (set by scripts/test, and so in CI), where a
// missing service fails the test instead.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/logpipe-go/logpipe/offsetstore"
)

// Environment variables read by this package.
const (
	EnvRequire  = "LOGPIPE_TEST_REQUIRE_SERVICES"
	EnvPostgres = "LOGPIPE_TEST_POSTGRES_DSN"     // e.g. host=127.0.0.1 port=54329 user=postgres dbname=postgres sslmode=disable
	EnvKafka    = "LOGPIPE_TEST_KAFKA_BROKERS"    // e.g. 127.0.0.1:19092
	EnvKinesis  = "LOGPIPE_TEST_KINESIS_ENDPOINT" // e.g. http://127.0.0.1:14567
	EnvDjango   = "LOGPIPE_TEST_DJANGO_PYTHON"    // the venv's python, with django-logpipe installed
	EnvKafkaLib = "LOGPIPE_TEST_KAFKA_CLASSPATH"  // classpath of the Kafka broker's jars (for the Java producer)

	// The test broker's secured listeners and what a client needs for
	// them (scripts/services/kafka.sh writes them).
	EnvKafkaSSL          = "LOGPIPE_TEST_KAFKA_SSL_BROKERS"      // TLS listener, server authentication only
	EnvKafkaSASLSSL      = "LOGPIPE_TEST_KAFKA_SASL_SSL_BROKERS" // TLS + SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	EnvKafkaMTLS         = "LOGPIPE_TEST_KAFKA_MTLS_BROKERS"     // TLS with a required client certificate
	EnvKafkaCA           = "LOGPIPE_TEST_KAFKA_CA"               // PEM file of the CA that signed the broker's and the client's certificates
	EnvKafkaClientCert   = "LOGPIPE_TEST_KAFKA_CLIENT_CERT"      // PEM file of the client certificate
	EnvKafkaClientKey    = "LOGPIPE_TEST_KAFKA_CLIENT_KEY"       // PEM file of the client certificate's key
	EnvKafkaSASLUsername = "LOGPIPE_TEST_KAFKA_SASL_USERNAME"    // the SASL user, for the three mechanisms
	EnvKafkaSASLPassword = "LOGPIPE_TEST_KAFKA_SASL_PASSWORD"    // its password
)

// Service returns the value of the environment variable env, or skips the
// test (fails it when services are required) naming what is missing.
func Service(t testing.TB, env, what string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(env))
	if v != "" {
		return v
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s is required but %s is not set: run scripts/test, which starts it", what, env)
	}
	t.Skipf("skipping: needs %s; set %s or run scripts/test, which starts it", what, env)
	return ""
}

// Name returns a name unique to this test run, for topics, streams and
// databases: prefix, then random hex.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// SQLite opens a new SQLite database file in the test's temporary directory,
// with the offsets tables migrated.
func SQLite(t testing.TB) *gorm.DB {
	t.Helper()
	db := SQLiteEmpty(t)
	migrate(t, db)
	return db
}

// SQLiteEmpty is SQLite without the offsets tables.
func SQLiteEmpty(t testing.TB) *gorm.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := gorm.Open(sqlite.Open(path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return db
}

// Postgres creates a new database on the test PostgreSQL server, returns it
// with the offsets tables migrated, and drops it when the test ends.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	db, _ := PostgresDSN(t)
	migrate(t, db)
	return db
}

// PostgresDSN is Postgres without migrating: it returns the new, empty
// database and its DSN, for tests that let another program (Django) create
// the tables.
func PostgresDSN(t testing.TB) (*gorm.DB, string) {
	t.Helper()
	dsn := Service(t, EnvPostgres, "PostgreSQL")
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to PostgreSQL (%s): %v", dsn, err)
	}
	name := strings.ReplaceAll(Name("lp"), "-", "_")
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create database: %v", err)
	}
	testDSN := dsn + " dbname=" + name
	db, err := gorm.Open(postgres.Open(testDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
		_ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
		if sqlDB, err := admin.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return db, testDSN
}

// Databases returns the databases a storage test should run on: SQLite
// always, and PostgreSQL when it is available (required in CI).
func Databases(t *testing.T) map[string]func(testing.TB) *gorm.DB {
	t.Helper()
	dbs := map[string]func(testing.TB) *gorm.DB{"sqlite": SQLite}
	if os.Getenv(EnvPostgres) != "" || os.Getenv(EnvRequire) == "1" {
		dbs["postgres"] = Postgres
	} else {
		t.Logf("PostgreSQL not tested: %s is not set (scripts/test sets it)", EnvPostgres)
	}
	return dbs
}

func migrate(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := offsetstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

// KafkaBrokers returns the test Kafka broker's addresses.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(Service(t, EnvKafka, "an Apache Kafka broker"), ",")
}

// SecureKafka is the test broker's secured listeners and the client's
// credentials for them.
type SecureKafka struct {
	SSL, SASLSSL, MTLS []string // brokers of each listener
	CA                 string   // PEM file of the CA
	ClientCert         string   // PEM file of the client certificate
	ClientKey          string   // PEM file of its key
	Username, Password string   // the SASL user
}

// KafkaSecure returns the test broker's secured listeners, skipping the test
// (failing it when services are required) when one is not set.
func KafkaSecure(t testing.TB) SecureKafka {
	t.Helper()
	const what = "an Apache Kafka broker with secured listeners"
	return SecureKafka{
		SSL:        strings.Split(Service(t, EnvKafkaSSL, what), ","),
		SASLSSL:    strings.Split(Service(t, EnvKafkaSASLSSL, what), ","),
		MTLS:       strings.Split(Service(t, EnvKafkaMTLS, what), ","),
		CA:         Service(t, EnvKafkaCA, what+" (its CA certificate)"),
		ClientCert: Service(t, EnvKafkaClientCert, what+" (a client certificate)"),
		ClientKey:  Service(t, EnvKafkaClientKey, what+" (a client key)"),
		Username:   Service(t, EnvKafkaSASLUsername, what+" (a SASL user)"),
		Password:   Service(t, EnvKafkaSASLPassword, what+" (a SASL password)"),
	}
}

// KinesisEndpoint returns the Kinesis emulator's URL.
func KinesisEndpoint(t testing.TB) string {
	t.Helper()
	return Service(t, EnvKinesis, "a Kinesis emulator")
}

// Describe is a short text of which services are configured, for logs.
func Describe() string {
	var parts []string
	for _, env := range []string{EnvPostgres, EnvKafka, EnvKinesis, EnvDjango} {
		v := os.Getenv(env)
		if v == "" {
			v = "(unset)"
		}
		parts = append(parts, fmt.Sprintf("%s=%s", env, v))
	}
	return strings.Join(parts, " ")
}

// NextOffsets returns the next offset to read of each partition of topic
// stored in db's logpipe_kafkaoffset: what the table holds.
func NextOffsets(ctx context.Context, db *gorm.DB, topic string) (map[int32]int64, error) {
	stored, err := (&offsetstore.Kafka{DB: db}).Load(ctx, "", topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(stored))
	for _, p := range stored {
		out[p.Partition] = p.Offset + 1
	}
	return out, nil
}
