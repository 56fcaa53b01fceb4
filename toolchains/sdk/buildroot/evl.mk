################################################################################
#
# evl: installs the prebuilt SDK tarball made by `./run sdk` (one per
# architecture). Put evl-$(EVL_VERSION)-<arch>.tar.gz in EVL_SITE.
#
################################################################################

EVL_VERSION = 0.2.0
EVL_SOURCE = evl-$(EVL_VERSION)-$(if $(BR2_aarch64),aarch64,armv7).tar.gz
EVL_SITE = file://$(BR2_EXTERNAL_EVL_PATH)/dl
# The daemons link Mbed TLS statically (Apache-2.0).
EVL_LICENSE = MIT, Apache-2.0 (heartbeat, telemetry: Mbed TLS)
EVL_LICENSE_FILES = share/doc/evl/LICENSE share/doc/evl/mbedtls.copyright
EVL_INSTALL_STAGING = YES

define EVL_INSTALL_STAGING_CMDS
	cp -a $(@D)/include $(@D)/lib $(STAGING_DIR)/usr/
endef

define EVL_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/bin/heartbeat $(TARGET_DIR)/usr/bin/heartbeat
	$(INSTALL) -D -m 0755 $(@D)/bin/telemetry $(TARGET_DIR)/usr/bin/telemetry
	$(INSTALL) -D -m 0644 $(@D)/lib/systemd/system/heartbeat.service \
		$(TARGET_DIR)/usr/lib/systemd/system/heartbeat.service
	$(INSTALL) -D -m 0644 $(@D)/lib/systemd/system/telemetry.service \
		$(TARGET_DIR)/usr/lib/systemd/system/telemetry.service
endef

$(eval $(generic-package))
