// The WebSocket stream hub: quotes reach only the symbols' subscribers, trade events only the
// connections of their own account, scopes gate what flows, and expired or revoked tokens
// close their connections.
#include "trading/handlers/stream.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace permiso::trading::handlers {
namespace {

/// A WebSocketPeer that records what the hub sends (the hub's transport is the server's).
/// Past `capacity` frames it is cut as a slow consumer, as the server's peer is.
class RecordingPeer final : public http::WebSocketPeer {
 public:
  explicit RecordingPeer(std::size_t capacity = SIZE_MAX) : capacity_(capacity) {}
  bool send(std::string text) override { return send_shared(std::make_shared<const std::string>(std::move(text))); }
  bool send_shared(std::shared_ptr<const std::string> text) override {
    std::lock_guard lock(mutex_);
    if (!open_) return false;
    if (sent_.size() >= capacity_) {
      open_ = false;
      slow_ = true;
      return false;
    }
    sent_.push_back(std::move(text));
    return true;
  }
  void close(std::uint16_t code, std::string reason) override {
    std::lock_guard lock(mutex_);
    open_ = false;
    close_code_ = code;
    close_reason_ = std::move(reason);
  }
  [[nodiscard]] bool is_open() const override {
    std::lock_guard lock(mutex_);
    return open_;
  }
  [[nodiscard]] bool cut_as_slow_consumer() const override {
    std::lock_guard lock(mutex_);
    return slow_;
  }
  [[nodiscard]] const std::string& request_id() const override { return id_; }

  std::vector<boost::json::object> messages_of(std::string_view type) const {
    std::lock_guard lock(mutex_);
    std::vector<boost::json::object> out;
    for (const auto& s : sent_) {
      auto v = boost::json::parse(*s).as_object();
      if (v.at("type").as_string() == type) out.push_back(v);
    }
    return out;
  }
  /// The last frame as queued: the hub's own allocation when it shared it.
  std::shared_ptr<const std::string> last_frame() const {
    std::lock_guard lock(mutex_);
    return sent_.empty() ? nullptr : sent_.back();
  }
  std::uint16_t close_code() const {
    std::lock_guard lock(mutex_);
    return close_code_;
  }
  std::string close_reason() const {
    std::lock_guard lock(mutex_);
    return close_reason_;
  }

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  bool open_ = true;
  bool slow_ = false;
  std::vector<std::shared_ptr<const std::string>> sent_;
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  std::string id_ = "rid";
};

std::vector<SymbolInfo> specs() {
  SymbolInfo eur;
  eur.name = "EURUSD";
  SymbolInfo gold;
  gold.name = "XAUUSD";
  gold.digits = 2;
  return {eur, gold};
}

class StreamHubTest : public ::testing::Test {
 protected:
  Instruments instruments_{specs()};
  StreamHub hub_{instruments_};
};

TEST_F(StreamHubTest, QuotesReachOnlyTheSymbolsSubscribers) {
  auto a = std::make_shared<RecordingPeer>();
  auto b = std::make_shared<RecordingPeer>();
  auto ha = hub_.add(a, 4'000'000'000, true, false, {});
  auto hb = hub_.add(b, 4'000'000'000, true, false, {});
  EXPECT_EQ(a->messages_of("welcome").size(), 1U);
  hub_.on_message(ha, R"({"action":"subscribe","symbols":["eurusd"]})");
  hub_.on_message(hb, R"({"action":"subscribe","symbols":["XAUUSD"]})");
  ASSERT_EQ(a->messages_of("subscribed").size(), 1U);
  EXPECT_EQ(a->messages_of("subscribed")[0].at("symbols").as_array()[0].as_string(), "EURUSD");
  hub_.on_tick("EURUSD", Tick{1000, 1.1, 1.1002, 0});
  hub_.on_tick("XAUUSD", Tick{1000, 2400.1, 2400.4, 0});
  hub_.on_tick("GBPUSD", Tick{1000, 1.3, 1.3001, 0});
  auto qa = a->messages_of("quote");
  auto qb = b->messages_of("quote");
  ASSERT_EQ(qa.size(), 1U);
  ASSERT_EQ(qb.size(), 1U);
  EXPECT_EQ(qa[0].at("quote").at("symbol").as_string(), "EURUSD");
  EXPECT_EQ(qb[0].at("quote").at("symbol").as_string(), "XAUUSD");
  hub_.on_message(ha, R"({"action":"unsubscribe","symbols":["EURUSD"]})");
  hub_.on_tick("EURUSD", Tick{2000, 1.1, 1.1002, 0});
  EXPECT_EQ(a->messages_of("quote").size(), 1U);
}

// With 1,000 subscribers a few hundred frames behind, a copy per subscriber was most of
// mt5-api's memory: each quote is rendered once and every subscriber queues that one frame.
TEST_F(StreamHubTest, AQuoteIsOneFrameSharedByAllItsSubscribers) {
  auto a = std::make_shared<RecordingPeer>();
  auto b = std::make_shared<RecordingPeer>();
  auto ha = hub_.add(a, 4'000'000'000, true, false, {});
  auto hb = hub_.add(b, 4'000'000'000, true, false, {});
  hub_.on_message(ha, R"({"action":"subscribe","symbols":["EURUSD"]})");
  hub_.on_message(hb, R"({"action":"subscribe","symbols":["EURUSD"]})");
  hub_.on_tick("EURUSD", Tick{1000, 1.1, 1.1002, 0});
  ASSERT_EQ(a->messages_of("quote").size(), 1U);
  ASSERT_EQ(b->messages_of("quote").size(), 1U);
  EXPECT_EQ(a->last_frame(), b->last_frame());
  EXPECT_EQ(hub_.messages_sent(), 6U);  // two welcomes, two "subscribed", the quote twice
}

TEST_F(StreamHubTest, BadMessagesAndMissingScopesAreAnsweredNotObeyed) {
  auto trades_only = std::make_shared<RecordingPeer>();
  auto h = hub_.add(trades_only, 4'000'000'000, false, true, {});
  hub_.on_message(h, R"({"action":"subscribe","symbols":["EURUSD"]})");
  hub_.on_message(h, "not json");
  hub_.on_message(h, R"({"action":"dance"})");
  hub_.on_message(h, R"({"action":"ping"})");
  const auto errors = trades_only->messages_of("error");
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_EQ(errors[0].at("error").as_string(), "insufficient_scope");
  EXPECT_EQ(trades_only->messages_of("pong").size(), 1U);
  hub_.on_tick("EURUSD", Tick{1000, 1.1, 1.1002, 0});
  EXPECT_TRUE(trades_only->messages_of("quote").empty());

  auto quotes = std::make_shared<RecordingPeer>();
  auto hq = hub_.add(quotes, 4'000'000'000, true, false, {});
  hub_.on_message(hq, R"({"action":"subscribe","symbols":["NOPE"]})");
  EXPECT_EQ(quotes->messages_of("error").at(0).at("error").as_string(), "invalid_symbol");
}

TEST_F(StreamHubTest, TradeEventsGoOnlyToTheirOwnAccount) {
  auto mine = std::make_shared<RecordingPeer>();
  auto theirs = std::make_shared<RecordingPeer>();
  auto market_only = std::make_shared<RecordingPeer>();
  auto hm = hub_.add(mine, 4'000'000'000, false, true, {});
  auto ht = hub_.add(theirs, 4'000'000'000, false, true, {});
  auto hq = hub_.add(market_only, 4'000'000'000, true, false, {});
  hub_.set_login(hm, 101);
  hub_.set_login(ht, 202);
  hub_.set_login(hq, 101);  // no trade:read: never receives trade events
  Changes c;
  Position p;
  p.ticket = 9;
  p.login = 101;
  p.symbol = "EURUSD";
  p.time_msc = 5;
  c.positions.push_back(p);
  Deal d;
  d.ticket = 10;
  d.login = 101;
  d.symbol = "EURUSD";
  c.deals.push_back(d);
  AccountInfo acc;
  acc.login = 101;
  c.accounts.push_back(acc);
  hub_.on_changes(c);
  const auto events = mine->messages_of("trade");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].at("event").as_string(), "opened");
  EXPECT_EQ(events[0].at("trade").at("id").to_number<std::uint64_t>(), 9U);
  EXPECT_EQ(mine->messages_of("deal").size(), 1U);
  EXPECT_EQ(mine->messages_of("account").size(), 1U);
  EXPECT_TRUE(theirs->messages_of("trade").empty());
  EXPECT_TRUE(theirs->messages_of("account").empty());
  EXPECT_TRUE(market_only->messages_of("trade").empty());

  c.positions[0].closed = true;
  hub_.on_changes(c);
  EXPECT_EQ(mine->messages_of("trade").back().at("event").as_string(), "closed");
  hub_.remove(hm);
  hub_.on_changes(c);
  EXPECT_EQ(mine->messages_of("trade").size(), 2U);
}

TEST_F(StreamHubTest, ExpiredAndRevokedTokensCloseTheirConnections) {
  auto expiring = std::make_shared<RecordingPeer>();
  auto revoked = std::make_shared<RecordingPeer>();
  auto fine = std::make_shared<RecordingPeer>();
  bool is_revoked = false;
  hub_.add(expiring, 1000, true, true, {});
  hub_.add(revoked, 5000, true, true, [&is_revoked] { return is_revoked; });
  hub_.add(fine, 5000, true, true, [] { return false; });
  hub_.sweep(999);
  EXPECT_TRUE(expiring->is_open());
  hub_.sweep(1000);
  EXPECT_FALSE(expiring->is_open());
  EXPECT_EQ(expiring->close_code(), 1008);
  EXPECT_EQ(expiring->close_reason(), "token expired");
  EXPECT_TRUE(revoked->is_open());
  is_revoked = true;
  hub_.sweep(1001);
  EXPECT_FALSE(revoked->is_open());
  EXPECT_EQ(revoked->close_reason(), "token revoked");
  EXPECT_TRUE(fine->is_open());
  hub_.sweep(1002);  // closed connections are forgotten
  EXPECT_EQ(hub_.connections(), 1U);
  hub_.close_all();
  EXPECT_FALSE(fine->is_open());
  EXPECT_EQ(fine->close_code(), 1001);
}

TEST_F(StreamHubTest, SlowConsumersAreCountedOnceAsTheyLeave) {
  auto slow = std::make_shared<RecordingPeer>(2);  // the welcome and the subscription answer
  auto fast = std::make_shared<RecordingPeer>();
  auto expiring = std::make_shared<RecordingPeer>();
  auto hs = hub_.add(slow, 4'000'000'000, true, false, {});
  auto hf = hub_.add(fast, 4'000'000'000, true, false, {});
  hub_.add(expiring, 1000, true, false, {});
  hub_.on_message(hs, R"({"action":"subscribe","symbols":["EURUSD"]})");
  hub_.on_message(hf, R"({"action":"subscribe","symbols":["EURUSD"]})");
  hub_.on_tick("EURUSD", Tick{1000, 1.1, 1.1002, 0});
  EXPECT_FALSE(slow->is_open());
  EXPECT_EQ(fast->messages_of("quote").size(), 1U);
  EXPECT_EQ(hub_.slow_consumers_dropped(), 0U);  // counted when it leaves the hub

  hub_.sweep(1000);  // forgets the cut one, closes the expired one
  EXPECT_EQ(hub_.slow_consumers_dropped(), 1U);
  hub_.remove(hs);  // its on_close arrives after the sweep
  hub_.sweep(1001);
  EXPECT_EQ(hub_.slow_consumers_dropped(), 1U);
  EXPECT_EQ(hub_.connections(), 1U);
  EXPECT_EQ(hub_.messages_dropped(), 1U);
}

}  // namespace
}  // namespace permiso::trading::handlers
