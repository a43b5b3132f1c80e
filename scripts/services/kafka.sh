#!/usr/bin/env bash
# Apache Kafka for the tests: a single-node KRaft broker (controller and
# broker in one JVM) on 127.0.0.1, built from the Apache Kafka jars on Maven
# Central (fetched once with Maven into $LOGPIPE_CACHE/kafka-<version>/libs).
#   kafka.sh start | stop
# Beside the plaintext listener, the broker has secured ones, all on
# 127.0.0.1, with certificates the script makes at each start (a CA, a server
# certificate for 127.0.0.1 and localhost, a client certificate):
#   SSL       TLS, server authentication only         LOGPIPE_KAFKA_SSL_PORT (default plaintext port + 2)
#   SASL_SSL  TLS + SASL PLAIN, SCRAM-SHA-256/512     LOGPIPE_KAFKA_SASL_SSL_PORT (+ 3)
#   MTLS      TLS with a required client certificate  LOGPIPE_KAFKA_MTLS_PORT (+ 4)
# The SASL user exists for the three mechanisms, with one random password
# (the SCRAM credentials are written at format time, kafka-storage
# --add-scram).
# start writes $LOGPIPE_RUN/kafka.env with LOGPIPE_TEST_KAFKA_BROKERS,
# LOGPIPE_TEST_KAFKA_CLASSPATH (the broker's jars, which include Kafka's own
# Java producer and the ProducerPerformance tool), and for the secured
# listeners LOGPIPE_TEST_KAFKA_{SSL,SASL_SSL,MTLS}_BROKERS,
# LOGPIPE_TEST_KAFKA_CA, LOGPIPE_TEST_KAFKA_CLIENT_{CERT,KEY} (PEM files) and
# LOGPIPE_TEST_KAFKA_SASL_{USERNAME,PASSWORD}.
source "$(dirname "$0")/lib.sh"
KAFKA_VERSION=${LOGPIPE_KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${LOGPIPE_KAFKA_PORT:-19092}
CONTROLLER_PORT=${LOGPIPE_KAFKA_CONTROLLER_PORT:-19093}
SSL_PORT=${LOGPIPE_KAFKA_SSL_PORT:-$((KAFKA_PORT + 2))}
SASL_SSL_PORT=${LOGPIPE_KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 3))}
MTLS_PORT=${LOGPIPE_KAFKA_MTLS_PORT:-$((KAFKA_PORT + 4))}
SASL_USER=logpipe
HOME_DIR=$LOGPIPE_CACHE/kafka-$KAFKA_VERSION
LIBS=$HOME_DIR/libs
STATE=$LOGPIPE_RUN/kafka
TLS_DIR=$STATE/tls
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

# make_certs: a CA, a server certificate for 127.0.0.1 and localhost, and a
# client certificate, EC P-256 keys (fast to make), PEM files in $TLS_DIR.
# The broker reads PEM key and trust stores (ssl.keystore.type=PEM), so no
# keytool run is needed.
make_certs() {
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    umask 077
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${key[@]}" -keyout ca.key -out ca.pem -days 30 -subj "/CN=logpipe test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    sign() { # sign NAME SUBJECT EXTENSIONS
      openssl req "${key[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.pem"
    }
    sign server "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
basicConstraints=critical,CA:FALSE"
    sign client "/CN=logpipe-client" "extendedKeyUsage=clientAuth
basicConstraints=critical,CA:FALSE"
    cat server.key server.pem >server-keystore.pem
    rm -f ./*.csr ./*.ext ca.srl
  ) >"$STATE/certs.log" 2>&1 || { cat "$STATE/certs.log" >&2; die "could not make the TLS certificates"; }
}

write_config() {
  mkdir -p "$STATE"
  cat >"$STATE/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,MTLS://127.0.0.1:$MTLS_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,MTLS://127.0.0.1:$MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$(cat "$STATE/sasl-password")";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
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
    mkdir -p "$STATE"
    command -v openssl >/dev/null || apt_install openssl
    # A fresh password at each start: hex, so that it needs no quoting in
    # the JAAS line, the --add-scram argument or kafka.env.
    (umask 077; openssl rand -hex 16 >"$STATE/sasl-password") || die "could not make the SASL password"
    make_certs
    write_config
    local cluster_id pw
    pw=$(cat "$STATE/sasl-password")
    # A random UUID in Kafka's form (base64url of 16 bytes, no padding),
    # without a JVM start for StorageTool random-uuid; like Kafka's, never
    # starting with "-" (it would read as an option).
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
      cluster_id=$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=\n')
    done
    [ "${#cluster_id}" = 22 ] || die "could not generate a cluster id"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$STATE/server.properties" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$pw]" \
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$pw]" \
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
  local secured=1 p
  if [ ! -f "$STATE/sasl-password" ]; then
    # A broker started by an older kafka.sh, without secured listeners.
    secured=0
    log "WARNING: the running broker has no TLS/SASL listeners (started by an older kafka.sh): the secured-listener tests need LOGPIPE_TEST_KAFKA_SSL_BROKERS etc.; restart it ($0 stop; $0 start) to get them"
  fi
  if [ "$secured" = 1 ]; then
    for p in "$SSL_PORT" "$SASL_SSL_PORT" "$MTLS_PORT"; do
      wait_port 127.0.0.1 "$p" 10 || die "Kafka is not listening on $p (secured listener)"
    done
  fi
  {
    echo "export LOGPIPE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    echo "export LOGPIPE_TEST_KAFKA_CLASSPATH='$LIBS/*'"
    if [ "$secured" = 1 ]; then
      echo "export LOGPIPE_TEST_KAFKA_SSL_BROKERS=127.0.0.1:$SSL_PORT"
      echo "export LOGPIPE_TEST_KAFKA_SASL_SSL_BROKERS=127.0.0.1:$SASL_SSL_PORT"
      echo "export LOGPIPE_TEST_KAFKA_MTLS_BROKERS=127.0.0.1:$MTLS_PORT"
      echo "export LOGPIPE_TEST_KAFKA_CA='$TLS_DIR/ca.pem'"
      echo "export LOGPIPE_TEST_KAFKA_CLIENT_CERT='$TLS_DIR/client.pem'"
      echo "export LOGPIPE_TEST_KAFKA_CLIENT_KEY='$TLS_DIR/client.key'"
      echo "export LOGPIPE_TEST_KAFKA_SASL_USERNAME=$SASL_USER"
      echo "export LOGPIPE_TEST_KAFKA_SASL_PASSWORD=$(cat "$STATE/sasl-password")"
    fi
  } >"$LOGPIPE_RUN/kafka.env"
  chmod 600 "$LOGPIPE_RUN/kafka.env"
  if [ "$secured" = 1 ]; then
    log "Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (SSL $SSL_PORT, SASL_SSL $SASL_SSL_PORT, mTLS $MTLS_PORT)"
  else
    log "Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  fi
}

stop() {
  stop_pidfile "$PIDFILE"
  rm -rf "$STATE"
  rm -f "$LOGPIPE_RUN/kafka.env"
}

case "${1:-}" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop" >&2; exit 2 ;; esac
