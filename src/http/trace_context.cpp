// See trace_context.hpp.
#include "http/trace_context.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace permiso::http {
namespace {

constexpr char kHex[] = "0123456789abcdef";

/// The value of a lower-case hex digit, or -1 (upper case is invalid in Trace Context).
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return hex_value(c) >= 0; });
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

template <std::size_t N>
std::array<char, N> to_array(std::string_view s) {
  std::array<char, N> out{};
  std::copy_n(s.begin(), N, out.begin());
  return out;
}

std::mt19937_64& generator() {
  thread_local std::mt19937_64 g = [] {
    std::array<std::uint32_t, 8> seed{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof seed) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return g;
}

/// Random hex that is not all zero (a zero id is invalid; 2^-64 odds, but cheap to rule out).
template <std::size_t N>
std::array<char, N> random_id() {
  std::array<char, N> out{};
  do {
    random_hex(out);
  } while (all_zero({out.data(), out.size()}));
  return out;
}

}  // namespace

void random_hex(std::span<char> out) {
  auto& g = generator();
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % 16 == 0) bits = g();
    out[i] = kHex[bits & 0xFU];
    bits >>= 4;
  }
}

std::optional<Traceparent> parse_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" trace-flags (§3.2.2)
  if (h.size() < kTraceparentSize) return std::nullopt;
  const auto version = h.substr(0, 2);
  if (!lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00") {
    if (h.size() != kTraceparentSize) return std::nullopt;
  } else if (h.size() > kTraceparentSize && h[kTraceparentSize] != '-') {
    // A later version may append fields, always after a '-' (§3.2.4).
    return std::nullopt;
  }
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const auto trace_id = h.substr(3, 32);
  const auto parent_id = h.substr(36, 16);
  const auto flags = h.substr(53, 2);
  if (!lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags)) return std::nullopt;
  if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
  Traceparent out;
  out.trace_id = to_array<32>(trace_id);
  out.parent_id = to_array<16>(parent_id);
  out.flags = static_cast<std::uint8_t>(hex_value(flags[0]) * 16 + hex_value(flags[1]));
  return out;
}

std::string TraceContext::traceparent() const {
  if (empty()) return {};
  std::string out;
  out.reserve(kTraceparentSize);
  out += "00-";
  out.append(trace_id.data(), trace_id.size());
  out += '-';
  out.append(span_id.data(), span_id.size());
  out += '-';
  out += kHex[(flags >> 4) & 0xFU];
  out += kHex[flags & 0xFU];
  return out;
}

TraceContext continue_trace(std::optional<std::string_view> header) {
  const auto parsed = header ? parse_traceparent(*header) : std::nullopt;
  if (!parsed) return start_trace();
  TraceContext ctx;
  ctx.trace_id = parsed->trace_id;
  ctx.parent_id = parsed->parent_id;
  ctx.has_parent = true;
  // Level 1 defines only the sampled flag; the reserved ones are sent on as zero (§3.2.2.5).
  ctx.flags = parsed->flags & kSampledFlag;
  ctx.span_id = random_id<16>();
  return ctx;
}

TraceContext start_trace() {
  TraceContext ctx;
  ctx.trace_id = random_id<32>();
  ctx.span_id = random_id<16>();
  ctx.flags = kSampledFlag;
  return ctx;
}

}  // namespace permiso::http
