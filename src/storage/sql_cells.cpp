// See sql_cells.hpp.
#include "storage/sql_cells.hpp"

#include <charconv>

namespace permiso::storage {

std::string text(const detail::Row& row, std::size_t i) {
  return row.at(i).value_or(std::string{});
}

std::int64_t integer(const detail::Row& row, std::size_t i) {
  const auto& c = row.at(i);
  std::int64_t v = 0;
  if (c) std::from_chars(c->data(), c->data() + c->size(), v);
  return v;
}

std::optional<std::int64_t> opt_int(const detail::Row& row, std::size_t i) {
  if (!row.at(i)) return std::nullopt;
  return integer(row, i);
}

double real(const detail::Row& row, std::size_t i) {
  const auto& c = row.at(i);
  double v = 0;
  if (c) std::from_chars(c->data(), c->data() + c->size(), v);
  return v;
}

bool boolean(const detail::Row& row, std::size_t i) {
  const auto& c = row.at(i);
  return c && (*c == "1" || *c == "t" || *c == "true");
}

std::string placeholder(std::size_t n) {
  return "$" + std::to_string(n);
}

std::string placeholders(std::size_t rows, std::size_t cols, std::size_t first) {
  std::string s;
  s.reserve(rows * cols * 6);
  std::size_t n = first;
  for (std::size_t r = 0; r < rows; ++r) {
    s += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < cols; ++c) {
      if (c != 0) s += ", ";
      s += placeholder(n++);
    }
    s += ')';
  }
  return s;
}

}  // namespace permiso::storage
