#!/usr/bin/env bash
# Makes the SDK tarballs (./run sdk): for x86_64, armv7 and aarch64, one
# evl-<version>-<arch>.tar.gz in $EVL_SDK_OUT (default sdk-out/) holding
#   include/evl/{loop,hal}/*.h     the public headers (#include "loop/loop.h")
#   lib/libevl.a                   loop + the Linux HAL, -O2, one archive
#   lib/pkgconfig/evl.pc           relocatable (prefix from pcfiledir)
#   lib/cmake/evl/evlConfig*.cmake the imported target evl::evl
#   share/evl/cmake/<arch>.cmake   CMake toolchain files for Debian's cross g++
#   share/doc/evl/                 README.md, LICENSE, CHANGELOG.md, and
#                                  mbedtls.copyright (the daemons link Mbed
#                                  TLS, Apache-2.0)
#   bin/ and lib/systemd/system/   the daemons and their units
# With --check it then builds the consumer projects of test/sdk/ from each
# unpacked tarball (CMake and plain make with pkg-config), runs them (ARM
# ones under qemu-user), compiles each public header alone with -Wpedantic
# -Werror, runs the daemons' --version, and prints "N passed, F failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

OUT="${EVL_SDK_OUT:-$PWD/sdk-out}"
VERSION="$(cat VERSION)"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1
die() { printf 'sdk: error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$OUT" || die "cannot create $OUT"
# loop/version.h must say what VERSION says.
HVERSION="$(sed -n 's/^#define EVL_VERSION_STRING "\(.*\)"$/\1/p' loop/version.h)"
[ "$HVERSION" = "$VERSION" ] || die "VERSION says $VERSION but loop/version.h says '$HVERSION'"
for part in MAJOR MINOR PATCH; do
  n="$(sed -n "s/^#define EVL_VERSION_$part \([0-9]*\)$/\1/p" loop/version.h)"
  case $part in MAJOR) want="${VERSION%%.*}" ;; MINOR) want="$(echo "$VERSION" | cut -d. -f2)" ;;
    PATCH) want="${VERSION##*.}" ;; esac
  [ "$n" = "$want" ] || die "loop/version.h: EVL_VERSION_$part is '$n', VERSION wants $want"
done

declare -A CONFIG=([x86_64]="" [armv7]="--config=armv7" [aarch64]="--config=aarch64")
declare -A SUFFIX=([x86_64]="" [armv7]="-armv7" [aarch64]="-aarch64")
declare -A PREFIX=([x86_64]="" [armv7]="arm-linux-gnueabihf-" [aarch64]="aarch64-linux-gnu-")
declare -A QEMU=([x86_64]="" [armv7]="qemu-arm -L /usr/arm-linux-gnueabihf" [aarch64]="qemu-aarch64 -L /usr/aarch64-linux-gnu")

make_one() {
  local arch="$1" bin stage
  # shellcheck disable=SC2086
  bazel build -c opt ${CONFIG[$arch]} //loop //hal //hal:sys_linux //apps/heartbeat //apps/telemetry \
    //apps/sensor_sim >"$OUT/build-$arch.log" 2>&1 || die "build for $arch failed ($OUT/build-$arch.log)"
  bin="bazel-out/k8-opt${SUFFIX[$arch]}/bin"
  stage="$OUT/evl-$VERSION-$arch"
  rm -rf "$stage"
  mkdir -p "$stage"/{include/evl/loop,include/evl/hal,lib/pkgconfig,lib/cmake/evl,share/doc/evl,share/evl/cmake,bin,lib/systemd/system}
  cp loop/*.h "$stage/include/evl/loop/"
  cp hal/*.h "$stage/include/evl/hal/"
  rm -f "$stage/include/evl/hal/sys_counters.h"  # the benchmark's build only
  # One archive from the libraries' objects (names do not collide).
  local objs
  objs="$(mktemp -d)"
  local a
  for a in "$bin"/loop/libloop.a "$bin"/hal/lib*.a; do
    case "$a" in *sys_linux_counted* | *sys_record*) continue ;; esac  # the same sys_linux.o, built otherwise
    (cd "$objs" && "${PREFIX[$arch]}ar" x "$OLDPWD/$a") || die "cannot unpack $a"
  done
  "${PREFIX[$arch]}ar" rcs "$stage/lib/libevl.a" "$objs"/*.o || die "cannot make libevl.a"
  rm -rf "$objs"
  sed "s/@VERSION@/$VERSION/" toolchains/sdk/evl.pc.in >"$stage/lib/pkgconfig/evl.pc"
  sed "s/@VERSION@/$VERSION/" toolchains/sdk/evlConfig.cmake.in >"$stage/lib/cmake/evl/evlConfig.cmake"
  sed "s/@VERSION@/$VERSION/" toolchains/sdk/evlConfigVersion.cmake.in \
    >"$stage/lib/cmake/evl/evlConfigVersion.cmake"
  cp toolchains/sdk/armv7.cmake toolchains/sdk/aarch64.cmake "$stage/share/evl/cmake/"
  cp README.md LICENSE CHANGELOG.md "$stage/share/doc/evl/"
  cp /usr/share/doc/libmbedtls-dev/copyright "$stage/share/doc/evl/mbedtls.copyright" ||
    die "no /usr/share/doc/libmbedtls-dev/copyright (toolchains/setup.sh)"
  cp "$bin/apps/heartbeat/heartbeat" "$bin/apps/telemetry/telemetry" \
    "$bin/apps/sensor_sim/sensor_sim" "$stage/bin/"
  # The units as a package installs them: the binaries in /usr/bin (the
  # Yocto recipe's ${bindir}, Buildroot's /usr/bin), not /usr/local/bin.
  local unit
  for unit in apps/heartbeat/heartbeat.service apps/telemetry/telemetry.service; do
    sed 's#/usr/local/bin/#/usr/bin/#g' "$unit" >"$stage/lib/systemd/system/${unit##*/}"
  done
  tar -C "$stage" -czf "$OUT/evl-$VERSION-$arch.tar.gz" . || die "cannot pack $arch"
  printf 'sdk: %s/evl-%s-%s.tar.gz\n' "$OUT" "$VERSION" "$arch"
}

# check ARCH: builds and runs both consumers against the unpacked tarball.
PASSED=0
FAILED=0
result() {
  if [ "$2" -eq 0 ]; then PASSED=$((PASSED + 1)); printf '  %s: ok\n' "$1"
  else FAILED=$((FAILED + 1)); printf '  %s: FAILED (see %s)\n' "$1" "$3"; fi
}
check_one() {
  local arch="$1" root work toolchain_arg=""
  root="$(mktemp -d /tmp/evl-sdk.XXXXXX)"
  tar -C "$root" -xzf "$OUT/evl-$VERSION-$arch.tar.gz" || die "cannot unpack $arch"
  work="$root/work"
  mkdir -p "$work"
  [ "$arch" != x86_64 ] && toolchain_arg="-DCMAKE_TOOLCHAIN_FILE=$root/share/evl/cmake/$arch.cmake"
  # shellcheck disable=SC2086
  (cmake -S test/sdk/cmake-consumer -B "$work/cmake" -DCMAKE_PREFIX_PATH="$root" $toolchain_arg &&
    cmake --build "$work/cmake" && ${QEMU[$arch]} "$work/cmake/consumer") >"$work/cmake.log" 2>&1
  result "$arch cmake consumer (find_package, evl::evl)" $? "$work/cmake.log"
  # shellcheck disable=SC2086
  (PKG_CONFIG_PATH="$root/lib/pkgconfig" make -C test/sdk/make-consumer OUT="$work/make" \
     CXX="${PREFIX[$arch]}g++" && ${QEMU[$arch]} "$work/make/consumer") >"$work/make.log" 2>&1
  result "$arch make consumer (pkg-config)" $? "$work/make.log"
  # Every public header compiles alone, as C++17 with -Wall -Wextra
  # -Wpedantic -Werror, from the SDK's include directory only.
  local h rc=0
  for h in "$root"/include/evl/loop/*.h "$root"/include/evl/hal/*.h; do
    printf '#include "%s"\n' "${h#"$root"/include/evl/}" >"$work/one.cc"
    "${PREFIX[$arch]}g++" -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only \
      -I"$root/include/evl" "$work/one.cc" >>"$work/headers.log" 2>&1 ||
      { rc=1; printf '%s\n' "$h" >>"$work/headers.log"; }
  done
  result "$arch headers alone, -std=c++17 -Wall -Wextra -Wpedantic -Werror" $rc "$work/headers.log"
  # The daemons in bin/ run and report the SDK's version.
  rc=0
  for d in heartbeat telemetry sensor_sim; do
    # shellcheck disable=SC2086
    got="$(${QEMU[$arch]} "$root/bin/$d" --version 2>>"$work/version.log")"
    printf '%s\n' "$got" >>"$work/version.log"
    [ "$got" = "$d evl $VERSION" ] || rc=1
  done
  result "$arch daemons' --version is $VERSION" $rc "$work/version.log"
  # The units start the binaries where the Yocto recipe and the Buildroot
  # package put them, and read as systemd reads them.
  rc=0
  mkdir -p "$work/units/apps/sdk"
  cp "$root"/lib/systemd/system/*.service "$work/units/apps/sdk/"
  python3 test/units/check_units.py "$work/units" >"$work/units.log" 2>&1 || rc=1
  for d in heartbeat telemetry; do
    grep -q "^ExecStart=/usr/bin/$d " "$root/lib/systemd/system/$d.service" || rc=1
    grep -q "\$(TARGET_DIR)/usr/bin/$d\$" toolchains/sdk/buildroot/evl.mk || rc=1
  done
  grep -q '${D}${bindir}/$' toolchains/sdk/yocto/evl_*.bb || rc=1
  result "$arch units start /usr/bin/heartbeat and /usr/bin/telemetry (as the recipes install them)" \
    $rc "$work/units.log"
  # Mbed TLS's notice ships, and the Yocto recipe's checksum of it holds.
  local sum
  sum="$(md5sum "$root/share/doc/evl/mbedtls.copyright" | cut -d' ' -f1)"
  grep -q "mbedtls.copyright;md5=$sum\"" toolchains/sdk/yocto/evl_*.bb &&
    grep -q 'mbedtls.copyright' toolchains/sdk/buildroot/evl.mk
  result "$arch Mbed TLS's copyright ships (recipe md5 $sum)" $? "$work/units.log"
  [ "$FAILED" -eq 0 ] && rm -rf "$root"
}

for arch in x86_64 armv7 aarch64; do make_one "$arch"; done
if [ "$CHECK" -eq 1 ]; then
  for arch in x86_64 armv7 aarch64; do check_one "$arch"; done
  # A build without TLS (--define=evl_tls=off): smaller daemons that refuse
  # a TLS URL at start (exit 2) with the reason.
  notls="$(mktemp)"
  if bazel build -c opt --define=evl_tls=off //apps/heartbeat >"$notls" 2>&1; then
    bazel-out/k8-opt/bin/apps/heartbeat/heartbeat --server mqtts://127.0.0.1:8883 >>"$notls" 2>&1
    rc=$?
    grep -q "this build has no TLS" "$notls" && [ "$rc" -eq 2 ]
    result "without TLS (--define=evl_tls=off): heartbeat $(stat -c %s \
      bazel-out/k8-opt/bin/apps/heartbeat/heartbeat) bytes, mqtts:// refused at start" $? "$notls"
  else
    result "without TLS (--define=evl_tls=off): builds" 1 "$notls"
  fi
  printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
fi
