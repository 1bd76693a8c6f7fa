// Errors as values at module boundaries: every module declares a closed
// `enum class` of failure reasons and returns `permiso::Result<T, Reason>`.
#pragma once

#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace permiso {

template <class T, class E>
using Result = boost::system::result<T, E>;

/// Thrown only when code calls `.value()` on a failed Result: a bug, not a data-path error.
class BadResultAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace permiso

/// Declare inside the namespace of a failure enum `E` that has
/// `std::string_view to_string(E)`, so `Result<T, E>::value()` can report it.
#define PERMISO_RESULT_ERROR(E)                                                                             \
  [[noreturn]] inline void throw_exception_from_error(E e, const boost::source_location&) {                 \
    throw ::permiso::BadResultAccess(std::string("unexpected error result: ") + std::string(to_string(e))); \
  }
