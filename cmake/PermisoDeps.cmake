# Every third-party dependency comes from Debian 12 packages (scripts/bootstrap installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url system)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
# The MT5 terminal bridge: ZeroMQ through Debian's cppzmq (header-only C++ over libzmq).
find_package(cppzmq REQUIRED)
# The FIX 4.4 session layer (src/trading/fix): Debian's QuickFIX, which ships neither a CMake
# package nor a pkg-config file. Debian builds it with OpenSSL: its SSL classes exist only when
# the headers see HAVE_SSL=1.
find_path(QUICKFIX_INCLUDE_DIR quickfix/Session.h)
find_library(QUICKFIX_LIBRARY quickfix)
if(NOT QUICKFIX_INCLUDE_DIR OR NOT QUICKFIX_LIBRARY)
  message(FATAL_ERROR "QuickFIX not found (quickfix/Session.h: ${QUICKFIX_INCLUDE_DIR}, libquickfix: "
                      "${QUICKFIX_LIBRARY}): install Debian's libquickfix-dev (scripts/bootstrap does)")
endif()
add_library(QuickFIX::QuickFIX UNKNOWN IMPORTED)
set_target_properties(QuickFIX::QuickFIX PROPERTIES IMPORTED_LOCATION "${QUICKFIX_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${QUICKFIX_INCLUDE_DIR}" INTERFACE_COMPILE_DEFINITIONS HAVE_SSL=1)
if(PERMISO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(PERMISO_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
