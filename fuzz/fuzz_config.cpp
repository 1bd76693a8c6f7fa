// The configuration loader: any bytes as the operator's TOML file (PERMISO_CONFIG) over the
// development profile, for both services. A bad file must be a named problem, never a crash
// or an uncaught exception.
#include "config/config.hpp"
#include "config/gateway_config.hpp"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/permiso-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const permiso::config::EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "PERMISO_CONFIG") return path;
    if (name == "PERMISO_ENV") return "development";
    if (name == "FUZZ_VALUE") return "expanded";  // ${FUZZ_VALUE} in the file
    return std::nullopt;
  };
  (void)permiso::config::load_auth_config(env);
  (void)permiso::config::load_gateway_config(env);
  return 0;
}
