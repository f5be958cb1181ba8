################################################################################
#
# iot-jobs-agent: a prebuilt executable from this checkout's dist/ (npm run build)
#
################################################################################

IOT_JOBS_AGENT_VERSION = 0.1.0
# Nothing to download: the files come from the checkout this tree lives in.
IOT_JOBS_AGENT_SOURCE =
IOT_JOBS_AGENT_LICENSE = Apache-2.0
IOT_JOBS_AGENT_CHECKOUT = $(BR2_EXTERNAL_IOT_JOBS_AGENT_PATH)/..

ifeq ($(BR2_aarch64),y)
IOT_JOBS_AGENT_ARCH = linux-arm64
else ifeq ($(BR2_x86_64),y)
IOT_JOBS_AGENT_ARCH = linux-x64
endif
ifeq ($(BR2_arm),y)
# Bun has no 32-bit ARM build: the Node.js build (one bundled file), run by the target's nodejs.
# Node tells an ES module by the .mjs of its real path, hence the file in /usr/lib and the link.
IOT_JOBS_AGENT_BIN = iot-jobs-agent-node.mjs
IOT_JOBS_AGENT_DEPENDENCIES = nodejs
define IOT_JOBS_AGENT_INSTALL_PROGRAM
	$(INSTALL) -D -m 0755 $(IOT_JOBS_AGENT_CHECKOUT)/dist/$(IOT_JOBS_AGENT_BIN) $(TARGET_DIR)/usr/lib/iot-jobs-agent/iot-jobs-agent.mjs
	mkdir -p $(TARGET_DIR)/usr/bin
	ln -sf ../lib/iot-jobs-agent/iot-jobs-agent.mjs $(TARGET_DIR)/usr/bin/iot-jobs-agent
endef
else
ifeq ($(BR2_TOOLCHAIN_USES_MUSL),y)
IOT_JOBS_AGENT_BIN = iot-jobs-agent-$(IOT_JOBS_AGENT_ARCH)-musl
else
IOT_JOBS_AGENT_BIN = iot-jobs-agent-$(IOT_JOBS_AGENT_ARCH)
endif
define IOT_JOBS_AGENT_INSTALL_PROGRAM
	$(INSTALL) -D -m 0755 $(IOT_JOBS_AGENT_CHECKOUT)/dist/$(IOT_JOBS_AGENT_BIN) $(TARGET_DIR)/usr/bin/iot-jobs-agent
endef
endif

define IOT_JOBS_AGENT_INSTALL_TARGET_CMDS
	cd $(IOT_JOBS_AGENT_CHECKOUT)/dist && sha256sum -c $(IOT_JOBS_AGENT_BIN).sha256
	$(IOT_JOBS_AGENT_INSTALL_PROGRAM)
	$(INSTALL) -d -m 0700 $(TARGET_DIR)/etc/iot-jobs-agent $(TARGET_DIR)/etc/iot-jobs-agent/jobs $(TARGET_DIR)/var/lib/iot-jobs-agent
	$(INSTALL) -m 0600 $(IOT_JOBS_AGENT_CHECKOUT)/packaging/config/iot-jobs-agent.conf $(TARGET_DIR)/etc/iot-jobs-agent/iot-jobs-agent.conf
	$(INSTALL) -m 0700 $(IOT_JOBS_AGENT_CHECKOUT)/handlers/*.sh $(TARGET_DIR)/etc/iot-jobs-agent/jobs/
	chmod 0600 $(TARGET_DIR)/etc/iot-jobs-agent/jobs/_common.sh
	$(INSTALL) -D -m 0644 $(IOT_JOBS_AGENT_CHECKOUT)/packaging/logrotate/iot-jobs-agent $(TARGET_DIR)/etc/logrotate.d/iot-jobs-agent
endef

# Late in the boot: after the network and NTP (TLS needs a correct clock).
define IOT_JOBS_AGENT_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(IOT_JOBS_AGENT_CHECKOUT)/packaging/sysv/iot-jobs-agent $(TARGET_DIR)/etc/init.d/S95iot-jobs-agent
endef

define IOT_JOBS_AGENT_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(IOT_JOBS_AGENT_CHECKOUT)/packaging/systemd/iot-jobs-agent.service $(TARGET_DIR)/usr/lib/systemd/system/iot-jobs-agent.service
endef

# Stripping removes the embedded program and leaves a bare bun: keep the executable out of it.
BR2_STRIP_EXCLUDE_FILES += iot-jobs-agent

$(eval $(generic-package))
