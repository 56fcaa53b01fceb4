#!/usr/bin/env bash
# The demo: a simulated sensor on a pseudo-terminal, telemetry reading it and
# forwarding line protocol to a UDP collector, heartbeat beating to a TCP
# server. Both collectors are socat on loopback. Halfway through, the
# heartbeat server goes away for a while so the alarm is raised and cleared.
# Runs DEMO_SECONDS (default 20) or until Ctrl-C, then prints a summary.
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL="${DEMO_SECONDS:-20}"
UDP_PORT="${DEMO_UDP_PORT:-17001}"
TCP_PORT="${DEMO_TCP_PORT:-17002}"
MQTT_PORT="${DEMO_MQTT_PORT:-17003}"
BIN=bazel-bin/apps
WORK="$(mktemp -d /tmp/evl-demo.XXXXXX)"
PIDS=()

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; cleanup; exit 1; }

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
  [ -n "${HB_SERVER:-}" ] && stop_hb_server
  [ -n "${TAIL:-}" ] && kill "$TAIL" 2>/dev/null
  wait 2>/dev/null
}
trap 'say "interrupted"; FINISH=1' INT TERM

for b in sensor_sim/sensor_sim telemetry/telemetry heartbeat/heartbeat; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing: build with 'bazel build //apps/...'"
done
for tool in socat setsid tail sed grep mosquitto mosquitto_sub; do
  command -v "$tool" >/dev/null || die "$tool is missing: run toolchains/setup.sh"
done

# socat serves each connection in a forked child; started in a session of
# its own (setsid, from util-linux, which every Debian has), the server and
# its children are one process group that stop_hb_server ends at once.
start_hb_server() {
  setsid socat -u "TCP4-LISTEN:$TCP_PORT,bind=127.0.0.1,reuseaddr,fork" STDOUT \
    >>"$WORK/heartbeat-server.log" 2>"$WORK/socat-tcp.err" &
  HB_SERVER=$!
}
stop_hb_server() {
  kill -TERM -- "-$HB_SERVER" 2>/dev/null || kill -TERM "$HB_SERVER" 2>/dev/null
  wait "$HB_SERVER" 2>/dev/null
}

say "collector: socat on udp://127.0.0.1:$UDP_PORT, heartbeat server: socat on tcp://127.0.0.1:$TCP_PORT, MQTT broker: mosquitto on 127.0.0.1:$MQTT_PORT"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser root\n' "$MQTT_PORT" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
socat -u "UDP4-RECV:$UDP_PORT,bind=127.0.0.1" STDOUT >"$WORK/collector.log" 2>"$WORK/socat-udp.err" &
PIDS+=($!)
start_hb_server
sleep 0.3
kill -0 "${PIDS[0]}" 2>/dev/null || die "socat could not listen on udp port $UDP_PORT: $(cat "$WORK/socat-udp.err")"
kill -0 "$HB_SERVER" 2>/dev/null || die "socat could not listen on tcp port $TCP_PORT: $(cat "$WORK/socat-tcp.err")"
kill -0 "${PIDS[1]}" 2>/dev/null || die "mosquitto could not listen on port $MQTT_PORT: $(tail -n 3 "$WORK/mosquitto.log")"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -v -t 'evl/#' >"$WORK/mqtt.log" 2>&1 &
PIDS+=($!)

"$BIN/sensor_sim/sensor_sim" --baud 9600 --period-ms 1000 --corrupt-pct 10 --noise-pct 10 \
  >"$WORK/sensor_sim.out" 2>"$WORK/sensor_sim.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q 'pty' "$WORK/sensor_sim.out" 2>/dev/null && break; sleep 0.1; done
PTY="$(sed -n 's/^sensor_sim: pty //p' "$WORK/sensor_sim.out")"
[ -n "$PTY" ] || die "sensor_sim did not create a pseudo-terminal: $(cat "$WORK/sensor_sim.log")"
say "sensor on $PTY (9600 baud, 10% bad checksums, 10% binary noise)"

"$BIN/telemetry/telemetry" --serial "$PTY" --baud 9600 --collector "udp://127.0.0.1:$UDP_PORT" \
  --id demo-board --batch-max 6 --batch-delay-ms 500 --health-period-ms 5000 \
  2>"$WORK/telemetry.log" &
PIDS+=($!)
"$BIN/heartbeat/heartbeat" --server "tcp://127.0.0.1:$TCP_PORT" --id demo-board --period-ms 1000 \
  --alarm-after-ms 3000 --backoff-initial-ms 200 --backoff-max-ms 1000 \
  2>"$WORK/heartbeat.log" &
PIDS+=($!)
# The same board's heartbeat over MQTT: beats, retained status and alarm.
"$BIN/heartbeat/heartbeat" --server "mqtt://127.0.0.1:$MQTT_PORT" --id demo-board --period-ms 1000 \
  --mqtt-keepalive-s 5 2>"$WORK/heartbeat-mqtt.log" &
PIDS+=($!)

say "live (collector <, heartbeat server <<, MQTT subscriber M, daemons' logs !) for ${SECONDS_TOTAL}s; Ctrl-C stops"
# A bash loop, not awk: Debian's default awk (mawk) buffers piped input, and
# the view came in bursts. read takes one line as soon as it is there.
live_view() {
  local line
  while IFS= read -r line; do
    case "$line" in
      tail:*) ;;
      "HB "*) printf '  << %s\n' "$line" ;;
      evl/*) printf '  M  %s\n' "$line" ;;
      telemetry:\ * | heartbeat:\ *) printf '  !  %s\n' "$line" ;;
      *) printf '  <  %s\n' "$line" ;;
    esac
  done
}
tail -q -n +1 -F "$WORK/collector.log" "$WORK/heartbeat-server.log" "$WORK/telemetry.log" \
  "$WORK/heartbeat.log" "$WORK/mqtt.log" 2>/dev/null | live_view &
TAIL=$!

FINISH=0
OUTAGE_AT=$((SECONDS_TOTAL / 3))
OUTAGE_FOR=6
for ((t = 0; t < SECONDS_TOTAL && FINISH == 0; t++)); do
  if [ "$t" -eq "$OUTAGE_AT" ]; then
    say "taking the heartbeat server down for ${OUTAGE_FOR}s (alarm after 3 s)"
    stop_hb_server
  fi
  if [ "$t" -eq $((OUTAGE_AT + OUTAGE_FOR)) ]; then
    say "heartbeat server back"
    start_hb_server
  fi
  sleep 1
done

say "stopping (SIGTERM: the daemons flush and print their counters)"
# Daemons first, so that their last batch still reaches the collectors.
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
  kill -TERM "${PIDS[$i]}" 2>/dev/null
  [ "$i" -ge 2 ] && wait "${PIDS[$i]}" 2>/dev/null
done
sleep 0.5
kill "$TAIL" 2>/dev/null
stop_hb_server
HB_SERVER=""
wait 2>/dev/null

echo
say "summary"
printf '  collector received: %s gps, %s env, %s health lines\n' \
  "$(grep -c '^gps,' "$WORK/collector.log")" "$(grep -c '^env,' "$WORK/collector.log")" \
  "$(grep -c '^telemetry_health,' "$WORK/collector.log")"
printf '  heartbeat server received: %s heartbeats\n' "$(grep -c '^HB ' "$WORK/heartbeat-server.log")"
printf '  MQTT subscriber received: %s heartbeats; status now: %s\n' \
  "$(grep -c '^evl/demo-board/heartbeat ' "$WORK/mqtt.log")" \
  "$(grep '^evl/demo-board/status ' "$WORK/mqtt.log" | tail -n1 | sed 's/^evl[^ ]* //')"
printf '  telemetry: %s\n' "$(grep 'records accepted' "$WORK/telemetry.log" | tail -n1 | sed 's/^telemetry: info: //')"
printf '  heartbeat: %s\n' "$(grep 'heartbeats sent' "$WORK/heartbeat.log" | tail -n1 | sed 's/^heartbeat: info: //')"
printf '  alarm lines: %s\n' "$(grep -c 'ALARM' "$WORK/heartbeat.log")"
printf '  logs kept in %s\n' "$WORK"
