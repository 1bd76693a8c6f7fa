// A refusal as its HTTP answer: the status and wire code of the error table, plus the
// headers some refusals carry (WWW-Authenticate, Retry-After).
#pragma once

#include "auth/errors.hpp"
#include "http/http.hpp"

namespace permiso::auth {

/// Maps a refusal to its HTTP answer: status, error code, WWW-Authenticate and Retry-After.
http::Response to_response(const http::Request& req, const Failure& f);

}  // namespace permiso::auth
