# Install rules and the Debian package (`make package`: cpack -G DEB). The
# package puts the plugin in /usr/lib/mqchat, mqchat and mqchat-push in
# /usr/bin, an all-commented Mosquitto snippet in /etc/mosquitto/conf.d, the
# example push bridge config in /etc/mqchat (both conffiles), the push
# bridge's systemd unit and the docs. Library dependencies come from
# dpkg-shlibdeps; the broker and Redis are named here.
set(MQC_VERSION "0.1.0" CACHE STRING "mqchat package version")

install(TARGETS mqchat_plugin LIBRARY DESTINATION lib/mqchat)
install(TARGETS mqchat mqchat-push RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/config/mqchat.conf.snippet
        DESTINATION /etc/mosquitto/conf.d RENAME mqchat.conf)
install(FILES ${CMAKE_SOURCE_DIR}/config/mqchat-push.conf.example
        DESTINATION /etc/mqchat RENAME mqchat-push.conf)
install(FILES ${CMAKE_SOURCE_DIR}/config/mqchat-push.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/config/mosquitto.conf.example
        ${CMAKE_SOURCE_DIR}/config/grafana-dashboard.json
        DESTINATION share/doc/mqchat OPTIONAL)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/mqchat FILES_MATCHING
        PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mqchat)
set(CPACK_PACKAGE_VERSION ${MQC_VERSION})
set(CPACK_PACKAGE_CONTACT "mqchat maintainers <mqchat@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "chat server as a Mosquitto plugin, with Redis storage")
set(CPACK_PACKAGE_DESCRIPTION "mqchat turns Mosquitto 2.0 into a chat backend: a plugin \
for users, conversations, durable messages in Redis 7, presence and sync; mqchat (admin tool \
and terminal client) and mqchat-push (APNs and FCM bridge).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The plugin's mosquitto_* symbols come from the broker binary, not a library.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "mosquitto (>= 2.0)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server (>= 5:7.0), mosquitto-clients")
set(MQC_CONFFILES ${CMAKE_BINARY_DIR}/package/conffiles)
file(WRITE ${MQC_CONFFILES} "/etc/mosquitto/conf.d/mqchat.conf\n/etc/mqchat/mqchat-push.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${MQC_CONFFILES})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
