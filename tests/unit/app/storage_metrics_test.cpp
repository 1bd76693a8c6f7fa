// permiso_storage_seconds{op}: the timing decorator around a real SQLite storage observes
// each call under its own operation's name, failures included, and only the operations used.
#include "app/storage_metrics.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>

namespace permiso::app {
namespace {

namespace fs = std::filesystem;

class StorageMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-storage-metrics-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    auto opened = storage::open_storage("sqlite://" + (dir_ / "auth.db").string());
    ASSERT_TRUE(opened) << opened.error().message;
    storage_ = timed_storage(std::move(*opened), metrics_);
  }
  void TearDown() override {
    storage_.reset();
    fs::remove_all(dir_);
  }

  [[nodiscard]] std::string scrape() const { return metrics_.render(); }

  fs::path dir_;
  http::Registry metrics_;
  std::unique_ptr<storage::Storage> storage_;
};

TEST_F(StorageMetricsTest, EachCallIsObservedUnderItsOperation) {
  ASSERT_TRUE(storage_->put_setting("greeting", "hello"));
  ASSERT_TRUE(storage_->get_setting("greeting"));
  ASSERT_TRUE(storage_->get_setting("greeting"));
  const auto text = scrape();
  EXPECT_NE(text.find("# TYPE permiso_storage_seconds histogram"), std::string::npos) << text;
  EXPECT_NE(text.find("permiso_storage_seconds_count{op=\"put_setting\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("permiso_storage_seconds_count{op=\"get_setting\"} 2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("op=\"append_audit\""), std::string::npos) << "an operation never called has no series";
}

TEST_F(StorageMetricsTest, AFailedCallIsObservedToo) {
  const auto missing = storage_->get_client("no-such-client");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, storage::StorageError::NotFound);
  EXPECT_NE(scrape().find("permiso_storage_seconds_count{op=\"get_client\"} 1\n"), std::string::npos) << scrape();
}

TEST_F(StorageMetricsTest, TheDecoratorAnswersAsTheStorageItWraps) {
  EXPECT_EQ(storage_->backend(), "sqlite");
  ASSERT_TRUE(storage_->put_setting_if_absent("k", "first"));
  const auto kept = storage_->put_setting_if_absent("k", "second");
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, "first");
}

TEST(StorageOpNames, EveryOperationHasItsOwnSnakeCaseName) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < storage::kStorageOpCount; ++i) {
    const std::string name(storage::to_string(static_cast<storage::StorageOp>(i)));
    EXPECT_FALSE(name.empty()) << "op " << i;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
  }
  EXPECT_EQ(storage::to_string(storage::StorageOp::AppendAudit), "append_audit");
  EXPECT_EQ(storage::to_string(storage::StorageOp::PutSettingIfAbsent), "put_setting_if_absent");
}

}  // namespace
}  // namespace permiso::app
