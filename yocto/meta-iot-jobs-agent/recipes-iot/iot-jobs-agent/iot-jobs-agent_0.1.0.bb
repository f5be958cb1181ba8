SUMMARY = "AWS IoT Jobs agent: a drop-in for the AWS IoT Device Client's Jobs feature"
DESCRIPTION = "Takes jobs through the AWS IoT Jobs MQTT API, runs their steps with handler \
scripts, and reports the result. One prebuilt executable (Bun runtime + agent), never stripped; \
on 32-bit ARM the Node.js build run by the image's nodejs."
HOMEPAGE = "https://github.com/iot-jobs-agent/iot-jobs-agent"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${UNPACKDIR}/LICENSE;md5=5079781457bb6f7ecd1133e6e2d8b1c3"

# The executable for the machine's architecture and libc (built by `npm run build` into dist/).
IOT_JOBS_AGENT_LIBC = "${@'-musl' if d.getVar('TCLIBC') == 'musl' else ''}"
IOT_JOBS_AGENT_ARCH = "unsupported"
IOT_JOBS_AGENT_ARCH:aarch64 = "linux-arm64"
IOT_JOBS_AGENT_ARCH:x86-64 = "linux-x64"
IOT_JOBS_AGENT_BIN = "iot-jobs-agent-${IOT_JOBS_AGENT_ARCH}${IOT_JOBS_AGENT_LIBC}"
# 32-bit ARM (Bun has no build for it): the Node.js build, one bundled file run by meta-oe's nodejs.
IOT_JOBS_AGENT_NODE = "0"
IOT_JOBS_AGENT_NODE:arm = "1"
IOT_JOBS_AGENT_BIN:arm = "iot-jobs-agent-node.mjs"

SRC_URI = " \
    file://${IOT_JOBS_AGENT_BIN} \
    file://${IOT_JOBS_AGENT_BIN}.sha256 \
    file://LICENSE \
    file://handlers \
    file://iot-jobs-agent.conf \
    file://iot-jobs-agent.service \
    file://iot-jobs-agent.init \
    file://iot-jobs-agent.logrotate \
    file://run-ptest \
"
S = "${UNPACKDIR}"

# The Bun executables on 64-bit machines, the Node build on 32-bit ARM; anything else fails at parse time.
COMPATIBLE_HOST = "(aarch64|x86_64|arm).*-linux.*"

inherit bin_package systemd update-rc.d ptest

# Stripping removes the embedded program and leaves a bare bun: never strip.
INHIBIT_PACKAGE_STRIP = "1"
INHIBIT_PACKAGE_DEBUG_SPLIT = "1"
INHIBIT_SYSROOT_STRIP = "1"
INSANE_SKIP:${PN} += "already-stripped ldflags file-rdeps"

SYSTEMD_SERVICE:${PN} = "iot-jobs-agent.service"
SYSTEMD_AUTO_ENABLE = "enable"
INITSCRIPT_NAME = "iot-jobs-agent"
INITSCRIPT_PARAMS = "defaults 95 5"

do_install() {
    (cd ${UNPACKDIR} && sha256sum -c ${IOT_JOBS_AGENT_BIN}.sha256)
    install -d ${D}${bindir}
    if [ "${IOT_JOBS_AGENT_NODE}" = "1" ]; then
        # Node tells an ES module by the .mjs of its real path: the file in /usr/lib, the command a link.
        install -D -m 0755 ${UNPACKDIR}/${IOT_JOBS_AGENT_BIN} ${D}${nonarch_libdir}/iot-jobs-agent/iot-jobs-agent.mjs
        ln -sf ../lib/iot-jobs-agent/iot-jobs-agent.mjs ${D}${bindir}/iot-jobs-agent
    else
        install -m 0755 ${UNPACKDIR}/${IOT_JOBS_AGENT_BIN} ${D}${bindir}/iot-jobs-agent
    fi
    install -d -m 0700 ${D}${sysconfdir}/iot-jobs-agent ${D}${sysconfdir}/iot-jobs-agent/jobs
    install -m 0600 ${UNPACKDIR}/iot-jobs-agent.conf ${D}${sysconfdir}/iot-jobs-agent/iot-jobs-agent.conf
    for handler in ${UNPACKDIR}/handlers/*.sh; do
        install -m 0700 "$handler" ${D}${sysconfdir}/iot-jobs-agent/jobs/
    done
    chmod 0600 ${D}${sysconfdir}/iot-jobs-agent/jobs/_common.sh
    install -d -m 0700 ${D}${localstatedir}/lib/iot-jobs-agent
    install -D -m 0644 ${UNPACKDIR}/iot-jobs-agent.logrotate ${D}${sysconfdir}/logrotate.d/iot-jobs-agent
    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${UNPACKDIR}/iot-jobs-agent.service ${D}${systemd_system_unitdir}/iot-jobs-agent.service
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${UNPACKDIR}/iot-jobs-agent.init ${D}${sysconfdir}/init.d/iot-jobs-agent
    fi
}

# The ptest class installs files/run-ptest into ${PTEST_PATH}.
CONFFILES:${PN} = "${sysconfdir}/iot-jobs-agent/iot-jobs-agent.conf"
FILES:${PN} += "${sysconfdir}/iot-jobs-agent ${sysconfdir}/logrotate.d ${localstatedir}/lib/iot-jobs-agent ${systemd_system_unitdir}"
FILES:${PN}:append:arm = " ${nonarch_libdir}/iot-jobs-agent"
RDEPENDS:${PN} += "${@'libstdc++ libgcc' if d.getVar('TCLIBC') == 'musl' and d.getVar('IOT_JOBS_AGENT_NODE') != '1' else ''}"
# The Node build runs on the image's Node.js (meta-openembedded/meta-oe, version 20 or later).
RDEPENDS:${PN}:append:arm = " nodejs"
RDEPENDS:${PN}-ptest += "${PN}"
