# Install rules and the Debian package (`make package`, CPack DEB): the clover binary, its man
# page (help2man, built with `all`), systemd units, /etc/default/clover (a conffile), the
# example deployment and the docs. docs/operations.md, "Install" and "Running with systemd".
include(GNUInstallDirs)

set(CLOVER_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(CLOVER_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)

install(TARGETS clover RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# clover(1): `clover --help` and `--version` through help2man, every subcommand's --help in a
# COMMANDS section (man_commands.sh) and FILES / SEE ALSO from clover.h2m.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  add_custom_command(
    OUTPUT ${CLOVER_PACKAGING_OUT}/clover.1.gz
    COMMAND ${CLOVER_PACKAGING_DIR}/man_commands.sh $<TARGET_FILE:clover>
            ${CLOVER_PACKAGING_OUT}/commands.h2m
    COMMAND ${HELP2MAN_PROGRAM} --no-info --section=1
            --include=${CLOVER_PACKAGING_DIR}/clover.h2m
            --include=${CLOVER_PACKAGING_OUT}/commands.h2m
            --output=${CLOVER_PACKAGING_OUT}/clover.1 $<TARGET_FILE:clover>
    COMMAND gzip -9nf ${CLOVER_PACKAGING_OUT}/clover.1
    DEPENDS clover ${CLOVER_PACKAGING_DIR}/clover.h2m ${CLOVER_PACKAGING_DIR}/man_commands.sh
    COMMENT "clover(1) with help2man"
    VERBATIM)
  add_custom_target(clover_man ALL DEPENDS ${CLOVER_PACKAGING_OUT}/clover.1.gz)
  install(FILES ${CLOVER_PACKAGING_OUT}/clover.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found (scripts/bootstrap.sh installs it): no clover(1) man page")
endif()

# systemd units, written at install time so that ExecStart names the binary where this install
# puts it (CPack: /usr/bin/clover; `cmake --install --prefix P`: P/bin/clover), each install
# into its own directory (a concurrent install elsewhere writes other units).
set(CLOVER_UNITS clover-node@.service clover-audit.service clover-witness.service)
install(CODE "
  set(CLOVER_UNIT_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(CLOVER_UNIT_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  file(READ \"${CLOVER_PACKAGING_DIR}/systemd/hardening.conf\" CLOVER_UNIT_HARDENING)
  string(STRIP \"\${CLOVER_UNIT_HARDENING}\" CLOVER_UNIT_HARDENING)
  string(MD5 clover_units_id \"\$ENV{DESTDIR}|\${CMAKE_INSTALL_PREFIX}\")
  set(clover_units_dir \"${CLOVER_PACKAGING_OUT}/systemd/\${clover_units_id}\")
  foreach(unit ${CLOVER_UNITS})
    configure_file(\"${CLOVER_PACKAGING_DIR}/systemd/\${unit}.in\"
                   \"\${clover_units_dir}/\${unit}\" @ONLY)
    file(INSTALL \"\${clover_units_dir}/\${unit}\"
         DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  endforeach()
")

# /etc/default/clover, a conffile (CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA below): under /etc for
# the prefix /usr (the package), under PREFIX/etc for any other (`cmake --install --prefix`).
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(clover_etc /etc)
  else()
    set(clover_etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
  endif()
  file(INSTALL \"${CLOVER_PACKAGING_DIR}/default/clover\" DESTINATION \"\${clover_etc}/default\")
")

install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/SECURITY.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${CLOVER_PACKAGING_DIR}/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's names: the upstream changelog as changelog.gz (CHANGELOG.md) and this packaging's
# own changelog.Debian.gz; the lintian overrides for what the maintainer scripts do on purpose.
# Set before its first use: the changelog's trailer names it (on a first
# configure a later set() left the trailer without a maintainer).
set(CLOVER_PACKAGE_MAINTAINER "Clover maintainers <maintainers@clover.example>"
    CACHE STRING "Maintainer field of the Debian package")
string(TIMESTAMP CLOVER_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${CLOVER_PACKAGING_OUT}/changelog.Debian
     "clover (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Clover ${PROJECT_VERSION}: see changelog.gz (CHANGELOG.md).\n\n"
     " -- ${CLOVER_PACKAGE_MAINTAINER}  ${CLOVER_PACKAGE_DATE}\n")
add_custom_command(
  OUTPUT ${CLOVER_PACKAGING_OUT}/changelog.gz ${CLOVER_PACKAGING_OUT}/changelog.Debian.gz
  COMMAND sh -c "gzip -9n <'${PROJECT_SOURCE_DIR}/CHANGELOG.md' >changelog.gz && gzip -9nf changelog.Debian -c >changelog.Debian.gz"
  DEPENDS ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${CLOVER_PACKAGING_OUT}/changelog.Debian
  WORKING_DIRECTORY ${CLOVER_PACKAGING_OUT}
  VERBATIM)
add_custom_target(clover_changelogs ALL
  DEPENDS ${CLOVER_PACKAGING_OUT}/changelog.gz ${CLOVER_PACKAGING_OUT}/changelog.Debian.gz)
install(FILES ${CLOVER_PACKAGING_OUT}/changelog.gz ${CLOVER_PACKAGING_OUT}/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CLOVER_PACKAGING_DIR}/lintian/clover DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "*.yaml")

# The Debian package.
file(WRITE ${CLOVER_PACKAGING_OUT}/debian/conffiles "/etc/default/clover\n")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME clover)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CLOVER_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "data-sovereignty gateway with a verifiable transparency log")
set(CPACK_PACKAGE_DESCRIPTION
    "Clover keeps each jurisdiction's personal data inside that jurisdiction,
puts a gateway in front of every access and transfer, and appends every
decision to a signed Merkle-tree transparency log that an independent auditor
verifies. This package holds the clover binary (gateway node, auditor, witness
and tools), systemd units and an example deployment.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)  # the prefix CPACK_SET_DESTDIR installs under
# /etc/default and the units' ExecStart follow the install-time prefix: install with DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser for postinst; the libraries come from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CLOVER_PACKAGING_OUT}/debian/conffiles
    ${CLOVER_PACKAGING_DIR}/debian/postinst
    ${CLOVER_PACKAGING_DIR}/debian/prerm
    ${CLOVER_PACKAGING_DIR}/debian/postrm)
include(CPack)
