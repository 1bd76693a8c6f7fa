// WebSocket fan-out client in C++: the same command line and output as ws_fanout.py, for the
// subscriber counts where the Python client cannot keep up (it saturates a core near 1,000).
// N subscribers to mt5-api's quote stream (GET /api/v1/stream) on one thread and one
// io_context, each subscribed to every symbol its welcome message lists; counts the quote
// messages delivered during the measured window after a warm-up. Prints one line:
//   RESULT subscribers=N quotes=Q quotes_per_s=R per_subscriber_per_s=S min_subscriber_per_s=M closed=C
//          client_cpu_pct=P window_s=W
// (the window is measured: on a loaded machine the client may wake up later than asked).
// Messages are counted by a substring test, not parsed, so the client stays cheap.
// With SERVER_PID, also the server's CPU over the same window, per delivered quote:
//   CPU pid=P user_us_per_quote=U sys_us_per_quote=S total_us_per_quote=T
// Usage: ws_fanout_client URL TOKENS(comma list, rotated) N SECONDS [WARMUP_SECONDS [SERVER_PID]]
// URL is ws://host:port/path, or wss://… through a TLS front door (nginx) with WS_FANOUT_CA naming
// the PEM file of the CA that signed its certificate: the peer is verified, name or address.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kQuoteMarker = R"("type":"quote")";
constexpr auto kConnectDeadline = std::chrono::seconds(60);  // as ws_fanout.py: all connected or fail
constexpr auto kReadyPoll = std::chrono::milliseconds(50);

struct Options {
  std::string host;
  std::string port;
  std::string target;
  tcp::resolver::results_type endpoints;
  bool tls = false;     // wss://
  std::string ca_file;  // WS_FANOUT_CA, for wss://
  std::vector<std::string> tokens;
  std::size_t subscribers = 0;
  double seconds = 0;
  double warmup = 1.0;
  long server_pid = -1;  // none
};

/// What the subscribers share with main (one thread: no synchronisation).
struct State {
  std::vector<std::uint64_t> counts;
  std::size_t ready = 0;
  std::size_t closed = 0;
  bool measuring = false;
  bool done = false;
  std::exception_ptr failure;  // the first subscriber that could not connect or subscribe
};

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  for (std::size_t start = 0;;) {
    auto end = text.find(sep, start);
    out.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

/// ws://host:port/path straight to mt5-api, or wss://host:port/path through a TLS front door.
Options parse_options(int argc, char** argv) {
  if (argc < 5) throw std::invalid_argument("usage: ws_fanout_client URL TOKENS N SECONDS [WARMUP [SERVER_PID]]");
  Options o;
  std::string_view url = argv[1];
  if (url.starts_with("wss://")) {
    o.tls = true;
    const char* ca = std::getenv("WS_FANOUT_CA");
    if (ca == nullptr || *ca == '\0') throw std::invalid_argument("wss:// needs WS_FANOUT_CA, the CA's PEM file");
    o.ca_file = ca;
    url.remove_prefix(6);
  } else if (url.starts_with("ws://")) {
    url.remove_prefix(5);
  } else {
    throw std::invalid_argument("URL must start with ws:// or wss://");
  }
  const auto slash = url.find('/');
  const auto authority = url.substr(0, slash);
  o.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("URL needs a port");
  o.host = std::string(authority.substr(0, colon));
  o.port = std::string(authority.substr(colon + 1));
  o.tokens = split(argv[2], ',');
  o.subscribers = std::stoul(argv[3]);
  o.seconds = std::stod(argv[4]);
  if (argc > 5) o.warmup = std::stod(argv[5]);
  if (argc > 6) o.server_pid = std::stol(argv[6]);
  if (o.subscribers == 0) throw std::invalid_argument("N must be at least 1");
  return o;
}

/// The subscribe request for every symbol the welcome message offers; throws on anything else.
std::string subscribe_request(std::string_view welcome_text) {
  const auto welcome = boost::json::parse(welcome_text).as_object();
  const auto* type = welcome.if_contains("type");
  const auto* symbols = welcome.if_contains("available_symbols");
  if (type == nullptr || *type != "welcome" || symbols == nullptr || !symbols->is_array() ||
      symbols->as_array().empty()) {
    throw std::runtime_error("unexpected first message: " + std::string(welcome_text));
  }
  return boost::json::serialize(boost::json::object{{"action", "subscribe"}, {"symbols", *symbols}});
}

using PlainSocket = websocket::stream<beast::tcp_stream>;
using TlsSocket = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

asio::awaitable<void> secure(PlainSocket& /*ws*/, const Options& /*opt*/) {
  co_return;
}

/// The TLS handshake, the certificate checked against the CA and the URL's host.
asio::awaitable<void> secure(TlsSocket& ws, const Options& opt) {
  auto& tls = ws.next_layer();
  tls.set_verify_callback(asio::ssl::host_name_verification(opt.host));
  boost::system::error_code not_an_address;
  asio::ip::make_address(opt.host, not_an_address);
  // SSL_set_tlsext_host_name, spelt out: the macro's C cast trips -Wold-style-cast.
  if (not_an_address && SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                 const_cast<char*>(opt.host.c_str())) != 1) {
    throw std::runtime_error("cannot set the TLS server name");
  }
  co_await tls.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
}

/// Connects with subscriber `index`'s token and subscribes to every symbol the welcome offers.
template <class Socket>
asio::awaitable<void> open_subscription(Socket& ws, const Options& opt, std::size_t index) {
  co_await beast::get_lowest_layer(ws).async_connect(opt.endpoints, asio::use_awaitable);
  co_await secure(ws, opt);
  beast::get_lowest_layer(ws).expires_never();  // the WebSocket's own timeouts from here on
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.set_option(
      websocket::stream_base::decorator([token = opt.tokens[index % opt.tokens.size()]](websocket::request_type& req) {
        req.set(beast::http::field::authorization, "Bearer " + token);
      }));
  co_await ws.async_handshake(opt.host + ":" + opt.port, opt.target, asio::use_awaitable);
  beast::flat_buffer welcome;
  co_await ws.async_read(welcome, asio::use_awaitable);
  const auto request = subscribe_request(beast::buffers_to_string(welcome.data()));
  ws.text(true);
  co_await ws.async_write(asio::buffer(request), asio::use_awaitable);
}

/// `make(executor)` opens the socket: plain, or over TLS with the client's context.
template <class Make>
asio::awaitable<void> subscriber(const Options& opt, std::size_t index, State& state, Make make) {
  auto ws = make(co_await asio::this_coro::executor);
  co_await open_subscription(ws, opt, index);
  ++state.ready;
  // The hot loop: one message per read, counted by a substring test on its bytes in place.
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (state.measuring) {
      const auto data = buffer.cdata();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (text.find(kQuoteMarker) != std::string_view::npos) ++state.counts[index];
    }
    buffer.consume(buffer.size());
  }
  if (!state.done) ++state.closed;
}

/// Runs the subscribers for `d`; rethrows the first subscriber's failure.
void run_for(asio::io_context& ioc, const State& state, Clock::duration d) {
  ioc.run_for(d);
  if (state.failure) std::rethrow_exception(state.failure);
}

/// Runs until every subscriber has subscribed; throws after kConnectDeadline.
void wait_until_ready(asio::io_context& ioc, const State& state, std::size_t n) {
  const auto deadline = Clock::now() + kConnectDeadline;
  while (state.ready < n) {
    if (Clock::now() >= deadline) {
      throw std::runtime_error("only " + std::to_string(state.ready) + " of " + std::to_string(n) +
                               " subscribers connected");
    }
    run_for(ioc, state, kReadyPoll);
  }
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Ticks {
  long user = 0;
  long system = 0;
};

/// utime and stime of `pid` (fields 14 and 15 of /proc/PID/stat, after the command name).
Ticks cpu_ticks(long pid) {
  if (pid < 0) return {};
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(paren + 1));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state … cmajflt
  Ticks t;
  fields >> t.user >> t.system;
  return t;
}

/// 1,000 subscribers need more descriptors than the usual soft limit of 1,024.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// The measured window as it was, not as asked: a loaded machine may wake the client late.
struct Window {
  double elapsed_s = 0;
  double client_cpu_s = 0;
  Ticks server_before;
  Ticks server_after;
};

Window measure(asio::io_context& ioc, State& state, const Options& opt) {
  Window w;
  const double cpu0 = process_cpu_seconds();
  w.server_before = cpu_ticks(opt.server_pid);
  state.measuring = true;
  const auto start = Clock::now();
  run_for(ioc, state, seconds(opt.seconds));
  state.measuring = false;
  w.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  w.client_cpu_s = process_cpu_seconds() - cpu0;
  w.server_after = cpu_ticks(opt.server_pid);
  return w;
}

/// The RESULT line, and the CPU line with a server pid; returns the least any subscriber got.
std::uint64_t report(const Options& opt, const State& state, const Window& w) {
  const auto total = std::accumulate(state.counts.begin(), state.counts.end(), std::uint64_t{0});
  const auto least = *std::min_element(state.counts.begin(), state.counts.end());
  const auto quotes = static_cast<double>(total);
  std::printf(
      "RESULT subscribers=%zu quotes=%llu quotes_per_s=%.0f per_subscriber_per_s=%.1f min_subscriber_per_s=%.1f "
      "closed=%zu client_cpu_pct=%.0f window_s=%.1f\n",
      opt.subscribers, static_cast<unsigned long long>(total), quotes / w.elapsed_s,
      quotes / w.elapsed_s / static_cast<double>(opt.subscribers), static_cast<double>(least) / w.elapsed_s,
      state.closed, 100 * w.client_cpu_s / w.elapsed_s, w.elapsed_s);
  if (opt.server_pid >= 0 && total > 0) {
    const double us_per_tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
    const double user = static_cast<double>(w.server_after.user - w.server_before.user) * us_per_tick / quotes;
    const double system = static_cast<double>(w.server_after.system - w.server_before.system) * us_per_tick / quotes;
    std::printf("CPU pid=%ld user_us_per_quote=%.2f sys_us_per_quote=%.2f total_us_per_quote=%.2f\n", opt.server_pid,
                user, system, user + system);
  }
  std::fflush(stdout);
  return least;
}

int run(Options opt) {
  raise_open_files_limit();
  State state;  // before the io_context: the subscribers' frames, destroyed with it, refer to it
  state.counts.assign(opt.subscribers, 0);
  asio::io_context ioc(1);
  // Runs for the windows asked even when every subscriber has ended (then closed=N says so).
  const auto keep_running = asio::make_work_guard(ioc);
  opt.endpoints = tcp::resolver(ioc).resolve(opt.host, opt.port);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  if (opt.tls) {
    tls.load_verify_file(opt.ca_file);
    tls.set_verify_mode(asio::ssl::verify_peer);
  }
  const auto on_end = [&state](std::exception_ptr e) {
    if (e && !state.failure && !state.done) state.failure = e;
  };
  for (std::size_t i = 0; i < opt.subscribers; ++i) {
    if (opt.tls) {
      asio::co_spawn(ioc, subscriber(opt, i, state, [&tls](auto ex) { return TlsSocket(ex, tls); }), on_end);
    } else {
      asio::co_spawn(ioc, subscriber(opt, i, state, [](auto ex) { return PlainSocket(ex); }), on_end);
    }
  }
  wait_until_ready(ioc, state, opt.subscribers);
  run_for(ioc, state, seconds(opt.warmup));
  const Window window = measure(ioc, state, opt);
  state.done = true;
  const auto least = report(opt, state, window);
  if (state.closed > 0 || least == 0) {
    std::fprintf(stderr, "%zu subscribers were closed early, the least got %llu quotes\n", state.closed,
                 static_cast<unsigned long long>(least));
    return 1;
  }
  return 0;  // the sockets are not closed one by one: the process exit drops them, as the Python client's cancel does
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "ws_fanout_client: %s\n", ex.what());
    return 1;
  }
}
