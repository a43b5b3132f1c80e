#!/usr/bin/env bash
# Benchmarks of the Kafka backend against a real Apache Kafka broker, next to
# Kafka's own Java producer on the same broker in the same run:
#   scripts/bench-kafka.sh [benchtime]      (default 5s)
# Starts the broker (scripts/services/kafka.sh) and PostgreSQL when they are
# not running, runs the Go benchmarks of backend/kafka, then Kafka's
# ProducerPerformance (batched, same record size and partition count) and a
# one-at-a-time Java producer, and prints the ratios. Figures and how to read
# them: docs/kafka-bench.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOGPIPE_ROOT=$PWD LOGPIPE_RUN=${LOGPIPE_RUN:-$PWD/.run}
BENCHTIME=${1:-5s}
RECORD_SIZE=200      # = benchRecordSize in backend/kafka/bench_test.go
PARTITIONS=4         # = benchPartitions
PERF_RECORDS=${PERF_RECORDS:-2000000}
SYNC_RECORDS=${SYNC_RECORDS:-20000}

started=()
for s in kafka postgres; do
  if [ ! -f "$LOGPIPE_RUN/$s.env" ]; then
    scripts/services/$s.sh start >"$LOGPIPE_RUN/$s.start.log" 2>&1 || { tail -20 "$LOGPIPE_RUN/$s.start.log"; exit 1; }
    started+=("$s")
  fi
  # shellcheck disable=SC1090
  source "$LOGPIPE_RUN/$s.env"
done
cleanup() { for s in "${started[@]}"; do scripts/services/$s.sh stop >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
BROKER=${LOGPIPE_TEST_KAFKA_BROKERS%%,*}
CP=$LOGPIPE_TEST_KAFKA_CLASSPATH
out=$(mktemp -d)

echo "== Go benchmarks (backend/kafka, benchtime $BENCHTIME)"
go test -run '^$' -bench . -benchtime "$BENCHTIME" -count 1 ./backend/kafka/ | tee "$out/go.txt"

topic=lp-bench-$RANDOM$RANDOM
java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --create \
  --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 >/dev/null 2>&1
echo "== Kafka ProducerPerformance ($PERF_RECORDS records of $RECORD_SIZE bytes, acks=all, $PARTITIONS partitions)"
java -Xmx512m -cp "$CP" org.apache.kafka.tools.ProducerPerformance --topic "$topic" \
  --num-records "$PERF_RECORDS" --record-size "$RECORD_SIZE" --throughput -1 \
  --producer-props bootstrap.servers="$BROKER" acks=all 2>/dev/null | tail -1 | tee "$out/perf.txt"

echo "== Kafka Java producer, one at a time (send().get(), $SYNC_RECORDS records)"
javac -cp "$CP" -d "$out" backend/kafka/testdata/JavaSyncSend.java
java -cp "$out:$CP" JavaSyncSend "$BROKER" "$topic" "$SYNC_RECORDS" "$RECORD_SIZE" 2>/dev/null | tee "$out/sync.txt"
java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --delete --topic "$topic" >/dev/null 2>&1 || true

rate() { awk -v name="$1" '$1 ~ name { for (i = 1; i <= NF; i++) if ($(i+1) == "msgs/s") print $i }' "$out/go.txt" | head -1; }
perf=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "records/sec") print $i }' "$out/perf.txt")
sync=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "records/sec") print $i }' "$out/sync.txt")
one=$(rate '^BenchmarkSendOneAtATime'); conc=$(rate '^BenchmarkSendConcurrent'); batch=$(rate '^BenchmarkSendBatch')
echo "== Summary (msgs/s)"
awk -v one="$one" -v conc="$conc" -v batch="$batch" -v perf="$perf" -v sync="$sync" 'BEGIN {
  printf "Send one at a time:        %10.0f  (%.1fx the original 2,200; %.2fx Java send().get() at %.0f)\n", one, one / 2200, one / sync, sync
  printf "Send, 64+ goroutines:      %10.0f  (%.1fx the original 2,200)\n", conc, conc / 2200
  printf "SendBatch:                 %10.0f  (%.2fx ProducerPerformance at %.0f)\n", batch, batch / perf, perf
}'
grep '^BenchmarkConsumeAndApply' "$out/go.txt" | awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "msgs/s") printf "Consume and apply %-8s %10.0f  (%.1fx the original 560 into SQLite)\n", substr($1, 26), $i, $i / 560 }'
rm -rf "$out"
