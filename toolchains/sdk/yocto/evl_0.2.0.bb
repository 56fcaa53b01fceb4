SUMMARY = "A fixed-allocation epoll event loop for embedded Linux, with its daemons"
# The daemons link Mbed TLS statically (Apache-2.0; Debian's notice).
LICENSE = "MIT & Apache-2.0"
LIC_FILES_CHKSUM = "file://share/doc/evl/LICENSE;md5=dc7f07837c6c8eb180aa1acb10481777 \
                    file://share/doc/evl/mbedtls.copyright;md5=fb6f26dcdd321cea865a538a56257a8c"

# The prebuilt SDK tarball of `./run sdk` for the machine's architecture.
EVL_ARCH = "${@'aarch64' if d.getVar('TARGET_ARCH') == 'aarch64' else 'armv7'}"
SRC_URI = "file://evl-${PV}-${EVL_ARCH}.tar.gz;subdir=evl"
S = "${WORKDIR}/evl"

inherit systemd
SYSTEMD_SERVICE:${PN} = "heartbeat.service telemetry.service"
SYSTEMD_AUTO_ENABLE = "disable"

do_install() {
    install -d ${D}${includedir} ${D}${libdir} ${D}${bindir} ${D}${systemd_system_unitdir}
    cp -r ${S}/include/evl ${D}${includedir}/
    install -m 0644 ${S}/lib/libevl.a ${D}${libdir}/
    install -d ${D}${libdir}/pkgconfig ${D}${libdir}/cmake/evl
    install -m 0644 ${S}/lib/pkgconfig/evl.pc ${D}${libdir}/pkgconfig/
    install -m 0644 ${S}/lib/cmake/evl/*.cmake ${D}${libdir}/cmake/evl/
    install -m 0755 ${S}/bin/heartbeat ${S}/bin/telemetry ${D}${bindir}/
    install -m 0644 ${S}/lib/systemd/system/*.service ${D}${systemd_system_unitdir}/
}

INSANE_SKIP:${PN} = "already-stripped"
FILES:${PN}-staticdev += "${libdir}/libevl.a"
