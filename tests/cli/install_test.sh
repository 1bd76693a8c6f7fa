#!/usr/bin/env bash
# The install story: `cmake --install` of the permiso-client component into a temp prefix,
# then two consumers that know only that prefix: examples/ through find_package(permiso-client)
# and a one-file program through pkg-config. Both are built and run.
# usage: install_test.sh <build dir> <source dir> <sanitize ON|OFF>
set -euo pipefail
build=$1 src=$2 sanitize=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/permiso-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" --component permiso-client
test -f "$prefix/include/permiso/auth_client.hpp"
libdir=$(dirname "$(find "$prefix" -name 'libpermiso-client.so' | head -1)")
test -n "$libdir" && test -e "$libdir/libpermiso-client.so"
test -f "$libdir/cmake/permiso-client/permiso-client-config.cmake"
test -f "$libdir/pkgconfig/permiso-client.pc"
# Nothing of the project's internals is installed beside the public header.
if find "$prefix/include" -type f | grep -v 'permiso/auth_client.hpp$'; then
  echo "unexpected installed headers" >&2; exit 1
fi

flags=""
if [ "$sanitize" = "ON" ]; then flags="-fsanitize=address,undefined -fno-omit-frame-pointer"; fi

# 1. CMake: examples/ configured against the prefix only.
cmake -S "$src/examples" -B "$work/examples" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$work/examples"
"$work/examples/service_to_service" --help
# It links the installed library, not the build tree's.
ldd "$work/examples/service_to_service" | grep -F "$libdir/libpermiso-client.so"

# 2. pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
test "$(pkg-config --modversion permiso-client)" = "0.1.0"
# shellcheck disable=SC2046
c++ -std=c++20 $flags $(pkg-config --cflags permiso-client) "$src/tests/cli/pkgconfig_consumer.cpp" \
    -o "$work/pkgconfig_consumer" $(pkg-config --libs permiso-client) -Wl,-rpath,"$libdir"
"$work/pkgconfig_consumer"
echo "install test: ok"
