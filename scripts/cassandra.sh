#!/usr/bin/env bash
# A throwaway single-node Apache Cassandra 5.0 for the tests, run from Maven Central jars
# (no Docker, no Debian package). Everything lives under .cache/cassandra/ (gitignored).
#
#   scripts/cassandra.sh start    # start a fresh node (or do nothing if one already answers CQL)
#   scripts/cassandra.sh stop     # stop the node started by `start` (pid file)
#   scripts/cassandra.sh status   # exit 0 if CQL on 127.0.0.1:9142 accepts cassandra/cassandra
#
# Needs: Java 17 (Cassandra 5.0 does not run on Java 24+), mvn (first run only, to fetch the jars
# into .cache/cassandra/lib via ~/.m2), node + `npm ci` done (cassandra-driver is used to check CQL).
# Environment overrides: CASSANDRA_JAVA, CASSANDRA_CQL_PORT (9142), CASSANDRA_STORAGE_PORT (7100),
# CASSANDRA_HEAP (1G), CASSANDRA_START_TIMEOUT (180 seconds), CASSANDRA_JVM_EXTRA (extra JVM flags;
# default -XX:TieredStopAtLevel=1 for a faster start, set it empty for the full JIT).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/cassandra"
CACHE="$ROOT/.cache/cassandra"
LIB="$CACHE/lib"
LOG="$CACHE/cassandra.log"
PIDFILE="$CACHE/cassandra.pid"
CQL_HOST=127.0.0.1
CQL_PORT="${CASSANDRA_CQL_PORT:-9142}"
STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-7100}"
HEAP="${CASSANDRA_HEAP:-1G}"
START_TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CASSANDRA_VERSION=5.0.8

find_java() {
  if [[ -n "${CASSANDRA_JAVA:-}" ]]; then echo "$CASSANDRA_JAVA"; return; fi
  local j
  for j in /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/java-17-openjdk-arm64/bin/java \
           /usr/lib/jvm/java-17-openjdk/bin/java "${JAVA_HOME:-/nonexistent}/bin/java"; do
    if [[ -x "$j" ]]; then echo "$j"; return; fi
  done
  echo "cassandra.sh: no Java 17 found (set CASSANDRA_JAVA)" >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/$CQL_HOST/$CQL_PORT") 2>/dev/null; }

need_driver() {
  if [[ ! -d "$ROOT/node_modules/cassandra-driver" ]]; then
    echo "cassandra.sh: node_modules/cassandra-driver missing (used to check CQL); run 'npm ci' first" >&2
    exit 2
  fi
}

# One login + query attempt (timeout 0) or retry until $1 seconds have passed.
cql_ready() {
  node "$HERE/wait.mjs" "$CQL_HOST:$CQL_PORT" "${1:-0}"
}

# pid from the pid file if that process is alive and is a Cassandra daemon
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'org.apache.cassandra.service.CassandraDaemon' || return 1
  echo "$pid"
}

resolve_jars() {
  if [[ -f "$LIB/cassandra-all-$CASSANDRA_VERSION.jar" && -f "$LIB/.complete" ]]; then return; fi
  echo "resolving cassandra-all $CASSANDRA_VERSION and its runtime dependencies into $LIB"
  rm -rf "$LIB"
  mkdir -p "$LIB"
  if ! mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIB" >"$CACHE/mvn.log" 2>&1; then
    tail -n 40 "$CACHE/mvn.log" >&2
    echo "cassandra.sh: mvn failed (full output in $CACHE/mvn.log)" >&2
    exit 1
  fi
  touch "$LIB/.complete"
}

fail_start() {
  echo "cassandra.sh: $1" >&2
  if running_pid >/dev/null; then
    echo "cassandra.sh: stopping the half-started node" >&2
    stop >&2
  fi
  rm -f "$PIDFILE"
  echo "---- last 60 lines of $LOG ----" >&2
  tail -n 60 "$LOG" >&2 || true
  exit 1
}

wait_until_ready() { # pid, start time (epoch seconds)
  local pid="$1" t0="$2" deadline=$(( ${2%.*} + START_TIMEOUT ))
  # Cheap checks first: process alive and port open; then log in (superuser appears a moment later).
  while ! port_open; do
    kill -0 "$pid" 2>/dev/null || fail_start "Cassandra (pid $pid) exited during start-up"
    (( $(date +%s) < deadline )) || fail_start "CQL port $CQL_PORT not open after ${START_TIMEOUT}s"
    sleep 0.25
  done
  local left=$(( deadline - $(date +%s) ))
  (( left > 0 )) || left=1
  local version
  version="$(cql_ready "$left")" || fail_start "CQL login as cassandra/cassandra did not succeed within ${START_TIMEOUT}s"
  local t1
  t1="$(date +%s.%N)"
  printf 'Cassandra %s ready on %s:%s (pid %s) after %.1fs; log %s\n' \
    "$version" "$CQL_HOST" "$CQL_PORT" "$pid" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')" "$LOG"
}

start() {
  local t0
  t0="$(date +%s.%N)"
  need_driver
  if port_open && cql_ready 0 >/dev/null 2>&1; then
    echo "Cassandra already answers on $CQL_HOST:$CQL_PORT; nothing to do"
    return 0
  fi
  mkdir -p "$CACHE"
  local pid
  if pid="$(running_pid)"; then
    echo "Cassandra (pid $pid) is already starting; waiting for it"
    wait_until_ready "$pid" "$t0"
    return 0
  fi
  if port_open; then
    echo "cassandra.sh: something else listens on $CQL_HOST:$CQL_PORT but does not accept cassandra/cassandra" >&2
    exit 1
  fi

  local java
  java="$(find_java)"
  resolve_jars

  # Fresh data folder per start; drop the ones from earlier runs (no node of ours is running now).
  rm -rf "$CACHE"/run-*
  local run
  run="$CACHE/run-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$run/data" "$run/tmp" "$run/logs" "$run/triggers"
  sed -e "s|@RUN_DIR@|$run|g" -e "s|@STORAGE_PORT@|$STORAGE_PORT|g" -e "s|@CQL_PORT@|$CQL_PORT|g" \
    "$HERE/cassandra.yaml.template" >"$run/cassandra.yaml"

  local jvm=(
    -Xms"$HEAP" -Xmx"$HEAP" -Xss256k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxGCPauseMillis=300
    -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
    -XX:ErrorFile="$run/logs/hs_err_%p.log"
    -Djava.net.preferIPv4Stack=true
    -Djdk.attach.allowAttachSelf=true
    -Djava.io.tmpdir="$run/tmp"
    -javaagent:"$LIB/jamm-0.4.0.jar"
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
  )
  local m
  for m in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
           java.rmi/sun.rmi.registry java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref \
           jdk.unsupported/sun.misc jdk.compiler/com.sun.tools.javac.file jdk.attach/sun.tools.attach \
           java.management/com.sun.jmx.remote.security; do
    jvm+=(--add-exports "$m=ALL-UNNAMED")
  done
  for m in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
           java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
           java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal java.base/sun.nio.ch \
           java.base/java.io java.base/java.lang.reflect java.base/java.lang java.base/java.util \
           java.base/java.nio jdk.compiler/com.sun.tools.javac; do
    jvm+=(--add-opens "$m=ALL-UNNAMED")
  done
  # Extra JVM flags, space-separated. Default: C1 JIT only, which halves the start-up time on a
  # 2-core machine (~4 s instead of ~8 s); set CASSANDRA_JVM_EXTRA= (empty) for the full JIT.
  local extra=()
  read -r -a extra <<<"${CASSANDRA_JVM_EXTRA--XX:TieredStopAtLevel=1}"
  jvm+=("${extra[@]}")
  local props=(
    -Dcassandra.config="file://$run/cassandra.yaml"
    -Dcassandra.storagedir="$run/data"
    -Dcassandra.logdir="$run/logs"
    -Dcassandra.triggers_dir="$run/triggers"
    -Dcassandra-foreground=yes
    -Dlogback.configurationFile="$HERE/logback.xml"
    -Dcassandra.libjemalloc=-
    # faster start for a single throwaway node
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.unsafesystem=true
    -Dcassandra.skip_sync=true
    -Dcassandra.auth_bcrypt_gensalt_log2_rounds=4
    # faster stop (the data is thrown away anyway)
    -Dcassandra.shutdown_announce_in_ms=0
    -Dcassandra.test.messagingService.nonGracefulShutdown=true
  )

  echo "starting Cassandra $CASSANDRA_VERSION (CQL $CQL_HOST:$CQL_PORT, storage $STORAGE_PORT, heap $HEAP, data $run)"
  : >"$LOG"
  # setsid: own session, so the node survives the calling shell / CI step; stdin from /dev/null.
  nohup setsid "$java" "${jvm[@]}" "${props[@]}" -cp "$LIB/*" \
    org.apache.cassandra.service.CassandraDaemon </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_until_ready "$pid" "$t0"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    if port_open; then
      echo "no Cassandra pid file here, but something answers on $CQL_HOST:$CQL_PORT (not ours; left alone)"
    else
      echo "Cassandra is not running"
    fi
    return 0
  fi
  echo "stopping Cassandra (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "stopped"; return 0; }
    sleep 0.2
  done
  echo "Cassandra did not exit after 60s of SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 10); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  rm -f "$PIDFILE"
}

status() {
  need_driver
  if port_open && cql_ready 0; then
    local pid
    pid="$(running_pid)" && echo "running (pid $pid)" || echo "running (not started by this script)"
    return 0
  fi
  echo "Cassandra is not answering on $CQL_HOST:$CQL_PORT"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
