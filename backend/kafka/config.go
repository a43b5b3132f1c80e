package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Defaults for the zero values of Config's fields.
const (
	DefaultClientID        = "logpipe"
	DefaultSendTimeout     = 10 * time.Second
	DefaultDialTimeout     = 5 * time.Second
	DefaultPollInterval    = time.Second
	DefaultMetadataRefresh = 10 * time.Second
	DefaultRequestTimeout  = 10 * time.Second
	DefaultMaxBatchBytes   = 1 << 20
	DefaultFetchMaxBytes   = 1 << 20
	DefaultMaxFetchRecords = 500
)

// Acks says which acknowledgement a produce request waits for.
type Acks int

const (
	// AcksAll waits until every in-sync replica has the record (Kafka's
	// acks=all, the Java client's default since Kafka 3.0). A record
	// acknowledged this way survives the loss of the partition leader. It is
	// the default.
	AcksAll Acks = iota
	// AcksLeader waits for the partition leader only (acks=1, the default of
	// kafka-python and so of django-logpipe). Faster on clusters with
	// replication, but an acknowledged record is lost if the leader fails
	// before the followers copy it.
	AcksLeader
)

// String returns "all" or "leader".
func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "leader"
	}
	return "Acks(" + strconv.Itoa(int(a)) + ")"
}

// SASLMechanism names a SASL authentication mechanism.
type SASLMechanism string

// The SASL mechanisms this backend supports.
const (
	SASLPlain       SASLMechanism = "PLAIN"
	SASLScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	SASLScramSHA512 SASLMechanism = "SCRAM-SHA-512"
)

// SASL holds SASL credentials, as hosted Kafka services (Amazon MSK,
// Confluent Cloud) require. Combine it with Config.TLS: PLAIN sends the
// password as it is. A SASL prints and logs (fmt, log/slog) with its
// password redacted, and no error of this package contains the password.
type SASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512. Required.
	Mechanism SASLMechanism
	// Username and Password are the credentials. Username is required.
	// Config.Validate refuses one that cannot log in (see there): trim the
	// line break a secret file ends with, strings.TrimRight(s, "\r\n").
	Username string
	Password string
}

// Config configures the Kafka backend. The zero value of each field but
// Brokers means its default, named in the field's comment.
type Config struct {
	// Brokers are the bootstrap brokers, "host:port" each. Required.
	Brokers []string
	// ClientID identifies this client to the brokers (their logs, quotas).
	// Default "logpipe".
	ClientID string
	// TLS, when not nil, makes every connection use TLS with this
	// configuration. Default: plaintext.
	TLS *tls.Config
	// SASL, when not nil, authenticates every connection. Default: none.
	SASL *SASL
	// DialTimeout limits connecting to a broker, including the TLS and SASL
	// handshakes. Default 5s.
	DialTimeout time.Duration
	// MetadataRefresh is how often topic metadata (partitions, leaders) is
	// refreshed: a consumer picks up partitions added to its topic within
	// about twice this. Default 10s.
	MetadataRefresh time.Duration
	// RequestTimeout limits each request other than a produce (which
	// SendTimeout limits): metadata, list offsets, consumer-group offsets,
	// and a fetch, which gets PollInterval more since the broker holds it
	// that long when no record is there. A connection that stopped
	// answering (a half-open TCP connection, a hung broker) is dropped after
	// it and the request tried again on a new one. Default 10s.
	RequestTimeout time.Duration
	// Logger receives the backend's logs (warnings and errors only, unless
	// its handler enables debug). Default: discard. ConsumerOptions.Logger
	// overrides it for a consumer.
	Logger *slog.Logger

	// SendTimeout is how long a Send waits for the broker's acknowledgement,
	// retries included, like the original's KAFKA_SEND_TIMEOUT; it also
	// limits each produce request of a SendBatch. The broker is told to wait
	// for the replicas (Acks) for up to half of the time left, so that it
	// answers before the client gives up. Default 10s.
	SendTimeout time.Duration
	// MaxSendRetries is how many times a produce request that failed with a
	// retriable error after it may have reached the broker (connection lost
	// after the request went out) is tried again within SendTimeout, like
	// KAFKA_MAX_SEND_RETRIES. Default 0. Each such retry may write the
	// records once more: a record is on the topic at most 1+MaxSendRetries
	// times, and a record whose last try has an unknown outcome fails with
	// an error matching backend.ErrMaybeWritten. Requests the broker refused
	// or that were never sent (no leader yet, leader moved, connection
	// refused, a restarting broker) are always tried again until
	// SendTimeout, since that cannot duplicate. Retries keep the order of
	// records with one key: one request per partition is in flight at a
	// time.
	MaxSendRetries int
	// Acks is the acknowledgement a send waits for. Default AcksAll.
	Acks Acks
	// MaxBatchBytes caps the size of one produce request to one partition.
	// Keep it under the broker's message.max.bytes (1 MiB by default).
	// Default 1 MiB.
	MaxBatchBytes int

	// GroupID is the consumer group whose committed offsets a consumer uses
	// when offsets are kept in the broker (ConsumerOptions.BrokerOffsets),
	// or whose members share the topic's partitions out with
	// GroupAssignment. Required then; unused otherwise.
	GroupID string
	// GroupAssignment makes consumers join the consumer group GroupID (for
	// a named consumer, GroupID + "." + its name) for partition assignment
	// only: the processes that run the consumer share the topic's
	// partitions, each reading the partitions the group gives it from the
	// positions stored in the database, where offsets are still committed
	// in each record's transaction (exactly once). Each partition is
	// claimed in logpipe_partition_owner before it is read, and a commit
	// made under an older claim fails with backend.ErrFenced, so a process
	// that lost a partition in a rebalance cannot commit it any more. See
	// the README, "Running several replicas". Default false: each consumer
	// reads every partition.
	GroupAssignment bool
	// GroupSessionTimeout is how long the group's coordinator waits without
	// a heartbeat before it gives a member's partitions to the others (with
	// GroupAssignment). Default 30s; the broker bounds it with
	// group.min.session.timeout.ms (6s) and group.max.session.timeout.ms.
	GroupSessionTimeout time.Duration
	// GroupHeartbeat is how often a member tells the coordinator it is alive,
	// and so about how soon it notices a rebalance. Keep it well under a
	// third of GroupSessionTimeout. Default 3s.
	GroupHeartbeat time.Duration
	// GroupRebalanceTimeout is how long the coordinator waits for members
	// to join again in a rebalance before it leaves them out. Default 30s.
	GroupRebalanceTimeout time.Duration
	// PollInterval is how long one fetch waits on the broker for new
	// records, and so how long Consumer.Fetch waits before it returns an
	// empty result. Default 1s.
	PollInterval time.Duration
	// FetchMaxBytes caps the bytes fetched from one partition per request.
	// Default 1 MiB.
	FetchMaxBytes int
	// MaxFetchRecords caps the records one Consumer.Fetch returns.
	// Default 500.
	MaxFetchRecords int
}

// withDefaults returns c with every zero field set to its default: the one
// place defaults are decided.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MetadataRefresh == 0 {
		c.MetadataRefresh = DefaultMetadataRefresh
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.MaxFetchRecords == 0 {
		c.MaxFetchRecords = DefaultMaxFetchRecords
	}
	if c.GroupSessionTimeout == 0 {
		c.GroupSessionTimeout = DefaultGroupSessionTimeout
	}
	if c.GroupHeartbeat == 0 {
		c.GroupHeartbeat = DefaultGroupHeartbeat
	}
	if c.GroupRebalanceTimeout == 0 {
		c.GroupRebalanceTimeout = DefaultGroupRebalanceTimeout
	}
	return c
}

// Validate reports every problem with c at once, each saying what to fix.
// It does not contact the brokers.
//
// It refuses a SASL user name or password that SASLprep (RFC 4013) refuses
// (control characters such as a trailing line break, prohibited or
// unassigned code points, invalid UTF-8) and, for the SCRAM mechanisms, one
// that SASLprep would change (mapped or normalized characters): the SCRAM
// client prepares it and Kafka does not, so it could not log in. The error
// names the position of the offending character, never the password.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("logpipe/kafka: "+format, args...))
	}
	if len(c.Brokers) == 0 {
		bad("Config.Brokers is empty: list at least one broker as \"host:port\"")
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			bad("Config.Brokers: %q is not \"host:port\"", b)
		}
	}
	for name, d := range map[string]time.Duration{
		"SendTimeout": c.SendTimeout, "DialTimeout": c.DialTimeout,
		"MetadataRefresh": c.MetadataRefresh, "PollInterval": c.PollInterval,
		"RequestTimeout": c.RequestTimeout,
	} {
		if d < 0 {
			bad("Config.%s is negative (%s): use 0 for the default or a positive duration", name, d)
		}
	}
	for name, n := range map[string]int{
		"MaxSendRetries": c.MaxSendRetries, "MaxBatchBytes": c.MaxBatchBytes,
		"FetchMaxBytes": c.FetchMaxBytes, "MaxFetchRecords": c.MaxFetchRecords,
	} {
		if n < 0 {
			bad("Config.%s is negative (%d): use 0 for the default or a positive number", name, n)
		}
	}
	c.validateGroup(bad)
	if c.Acks != AcksAll && c.Acks != AcksLeader {
		bad("Config.Acks is %s: use kafka.AcksAll or kafka.AcksLeader", c.Acks)
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		default:
			bad("Config.SASL.Mechanism %q is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
		}
		if s.Username == "" {
			bad("Config.SASL.Username is empty: set the SASL user name, or leave Config.SASL nil")
		}
		validateSASL(s, bad)
	}
	return errors.Join(errs...)
}
