#!/usr/bin/env bash
# Apache Kafka for the tests: a single-node KRaft broker (controller and
# broker in one JVM) on 127.0.0.1, built from the Apache Kafka jars on Maven
# Central (fetched once with Maven into $LOGPIPE_CACHE/kafka-<version>/libs).
#   kafka.sh start | stop
# start writes $LOGPIPE_RUN/kafka.env with LOGPIPE_TEST_KAFKA_BROKERS and
# LOGPIPE_TEST_KAFKA_CLASSPATH (the broker's jars, which include Kafka's own
# Java producer and the ProducerPerformance tool).
source "$(dirname "$0")/lib.sh"
KAFKA_VERSION=${LOGPIPE_KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${LOGPIPE_KAFKA_PORT:-19092}
CONTROLLER_PORT=${LOGPIPE_KAFKA_CONTROLLER_PORT:-19093}
HOME_DIR=$LOGPIPE_CACHE/kafka-$KAFKA_VERSION
LIBS=$HOME_DIR/libs
STATE=$LOGPIPE_RUN/kafka
PIDFILE=$LOGPIPE_RUN/kafka.pid

# fetch_jars: the broker (kafka_2.13), the tools (StorageTool,
# ProducerPerformance) and a log4j2 backend for SLF4J 1.7 (what Kafka 4.1 logs through), with their runtime dependencies.
fetch_jars() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars"
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$LIBS"; mkdir -p "$HOME_DIR"
  cat >"$HOME_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>logpipe.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
  # Copy into a temporary folder and rename, so that an interrupted fetch
  # is never taken for a complete one.
  rm -rf "$HOME_DIR/libs.tmp"
  (cd "$HOME_DIR" && mvn -q -B -Dstyle.color=never -f pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$HOME_DIR/libs.tmp") \
    || die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  ls "$HOME_DIR/libs.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar missing after fetch"
  mv "$HOME_DIR/libs.tmp" "$LIBS"
  touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$STATE"
  cat >"$STATE/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.flush.interval.messages=9223372036854775807
num.network.threads=2
num.io.threads=4
EOF
  # log4j2 in properties syntax, which log4j-core reads without extra jars.
  cat >"$STATE/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = File
appender.file.fileName = $LOGPIPE_RUN/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = File
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
EOF
}

# kafka_java ARGS...: java with the broker's classpath and a small heap.
kafka_java() {
  java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
    -cp "$LIBS/*" "$@"
}

# answers: a metadata request through Kafka's own admin client succeeds.
answers() {
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null 2>&1
}

start() {
  command -v java >/dev/null || die "Java 17+ is needed to run the Kafka broker"
  fetch_jars
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "already running"
  else
    rm -rf "$STATE"
    write_config
    local cluster_id
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    [ -n "$cluster_id" ] || die "could not generate a cluster id"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$STATE/server.properties" \
      >"$STATE/format.log" 2>&1 || { cat "$STATE/format.log" >&2; die "could not format the KRaft log directory"; }
    : >"$LOGPIPE_RUN/kafka.log"
    # setsid: the broker leads its own process group, which stop_pidfile ends.
    setsid bash -c "exec java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile='$STATE/log4j2.properties' \
      -cp '$LIBS/*' kafka.Kafka '$STATE/server.properties'" \
      >"$LOGPIPE_RUN/kafka.out" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  wait_port 127.0.0.1 "$KAFKA_PORT" 90 || { tail -40 "$LOGPIPE_RUN/kafka.out" "$LOGPIPE_RUN/kafka.log" >&2; die "Kafka is not listening on $KAFKA_PORT"; }
  local i
  for ((i = 0; i < 60; i++)); do
    if answers; then break; fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -40 "$LOGPIPE_RUN/kafka.out" "$LOGPIPE_RUN/kafka.log" >&2; die "Kafka exited"; }
    sleep 1
  done
  [ "$i" -lt 60 ] || die "Kafka does not answer metadata requests on $KAFKA_PORT"
  {
    echo "export LOGPIPE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    echo "export LOGPIPE_TEST_KAFKA_CLASSPATH='$LIBS/*'"
  } >"$LOGPIPE_RUN/kafka.env"
  log "Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
}

stop() {
  stop_pidfile "$PIDFILE"
  rm -rf "$STATE"
  rm -f "$LOGPIPE_RUN/kafka.env"
}

case "${1:-}" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop" >&2; exit 2 ;; esac
