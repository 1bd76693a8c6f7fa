// See startup.hpp.
#include "app/startup.hpp"

#include <filesystem>
#include <iostream>

namespace permiso::app {

void print_problems(const std::vector<config::ConfigProblem>& problems) {
  for (const auto& p : problems) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
}

void print_checked(const std::string& rendered, const std::vector<config::ConfigProblem>& problems) {
  std::cout << rendered;
  print_problems(problems);
  if (problems.empty()) std::cerr << "configuration is valid\n";
}

void ensure_private_dir(const std::string& path) {
  namespace fs = std::filesystem;
  // Failures surface where the directory is used (storage, key files), with their own error.
  std::error_code ec;
  fs::create_directories(path, ec);
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
}

bool start_logging(const log::LogConfig& config) {
  if (auto logged = log::init(config); !logged) {
    std::cerr << "config error: LOG_LEVEL/LOG_FORMAT: " << log::to_string(logged.error()) << "\n";
    return false;
  }
  return true;
}

}  // namespace permiso::app
