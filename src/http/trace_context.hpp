// W3C Trace Context (level 1) for the services and the client: the `traceparent` header parsed
// strictly, new trace and span ids, and the child header a caller sends on. Ids are fixed-size
// character arrays, so a request's trace context costs no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace permiso::http {

/// The `traceparent` header's name (lower case, as Request stores header names).
inline constexpr std::string_view kTraceparentHeader = "traceparent";
/// Version 00's whole header: "00-" 32 hex "-" 16 hex "-" 2 hex.
inline constexpr std::size_t kTraceparentSize = 55;
/// The only flag level 1 defines; the others are reserved and sent on as zero.
inline constexpr std::uint8_t kSampledFlag = 0x01;

using TraceId = std::array<char, 32>;  // lower-case hex, never all zero
using SpanId = std::array<char, 16>;   // lower-case hex, never all zero

/// What a valid `traceparent` carries.
struct Traceparent {
  TraceId trace_id{};
  SpanId parent_id{};
  std::uint8_t flags = 0;
};

/// Parses `traceparent` per W3C Trace Context level 1 §3.2: version 00 is exactly 55
/// characters; a later version (not "ff") is read for its version-00 fields when it is at
/// least that long and a '-' follows them. Hex must be lower case; an all-zero trace or parent
/// id, or any other deviation, is nullopt (the caller then starts a new trace).
[[nodiscard]] std::optional<Traceparent> parse_traceparent(std::string_view header);

/// One server span: the trace it belongs to, its own id, and the caller's span when the
/// request came with a valid `traceparent`. A default-constructed one (a Request a test built
/// by hand) has no ids: its views are empty.
struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_id{};  // meaningful only when has_parent
  std::uint8_t flags = kSampledFlag;
  bool has_parent = false;

  [[nodiscard]] bool empty() const { return trace_id[0] == '\0'; }
  [[nodiscard]] std::string_view trace_id_hex() const {
    return empty() ? std::string_view() : std::string_view(trace_id.data(), trace_id.size());
  }
  [[nodiscard]] std::string_view span_id_hex() const {
    return empty() ? std::string_view() : std::string_view(span_id.data(), span_id.size());
  }
  /// The caller's span id, or "" for a trace this server started.
  [[nodiscard]] std::string_view parent_id_hex() const {
    return has_parent ? std::string_view(parent_id.data(), parent_id.size()) : std::string_view();
  }
  [[nodiscard]] bool sampled() const { return (flags & kSampledFlag) != 0; }
  /// "00-<trace_id>-<span_id>-<flags>": the header for a call made on behalf of this span
  /// (its parent is this span); "" when empty().
  [[nodiscard]] std::string traceparent() const;
};

/// The context of a request that carried `header` (or none): the caller's trace with a new
/// span of ours when the header is valid, else a new sampled trace. Reserved flags are cleared.
[[nodiscard]] TraceContext continue_trace(std::optional<std::string_view> header);
/// A new sampled trace with a new span: for calls made outside any request.
[[nodiscard]] TraceContext start_trace();

/// Fills `out` with random lower-case hex digits from a per-thread generator seeded once from
/// the CSPRNG. Trace, span and request ids are correlation handles, not secrets: RAND_bytes per
/// request would cost about as much as hashing the bearer token.
void random_hex(std::span<char> out);

}  // namespace permiso::http
