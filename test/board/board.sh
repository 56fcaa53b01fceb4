#!/usr/bin/env bash
# The test suites on real ARM Linux kernels: Debian's armmp (armv7),
# rt-armmp (armv7, PREEMPT_RT) and arm64 kernels booted by qemu-system on
# the virt machine, and armmp on the vexpress-a9 board, each with an
# initramfs of our own: a static /init (test/board/init.c), busybox, the
# ARM test binaries the armv7/aarch64 stages built, and their shared
# libraries. /init runs every test and prints EVL-TEST lines and one
# EVL-BOARD summary on the console; this script collects them. Then the
# daemons run on the board: telemetry reads NMEA that this script writes
# into the board's second UART (a 16550 on PCI, or the vexpress's second
# PL011) and forwards to a UDP collector here; heartbeat beats to a TCP
# server here that goes away for 4 s (the alarm rises and clears), petting
# Linux's softdog (/dev/watchdog), with its flight recorder on: the board
# prints the recording in base64 and this script replays it on the host (//test/fake:replay), which must print the
# board's heartbeat log lines. Their checks are EVL-CHECK lines.
#
#   bash test/board/board.sh [BOARD...]    # armv7 armv7-rt aarch64 vexpress (default: all)
#   EVL_BOARD_SHELL=1 bash test/board/board.sh armv7   # a shell on the console after the tests
#
# Kernels and busybox are fetched once (apt-get download) into
# $EVL_BOARD_CACHE (default ~/.cache/evl-board), outside the source tree.
# Prints "N passed, F failed" over all boards; exit 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

CACHE="${EVL_BOARD_CACHE:-${HOME:-/root}/.cache/evl-board}"
BOOT_TIMEOUT_S=60
RUN_TIMEOUT_S="${EVL_BOARD_TIMEOUT_S:-600}"
BOARDS=("$@")
[ "${#BOARDS[@]}" -gt 0 ] || BOARDS=(armv7 armv7-rt aarch64 vexpress)

die() { printf 'board: error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$CACHE" || die "cannot create $CACHE"
REPLAY=bazel-out/k8-fastbuild/bin/test/fake/replay
bazel build //test/fake:replay >/dev/null 2>&1 || die "cannot build the host's //test/fake:replay"

# The versioned package behind a Debian meta package (linux-image-armmp:armhf
# -> linux-image-6.1.0-NN-armmp:armhf).
versioned() {
  apt-cache depends "$1" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)/\1/p' | head -n1
}

# fetch PACKAGE: downloads and unpacks it into $CACHE/<name> once.
fetch() {
  local pkg="$1" base="${1%%:*}" arch="${1#*:}" name="${1/:/_}"
  [ -d "$CACHE/$name" ] && { printf '%s\n' "$CACHE/$name"; return 0; }
  rm -f "$CACHE/${base}"_*_"${arch}".deb
  (cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>"$CACHE/$name.err") ||
    die "cannot download $pkg (see $CACHE/$name.err)"
  local deb
  deb="$(ls "$CACHE/${base}"_*_"${arch}".deb 2>/dev/null | head -n1)"
  [ -n "$deb" ] || die "no .deb for $pkg in $CACHE"
  mkdir -p "$CACHE/$name.tmp" && dpkg -x "$deb" "$CACHE/$name.tmp" && mv "$CACHE/$name.tmp" "$CACHE/$name" ||
    die "cannot unpack $deb"
  rm -f "$deb"
  printf '%s\n' "$CACHE/$name"
}

# Board table: dpkg arch, kernel meta package, qemu and machine options.
board_arch() { case "$1" in aarch64) echo arm64 ;; *) echo armhf ;; esac; }
board_meta() {
  case "$1" in
    armv7 | vexpress) echo linux-image-armmp:armhf ;;
    armv7-rt) echo linux-image-rt-armmp:armhf ;;
    aarch64) echo linux-image-arm64:arm64 ;;
  esac
}

# build_image BOARD KERNELDIR OUT.cpio.gz
build_image() {
  local board="$1" kdir="$2" out="$3" arch triple bindir root
  arch="$(board_arch "$board")"
  if [ "$arch" = arm64 ]; then triple=aarch64-linux-gnu; bindir=bazel-out/k8-fastbuild-aarch64/bin
  else triple=arm-linux-gnueabihf; bindir=bazel-out/k8-fastbuild-armv7/bin; fi
  root="$(mktemp -d /tmp/evl-board-root.XXXXXX)"
  mkdir -p "$root"/{bin,lib,tests,work,dev,proc,sys,tmp}
  "${triple}-gcc" -static -O2 -o "$root/init" test/board/init.c || die "cannot build /init for $arch"
  local bb
  bb="$(fetch "busybox-static:$arch")" || exit 1
  cp "$bb/bin/busybox" "$root/bin/busybox"
  for app in sh sleep cat ls dmesg stty; do ln -s busybox "$root/bin/$app"; done
  # Shared libraries of the tests, where their loader looks (/lib).
  cp -L /usr/"$triple"/lib/{libc.so.6,libm.so.6,libgcc_s.so.1,libstdc++.so.6} "$root/lib/"
  cp -L /usr/"$triple"/lib/ld-linux-*.so.* "$root/lib/"
  # The tests: every ARM cc_test the cross stage built, but those that need
  # the host (tagged "host") or an x86 binary, and the *_e2e_test ones: hours
  # of virtual time on the fake kernel (pure user space, no system call
  # reaches the kernel), 85 s of the 120 s a board takes; the armv7 and
  # aarch64 stages run them under qemu-user.
  local tests=0
  : >"$root/tests.list"
  while read -r label; do
    local path="${label#//}"
    path="${path/://}"
    [ -x "$bindir/$path" ] || continue
    case "$path" in *_e2e_test) continue ;; esac
    mkdir -p "$root/tests/$(dirname "$path")"
    cp "$bindir/$path" "$root/tests/$path"
    printf '/tests/%s\n' "$path" >>"$root/tests.list"
    tests=$((tests + 1))
  done < <(bazel query 'kind(cc_test, //test/...) except attr(tags, "host", //test/...)' 2>/dev/null)
  [ "$tests" -gt 0 ] || die "no ARM test binaries in $bindir: run the ${arch} stage (bazel build --config=...) first"
  # The daemons, for the integration run after the tests.
  mkdir -p "$root/apps" "$root/modules"
  local app
  for app in heartbeat telemetry; do
    [ -x "$bindir/apps/$app/$app" ] || die "no ARM $app in $bindir: build //apps/... for $arch first"
    cp "$bindir/apps/$app/$app" "$root/apps/$app"
  done
  local mod modules=(virtio_mmio failover net_failover virtio_net) uart=/dev/ttyS0
  [ "$board" = vexpress ] && { modules=(libphy smsc smsc911x); uart=/dev/ttyAMA1; }
  : >"$root/modules.list"
  for mod in "${modules[@]}"; do
    local ko
    ko="$(find "$kdir/lib/modules" -name "$mod.ko" | head -n1)"
    [ -n "$ko" ] || die "module $mod.ko is not in $(basename "$kdir")"
    cp "$ko" "$root/modules/"
    printf '/modules/%s.ko\n' "$mod" >>"$root/modules.list"
  done
  # Linux's software watchdog for heartbeat to pet: it would reset the board
  # 20 s after the last pet (soft_noboot: it only says so, "softdog:
  # Triggered"), well inside heartbeat's 25 s.
  local softdog
  softdog="$(find "$kdir/lib/modules" -name softdog.ko | head -n1)"
  [ -n "$softdog" ] || die "module softdog.ko is not in $(basename "$kdir")"
  cp "$softdog" "$root/modules/"
  printf '/modules/softdog.ko soft_margin=20 soft_noboot=1\n' >>"$root/modules.list"
  # Telemetry reads the emulated UART (fed by this script) and forwards to a
  # UDP collector on the host; heartbeat beats to a TCP server on the host
  # that goes away for a while (alarm raised, then cleared). 10.0.2.2 is the
  # host's 127.0.0.1 in qemu's user network; heartbeat knows it by a name,
  # server.board, from the board's /etc/hosts.
  mkdir -p "$root/etc"
  printf '127.0.0.1 localhost\n10.0.2.2 server.board\n' >"$root/etc/hosts"
  cat >>"$root/tests.list" <<LIST
& /apps/telemetry --serial $uart --baud 115200 --collector udp://10.0.2.2:$UDP_PORT --id board-7 --batch-max 5 --batch-delay-ms 200 --health-period-ms 100000 --run-for-ms 25000
& /apps/heartbeat --server tcp://server.board:$TCP_PORT --id board-7 --period-ms 200 --alarm-after-ms 1500 --backoff-initial-ms 100 --backoff-max-ms 500 --run-for-ms 25000 --flight-recorder /tmp/hb.rec --watchdog-device /dev/watchdog
wait
/bin/busybox base64 /tmp/hb.rec
LIST
  # What the README tests read from the working folder.
  mkdir -p "$root/work/apps/examples"
  cp README.md "$root/work/"
  cp apps/examples/*.cc "$root/work/apps/examples/"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out" || die "cannot pack the initramfs"
  rm -rf "$root"
  printf '%s' "$tests"
}

# boot BOARD KERNELDIR IMAGE LOG: runs the board; the console goes to LOG.
boot() {
  local board="$1" kdir="$2" image="$3" log="$4" kernel dtb append qemu
  kernel="$(ls "$kdir"/boot/vmlinuz-* | head -n1)"
  append="console=ttyAMA0 panic=-1 cryptomgr.notests quiet evl.board=$board"
  [ -n "${EVL_BOARD_SHELL:-}" ] && append="$append evl.shell"
  case "$board" in
    armv7 | armv7-rt) qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15 -m 512) ;;
    aarch64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512) ;;
    vexpress)
      dtb="$(find "$kdir" -name vexpress-v2p-ca9.dtb | head -n1)"
      qemu=(qemu-system-arm -M vexpress-a9 -m 512 -dtb "$dtb")
      ;;
  esac
  local io
  if [ "$board" = vexpress ]; then
    io=(-serial stdio -serial pty -nic user,model=lan9118)
  else
    io=(-serial stdio -chardev pty,id=s1 -device pci-serial,chardev=s1
        -netdev user,id=n0 -device virtio-net-device,netdev=n0)
  fi
  if [ -n "${EVL_BOARD_SHELL:-}" ]; then
    "${qemu[@]}" -kernel "$kernel" -initrd "$image" -append "$append" -display none -monitor none \
      -no-reboot "${io[@]}"
    return 0
  fi
  local work
  work="$(mktemp -d /tmp/evl-board-io.XXXXXX)"
  socat -u "UDP4-RECV:$UDP_PORT,bind=127.0.0.1" STDOUT >"$work/collector.log" 2>/dev/null &
  local collector=$!
  setsid socat -u "TCP4-LISTEN:$TCP_PORT,bind=127.0.0.1,reuseaddr,fork" STDOUT \
    >"$work/server1.log" 2>/dev/null &
  local server=$!
  timeout "$RUN_TIMEOUT_S" "${qemu[@]}" -kernel "$kernel" -initrd "$image" -append "$append" \
    -display none -monitor none -no-reboot "${io[@]}" </dev/null >"$log" 2>&1 &
  local qpid=$!
  feed_uart "$log" "$qpid" &
  local feeder=$!
  # A kernel that does not reach /init within BOOT_TIMEOUT_S is stopped.
  local waited=0
  while kill -0 "$qpid" 2>/dev/null && ! grep -q '^EVL-INIT: board' "$log"; do
    sleep 0.2
    waited=$((waited + 1))
    [ "$waited" -ge $((BOOT_TIMEOUT_S * 5)) ] && { kill "$qpid" 2>/dev/null; break; }
  done
  # The outage: once ten beats arrived, the server is gone for 4 s.
  while kill -0 "$qpid" 2>/dev/null && [ "$(grep -c '^HB ' "$work/server1.log")" -lt 10 ]; do sleep 0.2; done
  kill -TERM -- "-$server" 2>/dev/null || kill -TERM "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  sleep 4
  setsid socat -u "TCP4-LISTEN:$TCP_PORT,bind=127.0.0.1,reuseaddr,fork" STDOUT \
    >"$work/server2.log" 2>/dev/null &
  server=$!
  wait "$qpid"
  local rc=$?
  kill "$feeder" 2>/dev/null
  kill -TERM -- "-$server" 2>/dev/null || kill -TERM "$server" 2>/dev/null
  kill "$collector" 2>/dev/null
  wait 2>/dev/null
  # The integration's checks, as EVL-CHECK lines in the log.
  check() { printf 'EVL-CHECK %s %s\n' "$1" "$2" >>"$log"; }
  local records beats1 beats2
  records="$(grep -c '^env,device=board-7 temp_c=19.25 ' "$work/collector.log")"
  beats1="$(grep -c '^HB id=board-7 ' "$work/server1.log")"
  beats2="$(grep -c '^HB id=board-7 ' "$work/server2.log" 2>/dev/null || true)"
  check "telemetry-read-the-uart-and-forwarded-($records-records)" "$([ "$records" -ge 20 ] && echo PASS || echo FAIL)"
  check "heartbeat-beat-by-name-before-($beats1)-and-after-($beats2)-the-outage" \
    "$([ "$beats1" -ge 10 ] && [ "${beats2:-0}" -ge 3 ] &&
      grep -q "heartbeat: info: delivering to tcp://server.board:$TCP_PORT (10.0.2.2:$TCP_PORT)" "$log" &&
      echo PASS || echo FAIL)"
  check "heartbeat-checked-and-petted-linux's-softdog" \
    "$(grep -q 'heartbeat: info: watchdog /dev/watchdog (Software Watchdog): resets after 20 s, petted every 1000 ms' "$log" &&
      ! grep -q 'softdog: Triggered' "$log" && echo PASS || echo FAIL)"
  check "the-alarm-was-raised-and-cleared" \
    "$(grep -q 'ALARM: no heartbeat delivered' "$log" && grep -q 'ALARM CLEARED' "$log" && echo PASS || echo FAIL)"
  # Neither daemon may spin: 25 s of a beat every 200 ms and a few records a
  # second take a fraction of a second of CPU, even emulated; a daemon stuck
  # in a busy loop takes all 25 (telemetry did on armv7 while the seam cut
  # times to a 32-bit time_t).
  local cpu_t cpu_h
  cpu_t="$(sed -n 's/^EVL-TEST \/apps\/telemetry .*cpu \([0-9.]*\) s).*/\1/p' "$log" | tr -d '\r')"
  cpu_h="$(sed -n 's/^EVL-TEST \/apps\/heartbeat .*cpu \([0-9.]*\) s).*/\1/p' "$log" | tr -d '\r')"
  check "the-daemons-did-not-spin-(cpu-telemetry-${cpu_t:-?}-s,-heartbeat-${cpu_h:-?}-s-in-25-s)" \
    "$(awk -v t="${cpu_t:-99}" -v h="${cpu_h:-99}" 'BEGIN { print (t < 5 && h < 5) ? "PASS" : "FAIL" }')"
  # heartbeat's flight recording, printed in base64 by the board after the
  # daemons ended, replayed here: the same log lines, every call made.
  sed -n '/^EVL-RUN \/bin\/busybox base64/,/^EVL-TEST \/bin\/busybox base64/p' "$log" | tr -d '\r' |
    grep -E '^[A-Za-z0-9+/=]+$' | base64 -d >"$work/hb.rec" 2>/dev/null
  "$REPLAY" "$work/hb.rec" >"$work/replay.out" 2>"$work/replay.err"
  local replayed=$? calls
  calls="$(sed -n 's/^replay: OK: the program made the \([0-9]*\) recorded calls.*/\1/p' "$work/replay.err")"
  grep '^heartbeat: ' "$log" | tr -d '\r' >"$work/board.lines"
  grep '^heartbeat: ' "$work/replay.err" >"$work/replay.lines"
  check "heartbeat-recorded-on-the-board-replays-on-the-host-(${calls:-no}-calls)" \
    "$([ "$replayed" -eq 0 ] && [ -n "$calls" ] && cmp -s "$work/board.lines" "$work/replay.lines" &&
      grep -q 'ALARM: no heartbeat delivered' "$work/replay.lines" && echo PASS || echo FAIL)"
  rm -rf "$work"
  return "$rc"
}

# The NMEA sensor on the board's second UART: qemu names its pty in the log.
SENTENCE=""
make_sentence() {
  local body="IIXDR,C,19.25,C,T" sum=0 i c
  for ((i = 0; i < ${#body}; i++)); do
    printf -v c '%d' "'${body:i:1}"
    sum=$((sum ^ c))
  done
  printf -v SENTENCE '$%s*%02X\r\n' "$body" "$sum"
}
feed_uart() {
  local log="$1" qpid="$2" pty=""
  make_sentence
  for _ in $(seq 600); do
    pty="$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\) (label \(s1\|serial1\)).*/\1/p' "$log" | head -n1)"
    [ -n "$pty" ] && break
    sleep 0.1
  done
  [ -n "$pty" ] || return 0
  # Held open: qemu reads its pty only while the host side is open.
  exec 3>"$pty" || return 0
  while kill -0 "$qpid" 2>/dev/null; do
    printf '%s' "$SENTENCE" >&3 2>/dev/null || true
    sleep 0.1
  done
  exec 3>&-
}

# Each board gets its own loopback ports for the host's collector and
# server (10.0.2.2 in the guest), baked into its image.
BASE_PORT=$((20000 + RANDOM % 20000))
declare -A KDIR IMAGE NTESTS UPORT TPORT

# Fetches the kernel and makes the image of every board first, one at a
# time (apt-get download shares its cache).
i=0
for board in "${BOARDS[@]}"; do
  case "$board" in armv7 | armv7-rt | aarch64 | vexpress) ;; *) die "unknown board $board" ;; esac
  UDP_PORT=$((BASE_PORT + 2 * i))
  TCP_PORT=$((UDP_PORT + 1))
  i=$((i + 1))
  UPORT[$board]=$UDP_PORT
  TPORT[$board]=$TCP_PORT
  meta="$(board_meta "$board")"
  pkg="$(versioned "$meta")"
  [ -n "$pkg" ] || die "cannot find the kernel package behind $meta (apt-get update?)"
  KDIR[$board]="$(fetch "$pkg")" || exit 1
  IMAGE[$board]="$(mktemp /tmp/evl-board-$board.XXXXXX.cpio.gz)"
  NTESTS[$board]="$(build_image "$board" "${KDIR[$board]}" "${IMAGE[$board]}")" || exit 1
done

# Boots one board and reports it: its summary line, and "passed failed" in
# $RESULTS/<board>.
RESULTS="$(mktemp -d /tmp/evl-board-results.XXXXXX)"
run_board() {
  local board="$1" start=$SECONDS
  UDP_PORT=${UPORT[$board]}
  TCP_PORT=${TPORT[$board]}
  local log="/tmp/evl-board-$board.log" rc p f summary last kdir="${KDIR[$board]}"
  boot "$board" "$kdir" "${IMAGE[$board]}" "$log"
  rc=$?
  rm -f "${IMAGE[$board]}"
  [ -n "${EVL_BOARD_SHELL:-}" ] && return 0
  if ! grep -q '^EVL-INIT: board' "$log"; then
    printf 'board %s: the kernel did not reach /init within %s s (log: %s)\n' "$board" \
      "$BOOT_TIMEOUT_S" "$log"
    echo "0 1" >"$RESULTS/$board"
    return 0
  fi
  p="$(grep -cE '^EVL-(TEST|CHECK) .* ?PASS' "$log")"
  f="$(grep -cE '^EVL-(TEST|CHECK) .* ?FAIL' "$log")"
  summary="$(grep '^EVL-BOARD ' "$log" | tail -n1)"
  if [ -z "$summary" ]; then
    last="$(grep '^EVL-RUN ' "$log" | tail -n1 | cut -d' ' -f2)"
    printf 'board %s: no summary (qemu exit %s; last test started: %s; log: %s)\n' "$board" "$rc" "$last" "$log"
    f=$((f + 1))
  fi
  grep -E '^EVL-(TEST|CHECK) .* ?FAIL' "$log" | sed 's/^/  /'
  printf 'board %s (%s, %s): %s passed, %s failed (%s test binaries, the daemons, the recording, 5 checks), %ss\n' \
    "$board" "$(basename "$kdir")" "$(board_arch "$board")" "$p" "$f" "${NTESTS[$board]}" \
    "$((SECONDS - start))"
  echo "$p $f" >"$RESULTS/$board"
}

# Two boards at a time: each qemu emulates one CPU, and CI has two cores.
# (One at a time with EVL_BOARD_SHELL, which is interactive.)
lanes=2
[ -n "${EVL_BOARD_SHELL:-}" ] && lanes=1
for ((k = 0; k < ${#BOARDS[@]}; k += lanes)); do
  if [ "$lanes" -eq 1 ]; then
    run_board "${BOARDS[$k]}"
    continue
  fi
  for ((j = k; j < k + lanes && j < ${#BOARDS[@]}; j++)); do
    run_board "${BOARDS[$j]}" &
  done
  wait
done
PASSED=0
FAILED=0
for board in "${BOARDS[@]}"; do
  [ -f "$RESULTS/$board" ] || continue
  read -r p f <"$RESULTS/$board"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
done
rm -rf "$RESULTS"
printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
