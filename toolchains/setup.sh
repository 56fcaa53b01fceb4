#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the benchmarks and the
# demo need. Idempotent: says what it installs, skips what is there. Exits
# non-zero with one clear line when the package archive cannot be reached.
set -euo pipefail

HOST_PKGS=(
  g++ bazel-bootstrap bazel-rules-java
  libcpputest-dev libmbedtls-dev
  g++-arm-linux-gnueabihf g++-aarch64-linux-gnu qemu-user
  clang-14 libclang-rt-14-dev
  libev-dev libuv1-dev valgrind
  socat gcovr
  procps git clang-format cppcheck clang-tidy
  qemu-system-arm cpio
  cmake make pkgconf
  mosquitto mosquitto-clients libmosquitto-dev
  influxdb influxdb-client
  iproute2 nftables python3 dnsmasq-base openssl
  python3-fusepy
)
FOREIGN_PKGS=(libcpputest-dev:armhf libcpputest-dev:arm64)
# Unpacked, not installed (see unpack_mbedtls).
UNPACKED_PKGS=(libmbedtls-dev:armhf libmbedtls-dev:arm64)
EVL_DEPS=/opt/evl-deps

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run as root"
  SUDO="sudo"
fi

NATIVE_ARCH="$(dpkg --print-architecture)"
# "pkg" means the native architecture (or arch-independent); "pkg:arch" that one.
installed() {
  local name="${1%%:*}" arch="$NATIVE_ARCH"
  case "$1" in *:*) arch="${1#*:}" ;; esac
  dpkg-query -W -f='${Status} ${Architecture}\n' "$name" 2>/dev/null \
    | grep -Eq "^install ok installed ($arch|all)\$"
}

need_arch=()
# (Read first: grep -q leaving the pipe early made pipefail see dpkg's
# SIGPIPE now and then, and add an architecture that was there.)
FOREIGN_ARCHS="$(dpkg --print-foreign-architectures)"
for arch in armhf arm64; do
  if ! grep -qx "$arch" <<<"$FOREIGN_ARCHS"; then
    need_arch+=("$arch")
  fi
done

missing=()
for p in "${HOST_PKGS[@]}" "${FOREIGN_PKGS[@]}"; do
  if installed "$p"; then :; else missing+=("$p"); fi
done

# Mbed TLS for the ARM builds (toolchains/mbedtls): the static archives of
# libmbedtls-dev:armhf and :arm64, of the host's version, unpacked under
# $EVL_DEPS/mbedtls-<arch>. Not installed: they depend on libc6:armhf and
# :arm64, Debian's multiarch C library, newer than the cross toolchain's
# (2.36-9+deb12u14 against 2.36-8cross1); once installed, the ARM loader
# under qemu-user finds it through /etc/ld.so.cache instead of the cross
# one, and ARM test binaries crash at start (seen: every simulate test).
unpack_mbedtls() {
  local version arch dir tmp
  version="$(dpkg-query -W -f='${Version}' "libmbedtls-dev:$NATIVE_ARCH" 2>/dev/null)" ||
    die "libmbedtls-dev is not installed"
  for arch in armhf arm64; do
    dir="$EVL_DEPS/mbedtls-$arch"
    [ -f "$dir/.version" ] && [ "$(cat "$dir/.version")" = "$version" ] && continue
    say "unpacking libmbedtls-dev:$arch $version into $dir"
    tmp="$(mktemp -d)"
    chmod 755 "$tmp"
    local got=0 attempt
    for attempt in 1 2 3; do
      if (cd "$tmp" && $SUDO apt-get download -o APT::Sandbox::User=root \
        "libmbedtls-dev:$arch=$version") >/tmp/setup-mbedtls.log 2>&1; then
        got=1; break
      fi
      say "downloading libmbedtls-dev:$arch failed (attempt $attempt); retrying"
      sleep 5
    done
    [ "$got" -eq 1 ] ||
      die "cannot download libmbedtls-dev:$arch=$version (log: /tmp/setup-mbedtls.log)"
    $SUDO rm -rf "$dir" && $SUDO mkdir -p "$dir" &&
      $SUDO dpkg-deb -x "$tmp"/libmbedtls-dev_*_"$arch".deb "$dir" &&
      printf '%s\n' "$version" | $SUDO tee "$dir/.version" >/dev/null ||
      die "cannot unpack libmbedtls-dev:$arch into $dir"
    rm -rf "$tmp"
  done
}

# The multiarch C library that breaks qemu-user (see unpack_mbedtls), if
# something else installed it: said, not removed.
for arch in armhf arm64; do
  if installed "libc6:$arch"; then
    printf 'setup: warning: libc6:%s is installed: ARM binaries under qemu-user may load it instead of the cross toolchain'"'"'s C library and crash at start (apt-get remove --allow-remove-essential libc6:%s and its dependents)\n' "$arch" "$arch" >&2
  fi
done

if [ "${#need_arch[@]}" -eq 0 ] && [ "${#missing[@]}" -eq 0 ]; then
  unpack_mbedtls
  say "all ${#HOST_PKGS[@]} host and ${#FOREIGN_PKGS[@]} multiarch packages present, ${#UNPACKED_PKGS[@]} unpacked; nothing to do"
  exit 0
fi

for arch in "${need_arch[@]}"; do
  say "adding dpkg architecture $arch"
  $SUDO dpkg --add-architecture "$arch"
done

say "updating the package lists"
update_ok=0
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq >/tmp/setup-apt-update.log 2>&1; then
    if ! grep -q '^E: ' /tmp/setup-apt-update.log; then update_ok=1; break; fi
  fi
  say "apt-get update attempt $attempt reported errors; retrying"
  sleep 5
done
if [ "$update_ok" -eq 0 ]; then
  # A partial failure (one index mid-sync) may still leave what we need
  # reachable; a total failure (no network) will fail the install below.
  sed -n 's/^\(E: .*\)/setup: warning: \1/p' /tmp/setup-apt-update.log >&2
fi

say "installing: ${missing[*]}"
# Servers in the list (mosquitto, influxd) are for tests that start their own
# instance on a free loopback port: their packages must not start a system
# instance. policy-rc.d tells invoke-rc.d "not now" (exit 101) during the
# install; it is removed afterwards, if we put it there.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY" && OWN_POLICY=1
fi
install_ok=1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/tmp/setup-apt-install.log 2>&1 || install_ok=0
[ "$OWN_POLICY" -eq 1 ] && $SUDO rm -f "$POLICY"
if [ "$install_ok" -eq 0 ]; then
  tail -n 20 /tmp/setup-apt-install.log >&2
  [ "$update_ok" -eq 0 ] && die "cannot reach Debian's package archive (apt-get update failed, see /tmp/setup-apt-update.log)"
  die "apt-get install failed for: ${missing[*]} (log: /tmp/setup-apt-install.log)"
fi
for p in "${missing[@]}"; do
  installed "$p" || die "package $p did not install"
done
unpack_mbedtls
say "done: installed ${#missing[@]} package(s)"
