package kafka_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logpipe-go/logpipe/backend"
	"github.com/logpipe-go/logpipe/backend/kafka"
	"github.com/logpipe-go/logpipe/internal/testenv"
)

// partitionKeys are keys of the kinds logpipe sends (numbers, UUIDs, text)
// and some that stress the hash (non-ASCII, lengths 1 to 4 past a multiple
// of 4, which murmur2 handles apart).
func partitionKeys() []string {
	keys := []string{"a", "ab", "abc", "abcd", "abcde", "héllo wörld", "日本語のキー", "0", "-1",
		"123e4567-e89b-12d3-a456-426614174000", strings.Repeat("long-key-", 30)}
	for i := range 200 {
		keys = append(keys, strconv.Itoa((i+1)*7919))
	}
	return keys
}

// TestPartitionsMatchJavaProducer sends the same keys with Kafka's own Java
// producer (from the broker's Maven artifacts) and with this package, and
// compares the partitions the broker acknowledged.
func TestPartitionsMatchJavaProducer(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	classpath := testenv.Service(t, testenv.EnvKafkaLib, "the Kafka jars (Java producer)")
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run Kafka's Java producer: %v", tool, err)
		}
	}
	const partitions = 7
	topic := createTopic(t, partitions)
	keys := partitionKeys()

	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "JavaPartitions.java"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "JavaPartitions.java"), src, 0o644))
	ctx := ctxTimeout(t, 3*time.Minute)
	out, err := exec.CommandContext(ctx, "javac", "-cp", classpath, "-d", dir, filepath.Join(dir, "JavaPartitions.java")).CombinedOutput()
	require.NoError(t, err, "javac: %s", out)
	cmd := exec.CommandContext(ctx, "java", "-cp", dir+string(os.PathListSeparator)+classpath, "JavaPartitions", brokers[0], topic)
	cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	require.NoError(t, err, "java: %s", stderr.String())

	javaPartition := map[string]int32{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		key, part, ok := strings.Cut(line, "\t")
		require.True(t, ok, "unexpected output line %q", line)
		n, err := strconv.Atoi(part)
		require.NoError(t, err)
		javaPartition[key] = int32(n)
	}
	require.Len(t, javaPartition, len(keys))

	p := newProducer(t, testConfig(t))
	msgs := make([]backend.Message, len(keys))
	for i, k := range keys {
		msgs[i] = msg(topic, k, "json:{}")
	}
	poss, err := p.SendBatch(ctx, msgs)
	require.NoError(t, err)
	spread := map[int32]bool{}
	for i, k := range keys {
		assert.Equal(t, javaPartition[k], poss[i].Partition, "key %q", k)
		assert.Equal(t, javaPartition[k], kafka.PartitionForKey([]byte(k), partitions), "key %q", k)
		spread[poss[i].Partition] = true
	}
	assert.Len(t, spread, partitions, "the keys cover every partition, so the comparison means something")
}

func TestPartitionForKey(t *testing.T) {
	t.Parallel()
	// Values of Java's Utils.toPositive(Utils.murmur2(key)) % n, which the
	// test above checks against a live Java producer.
	assert.Equal(t, int32(-1), kafka.PartitionForKey([]byte("a"), 0))
	for _, k := range partitionKeys() {
		p := kafka.PartitionForKey([]byte(k), 5)
		assert.True(t, p >= 0 && p < 5, fmt.Sprintf("key %q: %d", k, p))
		assert.Equal(t, p, kafka.PartitionForKey([]byte(k), 5), "stable")
	}
}
