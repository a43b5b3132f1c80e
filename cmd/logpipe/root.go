package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/logpipe-go/logpipe/backend/kafka"
)

// app holds the global flags.
type app struct {
	stdout, stderr io.Writer

	dsn    string
	output string

	kafkaBrokers  string
	kafkaTLS      bool
	kafkaCA       string
	kafkaSASLMech string
	kafkaSASLUser string

	kinesisRegion string
}

// envFlags maps flags to the environment variables that set them when the
// flag is not given.
var envFlags = map[string]string{
	"db":                   "LOGPIPE_DB",
	"output":               "LOGPIPE_OUTPUT",
	"kafka-brokers":        "LOGPIPE_KAFKA_BROKERS",
	"kafka-tls":            "LOGPIPE_KAFKA_TLS",
	"kafka-ca":             "LOGPIPE_KAFKA_CA",
	"kafka-sasl-mechanism": "LOGPIPE_KAFKA_SASL_MECHANISM",
	"kafka-sasl-username":  "LOGPIPE_KAFKA_SASL_USERNAME",
	"kinesis-region":       "LOGPIPE_KINESIS_REGION",
}

// envPassword is where the SASL password comes from: never a flag, so that
// it does not show in the process list or the shell's history.
const envPassword = "LOGPIPE_KAFKA_SASL_PASSWORD"

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "logpipe",
		Short: "Operate logpipe consumers: positions, lag, resets, migrations",
		Long: `logpipe operates the consumers of github.com/logpipe-go/logpipe (and of
django-logpipe, whose tables it shares): it lists where each consumer is and
how far behind, moves consumers to another position, and creates the
offsets tables.

Positions live in the application's database (logpipe_kafkaoffset,
logpipe_kinesisoffset), given by --db:
  postgres://user@host:5432/db?sslmode=disable   PostgreSQL (a URL)
  host=... user=... dbname=...                   PostgreSQL (key=value)
  sqlite:path/to/app.db                          SQLite

Every flag can be set by an environment variable instead:
` + envHelp() + `
The SASL password is read from ` + envPassword + ` only.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return fromEnv(cmd.Flags())
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVar(&a.dsn, "db", "", "database holding the offsets tables (see above)")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table (for people) or json (for scripts)")
	f.StringVar(&a.kafkaBrokers, "kafka-brokers", "", "Kafka bootstrap brokers, host:port,host:port")
	f.BoolVar(&a.kafkaTLS, "kafka-tls", false, "connect to Kafka with TLS (the system's root CAs, or --kafka-ca)")
	f.StringVar(&a.kafkaCA, "kafka-ca", "", "PEM file of the CA that signed the brokers' certificates (implies --kafka-tls)")
	f.StringVar(&a.kafkaSASLMech, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password in "+envPassword+")")
	f.StringVar(&a.kafkaSASLUser, "kafka-sasl-username", "", "SASL user name")
	f.StringVar(&a.kinesisRegion, "kinesis-region", "", "list only the Kinesis positions of this region")

	// The command groups. Dead letters will add theirs here
	// (deadletters list|show|replay|purge) when they land.
	root.AddCommand(newOffsetsCmd(a), newMigrateCmd(a), newDeadLettersCmd(a))
	return root
}

func envHelp() string {
	var b strings.Builder
	for _, name := range []string{"db", "output", "kafka-brokers", "kafka-tls", "kafka-ca", "kafka-sasl-mechanism", "kafka-sasl-username", "kinesis-region"} {
		fmt.Fprintf(&b, "  --%-22s %s\n", name, envFlags[name])
	}
	return b.String()
}

// fromEnv sets the flags not given on the command line from their
// environment variables.
func fromEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env, ok := envFlags[f.Name]
		if !ok || f.Changed {
			return
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// checkOutput refuses an unknown --output.
func (a *app) checkOutput() error {
	if a.output != "table" && a.output != "json" {
		return fmt.Errorf("--output %q: use table or json", a.output)
	}
	return nil
}

// kafkaBackend returns the Kafka backend the flags describe, or nil when
// --kafka-brokers is not set.
func (a *app) kafkaBackend() (*kafka.Backend, error) {
	if a.kafkaBrokers == "" {
		return nil, nil
	}
	cfg := kafka.Config{Brokers: strings.Split(a.kafkaBrokers, ",")}
	if a.kafkaTLS || a.kafkaCA != "" {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if a.kafkaCA != "" {
			pem, err := os.ReadFile(a.kafkaCA)
			if err != nil {
				return nil, fmt.Errorf("--kafka-ca: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--kafka-ca %s: no PEM certificate in it", a.kafkaCA)
			}
			cfg.TLS.RootCAs = roots
		}
	}
	if a.kafkaSASLMech != "" {
		cfg.SASL = &kafka.SASL{Mechanism: kafka.SASLMechanism(strings.ToUpper(a.kafkaSASLMech)), Username: a.kafkaSASLUser, Password: strings.TrimRight(os.Getenv(envPassword), "\r\n")}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the Kafka flags: %w", err)
	}
	return kafka.New(cfg), nil
}
