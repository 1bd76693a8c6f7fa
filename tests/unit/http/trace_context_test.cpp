// W3C Trace Context level 1: which `traceparent` values are accepted (the spec's examples and
// its rules for invalid and future-version headers), and the ids and child header we make.
#include "http/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace permiso::http {
namespace {

constexpr std::string_view kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string str(const TraceId& id) {
  return {id.data(), id.size()};
}
std::string str(const SpanId& id) {
  return {id.data(), id.size()};
}

bool lower_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

TEST(Traceparent, SpecExampleIsParsed) {
  const auto p = parse_traceparent(kSpecExample);
  ASSERT_TRUE(p);
  EXPECT_EQ(str(p->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(str(p->parent_id), "00f067aa0ba902b7");
  EXPECT_EQ(p->flags, 0x01);
}

TEST(Traceparent, UnsampledFlagsAreRead) {
  const auto p = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->flags, 0x00);
}

TEST(Traceparent, UpperCaseHexIsRefused) {
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"));
  EXPECT_FALSE(parse_traceparent("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(Traceparent, AllZeroIdsAreRefused) {
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(Traceparent, MalformedHeadersAreRefused) {
  for (const std::string_view bad : {
           "", "00",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",    // short flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 has no more fields
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",  // trailing space
           " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // leading space
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // wrong separator
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   // misplaced dash
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",   // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",   // not hex
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff is invalid
           "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // one-digit version
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(Traceparent, FutureVersionIsReadForItsVersionZeroFields) {
  // §3.2.4: a higher version is parsed as version 00 when it is long enough and any further
  // field follows a '-'.
  const auto exact = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(exact);
  EXPECT_EQ(str(exact->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  const auto longer =
      parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds");
  ASSERT_TRUE(longer);
  EXPECT_EQ(str(longer->parent_id), "00f067aa0ba902b7");
  EXPECT_EQ(longer->flags, 0x09);
  EXPECT_FALSE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
  EXPECT_FALSE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
}

TEST(TraceContext, ContinuesTheCallersTraceWithANewSpan) {
  const auto ctx = continue_trace(kSpecExample);
  EXPECT_EQ(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx.parent_id_hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx.has_parent);
  EXPECT_TRUE(ctx.sampled());
  EXPECT_NE(ctx.span_id_hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(lower_hex(ctx.span_id_hex()));
  EXPECT_EQ(ctx.traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + std::string(ctx.span_id_hex()) + "-01");
}

TEST(TraceContext, ReservedFlagsAreNotSentOn) {
  const auto ctx = continue_trace("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-more");
  EXPECT_EQ(ctx.flags, 0x01);
  EXPECT_TRUE(ctx.traceparent().starts_with("00-"));  // we speak version 00
  EXPECT_TRUE(ctx.traceparent().ends_with("-01"));
  EXPECT_TRUE(continue_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").traceparent().ends_with("-00"));
}

TEST(TraceContext, InvalidOrMissingHeaderStartsANewTrace) {
  for (const auto& header : {std::optional<std::string_view>{},
                             std::optional<std::string_view>{"00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
                             std::optional<std::string_view>{"garbage"}}) {
    const auto ctx = continue_trace(header);
    EXPECT_FALSE(ctx.has_parent);
    EXPECT_EQ(ctx.parent_id_hex(), "");
    EXPECT_TRUE(ctx.sampled());
    EXPECT_NE(ctx.trace_id_hex(), "00000000000000000000000000000000");
    EXPECT_TRUE(lower_hex(ctx.trace_id_hex()));
    // What we send on is itself a valid header of the same trace.
    const auto sent = parse_traceparent(ctx.traceparent());
    ASSERT_TRUE(sent);
    EXPECT_EQ(str(sent->trace_id), ctx.trace_id_hex());
    EXPECT_EQ(str(sent->parent_id), ctx.span_id_hex());
  }
}

TEST(TraceContext, DefaultHasNoIds) {
  const TraceContext none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.trace_id_hex(), "");
  EXPECT_EQ(none.span_id_hex(), "");
  EXPECT_EQ(none.traceparent(), "");
  EXPECT_FALSE(start_trace().empty());
}

TEST(TraceContext, NewIdsDiffer) {
  std::set<std::string> traces;
  std::set<std::string> spans;
  for (int i = 0; i < 1000; ++i) {
    const auto ctx = start_trace();
    traces.emplace(ctx.trace_id_hex());
    spans.emplace(ctx.span_id_hex());
  }
  EXPECT_EQ(traces.size(), 1000u);
  EXPECT_EQ(spans.size(), 1000u);
}

}  // namespace
}  // namespace permiso::http
