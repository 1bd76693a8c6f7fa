// CorkedStream over a stream that records each write it is asked for: corked writes are
// gathered and go out with the first uncorked one, in order, as one write; the gathering
// limit sends early; nothing gathered passes straight through (partial writes included);
// a failed send reaches the writer that made it; completions never run inside the call.
#include "http/corked_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace permiso::http {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

/// A write-only stream that records what each async_write_some was given (at most
/// `max_per_write` bytes of it, to make partial writes) and can fail the next one.
class RecordingStream {
 public:
  using executor_type = asio::io_context::executor_type;

  explicit RecordingStream(asio::io_context& io, std::size_t max_per_write = std::numeric_limits<std::size_t>::max())
      : executor_(io.get_executor()), max_per_write_(max_per_write) {}

  executor_type get_executor() const noexcept { return executor_; }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& data) {
          error_code ec;
          std::size_t n = 0;
          if (fail_next) {
            fail_next = false;
            ec = asio::error::broken_pipe;
          } else {
            n = std::min(asio::buffer_size(data), max_per_write_);
            std::string chunk(n, '\0');
            asio::buffer_copy(asio::buffer(chunk), data);
            writes.push_back(std::move(chunk));
          }
          asio::post(executor_, [h = std::move(handler), ec, n]() mutable { std::move(h)(ec, n); });
        },
        token, buffers);
  }

  std::vector<std::string> writes;
  bool fail_next = false;

 private:
  executor_type executor_;
  std::size_t max_per_write_;
};

/// One write through the corked stream, run to completion: its error and the bytes it reported.
struct Written {
  error_code ec;
  std::size_t bytes = 0;
};

Written write(asio::io_context& io, CorkedStream<RecordingStream>& stream, const std::string& text) {
  Written out;
  bool done = false;
  asio::async_write(stream, asio::buffer(text), [&](error_code ec, std::size_t n) {
    out = {ec, n};
    done = true;
  });
  io.restart();
  io.run();
  EXPECT_TRUE(done);
  return out;
}

TEST(CorkedStream, CorkedWritesGoOutWithTheFirstUncorkedOneInOrderAsOneWrite) {
  asio::io_context io;
  CorkedStream<RecordingStream> stream(1024, io);
  stream.cork(true);
  EXPECT_EQ(write(io, stream, "a").bytes, 1U);
  EXPECT_EQ(write(io, stream, "bb").bytes, 2U);
  EXPECT_EQ(write(io, stream, "ccc").bytes, 3U);
  EXPECT_TRUE(stream.next_layer().writes.empty()) << "a corked write reached the stream below";
  EXPECT_EQ(stream.gathered_bytes(), 6U);

  stream.cork(false);
  const auto last = write(io, stream, "dddd");
  EXPECT_FALSE(last.ec);
  EXPECT_EQ(last.bytes, 4U);  // its own bytes: the gathered ones were reported already
  ASSERT_EQ(stream.next_layer().writes.size(), 1U);
  EXPECT_EQ(stream.next_layer().writes.front(), "abbcccdddd");
  EXPECT_EQ(stream.gathered_bytes(), 0U);
}

TEST(CorkedStream, NothingGatheredPassesStraightThroughPartialWritesIncluded) {
  asio::io_context io;
  CorkedStream<RecordingStream> stream(1024, io, 2);
  const auto out = write(io, stream, "hello");
  EXPECT_FALSE(out.ec);
  EXPECT_EQ(out.bytes, 5U);
  EXPECT_EQ(stream.next_layer().writes, (std::vector<std::string>{"he", "ll", "o"}));
}

TEST(CorkedStream, AWriteReachingTheLimitSendsWhatIsGatheredThoughCorked) {
  asio::io_context io;
  CorkedStream<RecordingStream> stream(8, io);
  stream.cork(true);
  write(io, stream, "12345");
  EXPECT_TRUE(stream.next_layer().writes.empty());
  write(io, stream, "6789");  // 9 bytes gathered: at the limit of 8, sent now
  ASSERT_EQ(stream.next_layer().writes.size(), 1U);
  EXPECT_EQ(stream.next_layer().writes.front(), "123456789");
  EXPECT_EQ(stream.gathered_bytes(), 0U);
  write(io, stream, "x");  // corked still: gathered again
  EXPECT_EQ(stream.next_layer().writes.size(), 1U);
}

TEST(CorkedStream, AFailedSendReachesTheWriterThatMadeItAndLetsGoOfTheBytes) {
  asio::io_context io;
  CorkedStream<RecordingStream> stream(1024, io);
  stream.cork(true);
  write(io, stream, "gathered");
  stream.cork(false);
  stream.next_layer().fail_next = true;
  const auto out = write(io, stream, "last");
  EXPECT_EQ(out.ec, asio::error::broken_pipe);
  EXPECT_EQ(out.bytes, 0U);
  EXPECT_EQ(stream.gathered_bytes(), 0U);
  EXPECT_TRUE(stream.next_layer().writes.empty());
}

TEST(CorkedStream, AGatheredWriteCompletesFromTheExecutorNeverInsideTheCall) {
  asio::io_context io;
  CorkedStream<RecordingStream> stream(1024, io);
  stream.cork(true);
  bool returned = false;
  bool completed_after_return = false;
  const std::string text = "frame";
  stream.async_write_some(asio::buffer(text), [&](error_code ec, std::size_t n) {
    completed_after_return = returned && !ec && n == text.size();
  });
  returned = true;
  io.run();
  EXPECT_TRUE(completed_after_return);
}

}  // namespace
}  // namespace permiso::http
