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
# The tsan build runs the concurrency-heavy tests under ThreadSanitizer (scripts/tsan). It cannot
# share a binary with ASan, so it is a build of its own.
if(PERMISO_TSAN)
  target_compile_options(permiso_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(permiso_options INTERFACE -fsanitize=thread)
  # Asio's fenced blocks are bare atomic_thread_fence calls, which TSan cannot model (GCC refuses
  # them under -Werror=tsan). Asio hands work between threads under its scheduler's mutex, which
  # TSan does see, so the fences add nothing it needs.
  target_compile_definitions(permiso_options INTERFACE BOOST_ASIO_DISABLE_FENCED_BLOCK)
endif()
# The fuzz build instruments every library for coverage, so libFuzzer is guided through our
# parsers and not only through the fuzz targets' own files.
if(PERMISO_FUZZ)
  target_compile_options(permiso_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
# Boost.Asio: no deprecated APIs.
target_compile_definitions(permiso_options INTERFACE BOOST_ASIO_NO_DEPRECATED)
