# Warning and sanitizer flags applied to every Permiso target via permiso_options.
add_library(permiso_options INTERFACE)
target_compile_options(permiso_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
# GCC 12 reports std::string concatenation as overlapping memcpy at -O3 (GCC bug 105329):
# a false positive in libstdc++ itself, so the check is off rather than our code contorted.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(permiso_options INTERFACE -Wno-restrict)
endif()
if(PERMISO_WERROR)
  target_compile_options(permiso_options INTERFACE -Werror)
endif()
if(PERMISO_SANITIZE)
  target_compile_options(permiso_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(permiso_options INTERFACE -fsanitize=address,undefined)
endif()
# The fuzz build instruments every library for coverage, so libFuzzer is guided through our
# parsers and not only through the fuzz targets' own files.
if(PERMISO_FUZZ)
  target_compile_options(permiso_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
# Boost.Asio: no deprecated APIs.
target_compile_definitions(permiso_options INTERFACE BOOST_ASIO_NO_DEPRECATED)
