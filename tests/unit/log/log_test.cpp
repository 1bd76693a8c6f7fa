// Logging: JSON lines stay valid JSON whatever the values hold, text lines stay one line.
#include "log/log.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace permiso::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  std::shared_ptr<spdlog::logger> logger(const std::string& format, const std::string& level = "INFO") {
    LogConfig cfg;
    cfg.format = format;
    cfg.level = level;
    auto l = make_logger(cfg, "test", {std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)});
    EXPECT_TRUE(l);
    return l ? *l : nullptr;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) v.push_back(line);
    return v;
  }
  std::ostringstream out_;
};

using namespace std::string_view_literals;
constexpr std::string_view kNasty = "quote \" backslash \\ newline \n tab \t nul \0 bell \x07 del \x7f end"sv;

TEST_F(LogTest, JsonLinesParseAndKeepTheMessageVerbatim) {
  auto l = logger("json");
  const std::string nasty(kNasty.data(), kNasty.size());
  ASSERT_NE(nasty.find('\0'), std::string::npos);
  l->info("hello {}", nasty);
  l->warn("second");
  const auto v = lines();
  ASSERT_EQ(v.size(), 2U);
  const auto first = boost::json::parse(v[0]).as_object();
  EXPECT_EQ(first.at("msg").as_string(), "hello " + nasty);
  EXPECT_EQ(first.at("level").as_string(), "INFO");
  EXPECT_EQ(first.at("service").as_string(), "permiso-auth");
  const std::string ts(first.at("ts").as_string());
  EXPECT_EQ(ts.size(), 24U) << ts;  // 2026-11-24T08:49:30.123Z
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(boost::json::parse(v[1]).as_object().at("level").as_string(), "WARNING");
}

TEST_F(LogTest, InvalidUtf8BecomesReplacementCharacters) {
  auto l = logger("json");
  l->info(std::string("bad \xff\xfe overlong \xc0\xaf surrogate \xed\xa0\x80 ok \xc3\xa9"));
  const auto v = lines();
  ASSERT_EQ(v.size(), 1U);
  const auto msg = boost::json::parse(v[0]).as_object().at("msg").as_string();
  EXPECT_NE(std::string_view(msg).find("ok \xc3\xa9"), std::string_view::npos);  // valid UTF-8 kept
  EXPECT_NE(std::string_view(msg).find("\xef\xbf\xbd"), std::string_view::npos);
  EXPECT_EQ(std::string_view(msg).find('\xff'), std::string_view::npos);
}

TEST_F(LogTest, JsonQuoteRoundTripsEveryAsciiByte) {
  std::string all;
  for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(boost::json::parse(json_quote(all)).as_string(), all);
}

TEST_F(LogTest, LevelFiltersAndIsCaseInsensitive) {
  auto l = logger("text", "warning");
  l->info("hidden");
  l->warn("shown");
  l->error("also shown");
  const auto v = lines();
  ASSERT_EQ(v.size(), 2U);
  EXPECT_NE(v[0].find("WARNING"), std::string::npos);
  EXPECT_NE(v[0].find("shown"), std::string::npos);
}

TEST_F(LogTest, TextLinesCannotBeSplitByNewlines) {
  auto l = logger("text");
  l->info("user=alice\n2026-01-01T00:00:00.000Z INFO    forged admin login");
  const auto v = lines();
  ASSERT_EQ(v.size(), 1U);
  EXPECT_NE(v[0].find("alice\\n2026"), std::string::npos);
}

TEST_F(LogTest, BadLevelOrFormatIsRefused) {
  LogConfig cfg;
  cfg.level = "LOUD";
  EXPECT_EQ(make_logger(cfg, "x").error(), LogError::BadLevel);
  cfg.level = "debug";
  cfg.format = "xml";
  EXPECT_EQ(make_logger(cfg, "x").error(), LogError::BadFormat);
  EXPECT_FALSE(to_string(LogError::BadFormat).empty());
}

AccessLogEntry sample() {
  AccessLogEntry e;
  e.method = "POST";
  e.path = "/api/v1/auth/token?client_secret=hunter2&x=1";
  e.route = "/api/v1/auth/token";
  e.status = 401;
  e.duration = std::chrono::microseconds(1234);
  e.bytes = 87;
  e.request_id = "rid-1";
  e.remote_ip = "203.0.113.9";
  e.user_agent = "evil\"agent\n{\"status\":200}";
  return e;
}

TEST_F(LogTest, AccessEntryInJsonIsStructuredAndDropsTheQuery) {
  auto l = logger("json");
  write_access(*l, sample());
  const auto v = lines();
  ASSERT_EQ(v.size(), 1U);
  EXPECT_EQ(v[0].find("hunter2"), std::string::npos);
  const auto o = boost::json::parse(v[0]).as_object();
  EXPECT_EQ(o.at("type").as_string(), "access");
  EXPECT_EQ(o.at("method").as_string(), "POST");
  EXPECT_EQ(o.at("path").as_string(), "/api/v1/auth/token");
  EXPECT_EQ(o.at("status").as_int64(), 401);
  EXPECT_DOUBLE_EQ(o.at("duration_ms").as_double(), 1.234);
  EXPECT_EQ(o.at("bytes").as_int64(), 87);
  EXPECT_EQ(o.at("request_id").as_string(), "rid-1");
  EXPECT_EQ(o.at("remote_ip").as_string(), "203.0.113.9");
  EXPECT_EQ(o.at("user_agent").as_string(), "evil\"agent\n{\"status\":200}");
  EXPECT_EQ(o.at("level").as_string(), "INFO");
  EXPECT_FALSE(o.contains("msg"));
}

TEST_F(LogTest, AccessEntryInTextIsOneLineWithoutTheQuery) {
  auto l = logger("text");
  write_access(*l, sample());
  const auto v = lines();
  ASSERT_EQ(v.size(), 1U);
  EXPECT_EQ(v[0].find("hunter2"), std::string::npos);
  EXPECT_NE(v[0].find("POST /api/v1/auth/token 401 1.234ms 87B ip=203.0.113.9 rid=rid-1"), std::string::npos) << v[0];
}

TEST_F(LogTest, AccessFormattersStandAlone) {
  const auto json = format_access_json(sample());
  const auto o = boost::json::parse(json).as_object();
  EXPECT_EQ(o.at("path").as_string(), "/api/v1/auth/token");
  EXPECT_EQ(format_access_text(sample()).find('?'), std::string::npos);
}

TEST_F(LogTest, FormatAccessLogPicksTheFormatAndKeepsHostileValuesInside) {
  AccessFields e = sample();
  e.request_id = "a\"b\\c\r\nd\x01";
  const auto json = format_access_log(e, true);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  const auto o = boost::json::parse(json).as_object();
  EXPECT_EQ(o.at("request_id").as_string(), "a\"b\\c\r\nd\x01");
  EXPECT_EQ(o.at("user_agent").as_string(), "evil\"agent\n{\"status\":200}");
  EXPECT_EQ(o.at("route").as_string(), "/api/v1/auth/token");
  const auto text = format_access_log(e, false);
  EXPECT_EQ(text, format_access_text(e));
  EXPECT_NE(text.rfind("POST /api/v1/auth/token 401 ", 0), std::string::npos) << text;
}

TEST_F(LogTest, AccessEntryCarriesTheTrace) {
  AccessLogEntry e = sample();
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.span_id = "53995c3f42cd8ad8";
  e.parent_span_id = "00f067aa0ba902b7";
  const auto o = boost::json::parse(format_access_json(e)).as_object();
  EXPECT_EQ(o.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(o.at("span_id").as_string(), "53995c3f42cd8ad8");
  EXPECT_EQ(o.at("parent_span_id").as_string(), "00f067aa0ba902b7");
  EXPECT_NE(format_access_text(e).find(" trace=4bf92f3577b34da6a3ce929d0e0e4736 "), std::string::npos);
  // A trace this server started has no parent span; an entry without a trace has no members.
  e.parent_span_id = {};
  EXPECT_FALSE(boost::json::parse(format_access_json(e)).as_object().contains("parent_span_id"));
  const auto bare = boost::json::parse(format_access_json(sample())).as_object();
  EXPECT_FALSE(bare.contains("trace_id"));
  EXPECT_FALSE(bare.contains("span_id"));
}

TEST_F(LogTest, AccessBelowTheLevelIsNotWritten) {
  auto l = logger("json", "ERROR");
  write_access(*l, sample());
  EXPECT_TRUE(out_.str().empty());
}

}  // namespace
}  // namespace permiso::log
