#!/usr/bin/env bash
# Size and memory report: .text/.data/.bss of the loop core and of each app
# for x86-64, armv7 (-Os, Thumb-2) and aarch64 (-Os), the size of each
# watcher slot per architecture, and the static RAM of a typical loop
# (64 io watchers, 128 timers). Usage: bash test/bench/size_report.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGETS=(//loop //test/bench:sizes //test/bench:io_timers_only //apps/heartbeat //apps/telemetry)
declare -A PREFIX=([x86_64]="" [armv7]="arm-linux-gnueabihf-" [aarch64]="aarch64-linux-gnu-")
declare -A FLAGS=([x86_64]="" [armv7]="--config=armv7" [aarch64]="--config=aarch64")

printf '| arch | part | .text | .data | .bss |\n|---|---|---|---|---|\n'
declare -A SLOTS KIND
for arch in x86_64 armv7 aarch64; do
  # shellcheck disable=SC2086
  bazel build -c opt ${FLAGS[$arch]} --config=size --platform_suffix="-size-$arch" \
    --copt=-g0 "${TARGETS[@]}" >/dev/null 2>&1 || { echo "build failed for $arch" >&2; exit 1; }
  out="bazel-out/k8-opt-size-$arch/bin"
  size="${PREFIX[$arch]}size"
  nm="${PREFIX[$arch]}nm"
  read -r t d b _ < <("$size" -t "$out/loop/libloop.a" | tail -n1)
  printf '| %s | loop core (libloop.a) | %s | %s | %s |\n' "$arch" "$t" "$d" "$b"
  for app in heartbeat telemetry; do
    read -r t d b _ < <("$size" "$out/apps/$app/$app" | tail -n1)
    printf '| %s | %s (whole binary) | %s | %s | %s |\n' "$arch" "$app" "$t" "$d" "$b"
  done
  # What a program with only io watchers and timers keeps of the loop:
  # every evl:: function in the linked binary (sections collected), each
  # address once (a constructor's or destructor's complete and base object
  # symbols are one body at one address).
  keep=0
  declare -A seen=()
  while read -r addr sz type name; do
    case "$type" in t | T | w | W) ;; *) continue ;; esac
    case "$name" in evl::*) ;; *) continue ;; esac
    [[ -n "${seen[$addr]:-}" ]] && continue
    seen[$addr]=1
    keep=$((keep + 16#$sz))
  done < <("${PREFIX[$arch]}nm" -C -S --size-sort "$out/test/bench/io_timers_only")
  unset seen
  printf '| %s | loop code kept by an io+timers program | %s | | |\n' "$arch" "$keep"
  KIND[$arch]="$("$size" "$out/loop/libloop.a" | awk 'NR > 1 {print $6, $1}')"
  SLOTS[$arch]="$("$nm" -S --size-sort "$out/test/bench/_objs/sizes/sizes.o" 2>/dev/null \
    || "$nm" -S "$out"/test/bench/_objs/sizes/*.o)"
done

printf '\n| .text per part of the loop (-Os) | x86_64 | armv7 | aarch64 |\n|---|---|---|---|\n'
for obj in $(printf '%s\n' "${KIND[armv7]}" | awk '{print $1}'); do
  row="| ${obj%%.*} |"
  for arch in x86_64 armv7 aarch64; do
    row="$row $(printf '%s\n' "${KIND[$arch]}" | awk -v o="$obj" '$1 == o {print $2}') |"
  done
  printf '%s\n' "$row"
done

printf '\n| sizeof | x86_64 | armv7 | aarch64 |\n|---|---|---|---|\n'
for sym in io_slot timer_slot heap_entry signal_slot wake_slot defer_slot loop_64_128; do
  row="| $sym |"
  for arch in x86_64 armv7 aarch64; do
    hex="$(printf '%s\n' "${SLOTS[$arch]}" | awk -v s="evl_sizeof_$sym" '$4 == s {print $2}')"
    row="$row $((16#${hex:-0})) |"
  done
  printf '%s\n' "$row"
done
