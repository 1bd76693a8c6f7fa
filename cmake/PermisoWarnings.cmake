# Warning and sanitizer flags applied to every Permiso target via permiso_options.
add_library(permiso_options INTERFACE)
target_compile_options(permiso_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(PERMISO_WERROR)
  target_compile_options(permiso_options INTERFACE -Werror)
endif()
if(PERMISO_SANITIZE)
  target_compile_options(permiso_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(permiso_options INTERFACE -fsanitize=address,undefined)
endif()
# Boost.Asio: no deprecated APIs.
target_compile_definitions(permiso_options INTERFACE BOOST_ASIO_NO_DEPRECATED)
