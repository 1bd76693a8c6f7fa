// The in-memory revocation set consulted on every verification.
#include "resource/revocation_list.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace permiso::resource {
namespace {
using Kind = RevocationList::Kind;

TEST(RevocationList, RevokedTokenIsFoundAndOthersAreNot) {
  RevocationList list;
  list.add(Kind::Token, "jti-1", 2000);
  EXPECT_TRUE(list.is_revoked("jti-1", ""));
  EXPECT_FALSE(list.is_revoked("jti-2", ""));
}

TEST(RevocationList, EndedSessionRevokesEveryTokenOfIt) {
  RevocationList list;
  list.add(Kind::Session, "s-1", 2000);
  EXPECT_TRUE(list.is_revoked("any-jti", "s-1"));
  EXPECT_FALSE(list.is_revoked("any-jti", "s-2"));
  EXPECT_FALSE(list.is_revoked("any-jti", ""));
}

TEST(RevocationList, TokenAndSessionIdsDoNotCollide) {
  RevocationList list;
  list.add(Kind::Session, "x", 2000);
  EXPECT_FALSE(list.contains(Kind::Token, "x"));
}

TEST(RevocationList, PurgeDropsOnlyExpiredEntries) {
  RevocationList list;
  list.add(Kind::Token, "old", 100);
  list.add(Kind::Token, "new", 300);
  EXPECT_EQ(list.purge(200), 1U);
  EXPECT_FALSE(list.contains(Kind::Token, "old"));
  EXPECT_TRUE(list.contains(Kind::Token, "new"));
}

TEST(RevocationList, ReAddingKeepsTheLaterExpiry) {
  RevocationList list;
  list.add(Kind::Token, "t", 300);
  list.add(Kind::Token, "t", 100);
  EXPECT_EQ(list.purge(200), 0U);
  EXPECT_EQ(list.size(), 1U);
}

TEST(RevocationList, AddSaysWhetherTheEntryIsNewAndIgnoresEmptyIds) {
  RevocationList list;
  EXPECT_TRUE(list.add(Kind::Token, "t", 300));
  EXPECT_FALSE(list.add(Kind::Token, "t", 300));
  EXPECT_TRUE(list.add(Kind::Session, "t", 300));  // the other kind is another entry
  EXPECT_FALSE(list.add(Kind::Token, "", 300));
  EXPECT_FALSE(list.is_revoked("", ""));
  EXPECT_EQ(list.size(), 2U);
  EXPECT_EQ(list.purge(1000), 2U);
  EXPECT_EQ(list.size(), 0U);
  EXPECT_FALSE(list.is_revoked("t", "t"));
}

TEST(RevocationList, CursorOnlyMovesForward) {
  RevocationList list;
  list.advance_cursor(5);
  list.advance_cursor(3);
  EXPECT_EQ(list.cursor(), 5U);
}

TEST(RevocationList, StorageKeysRoundTrip) {
  Kind kind{};
  std::string id;
  ASSERT_TRUE(RevocationList::parse_storage_key(RevocationList::storage_key(Kind::Session, "abc"), kind, id));
  EXPECT_EQ(kind, Kind::Session);
  EXPECT_EQ(id, "abc");
  EXPECT_FALSE(RevocationList::parse_storage_key("zzz:abc", kind, id));
  EXPECT_FALSE(RevocationList::parse_storage_key("jti:", kind, id));
}

TEST(RevocationList, ConcurrentWritersAndReadersSeeEveryEntry) {
  RevocationList list;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&list, t] {
      for (int i = 0; i < 1000; ++i) {
        list.add(Kind::Token, std::to_string(t) + ":" + std::to_string(i), 1000);
        (void)list.is_revoked("nope", "nope");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(list.size(), 4000U);
}

}  // namespace
}  // namespace permiso::resource
