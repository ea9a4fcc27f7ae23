# install.cmake - `cmake --install` and the CPack .deb (docs/operations.md,
# "Install").
#
#   PREFIX/bin/seatmapd
#   PREFIX/share/seatmap/{web,venues,schema,grafana,prometheus}
#   PREFIX/share/man/man8/seatmapd.8.gz
#   PREFIX/share/doc/seatmapd/{copyright,changelog.gz,operations.md}
#   PREFIX/etc/seatmapd/seatmapd.conf  (/etc/seatmapd for PREFIX /usr)
#   PREFIX/lib/systemd/system/seatmapd.service  (/lib/systemd/system for PREFIX /usr)
#   PREFIX/lib/sysusers.d/seatmapd.conf
#
# seatmapd finds its pages and venues from where its binary is
# (PREFIX/bin -> PREFIX/share/seatmap, config.c), so any prefix works.
include(GNUInstallDirs)

file(STRINGS ${CMAKE_SOURCE_DIR}/server/config.h SEATMAP_VERSION_LINE
     REGEX "^#define SM_VERSION \"[0-9.]+\"")
string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" SEATMAP_VERSION "${SEATMAP_VERSION_LINE}")

# Relative destinations follow `cmake --install --prefix DIR`; only the
# package layout (prefix /usr) puts the config in /etc and the unit in
# /lib/systemd/system, where Debian wants them.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SEATMAP_CONFDIR /etc/seatmapd)
  set(SEATMAP_UNITDIR_DEFAULT /lib/systemd/system)
else()
  set(SEATMAP_CONFDIR ${CMAKE_INSTALL_SYSCONFDIR}/seatmapd)
  set(SEATMAP_UNITDIR_DEFAULT lib/systemd/system)
endif()
set(SEATMAP_UNITDIR ${SEATMAP_UNITDIR_DEFAULT} CACHE STRING
    "Where the systemd unit goes (relative: under the prefix)")

set(SEATMAP_DATA ${CMAKE_INSTALL_DATADIR}/seatmap)
set(SEATMAP_DOC ${CMAKE_INSTALL_DATADIR}/doc/seatmapd)
set(SEATMAP_PKG ${CMAKE_BINARY_DIR}/pkg)

# Compressed as Debian wants them (-n: no name or time, reproducible).
file(MAKE_DIRECTORY ${SEATMAP_PKG})
add_custom_command(
  OUTPUT ${SEATMAP_PKG}/seatmapd.8.gz ${SEATMAP_PKG}/changelog.gz
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gz ${CMAKE_SOURCE_DIR}/deploy/seatmapd.8
          ${SEATMAP_PKG}/seatmapd.8.gz
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gz ${CMAKE_SOURCE_DIR}/deploy/debian/changelog
          ${SEATMAP_PKG}/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/deploy/seatmapd.8 ${CMAKE_SOURCE_DIR}/deploy/debian/changelog
  COMMENT "Compressing the man page and changelog"
  VERBATIM)
add_custom_target(seatmap_docs ALL DEPENDS ${SEATMAP_PKG}/seatmapd.8.gz
                                           ${SEATMAP_PKG}/changelog.gz)

install(TARGETS seatmapd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/ DESTINATION ${SEATMAP_DATA}/web)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/assets/venues/ DESTINATION ${SEATMAP_DATA}/venues
        FILES_MATCHING PATTERN "*.json")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schema/ DESTINATION ${SEATMAP_DATA}/schema
        FILES_MATCHING PATTERN "*.sql")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana/seatmap.json DESTINATION ${SEATMAP_DATA}/grafana)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/alerts.yml
        DESTINATION ${SEATMAP_DATA}/prometheus)
install(FILES ${SEATMAP_PKG}/seatmapd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/copyright ${SEATMAP_PKG}/changelog.gz
              ${CMAKE_SOURCE_DIR}/docs/operations.md
        DESTINATION ${SEATMAP_DOC})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/seatmapd.conf DESTINATION ${SEATMAP_CONFDIR})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/seatmapd.service DESTINATION ${SEATMAP_UNITDIR})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/seatmapd.sysusers
        DESTINATION lib/sysusers.d RENAME seatmapd.conf)

# ---- the .deb: cpack -G DEB in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package-check.sh) ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME seatmapd)
set(CPACK_PACKAGE_VERSION ${SEATMAP_VERSION})
set(CPACK_PACKAGE_VENDOR "seatmap")
set(CPACK_PACKAGE_CONTACT "seatmap maintainers <seatmap@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # seatmapd_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# lws loads its libuv glue at run time: no ELF dependency names it.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-uv")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
file(READ ${CMAKE_SOURCE_DIR}/deploy/debian/description SEATMAP_DESCRIPTION)
string(STRIP "${SEATMAP_DESCRIPTION}" SEATMAP_DESCRIPTION)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${SEATMAP_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
    ${CMAKE_SOURCE_DIR}/deploy/debian/postrm ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
