// The only translation unit that includes Boost.Asio (Beast's parser alone is
// in server/http_request_parser.h): keep it that way, it is heavy.
#include "server/http_server.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/logger.h"
#include "server/http_request_parser.h"
#include "server/request_id.h"
#include "server/url.h"

namespace clover::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
// Concrete executor types instead of the polymorphic any_io_executor: each
// connection lives on one io_context, and type erasure showed up in profiles of
// the request loop.
using Executor = asio::io_context::executor_type;
using Socket = tcp::socket::rebind_executor<Executor>::other;
using TcpStream =
    beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;

constexpr size_t kReadChunk = 8 * 1024;
constexpr size_t kBodyReadChunk = 64 * 1024;
// After an error response the connection is half-closed and unread input
// drained for this long (at most kMaxLingerBytes), so that the client reads the
// response instead of a TCP reset.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kMaxLingerBytes = 1 << 20;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool ValidHeaderName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool ValidHeaderValue(absl::string_view value) {
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// The Date header value, formatted once per second per thread.
absl::string_view HttpDate() {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  absl::Time now = absl::Now();
  int64_t second = absl::ToUnixSeconds(now);
  if (second != cached_second) {
    cached_second = second;
    cached =
        absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", now, absl::UTCTimeZone());
  }
  return cached;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  error_code ec;
  std::string address = ep.address().to_string(ec);
  if (ep.address().is_v6()) return absl::StrCat("[", address, "]:", ep.port());
  return absl::StrCat(address, ":", ep.port());
}

// The verified peer certificate's subject in RFC 2253 form, or "" if there is
// none.
std::string PeerSubject(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string subject;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr) {
      if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                             XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0) subject.assign(data, static_cast<size_t>(len));
      }
      BIO_free(bio);
    }
  }
  X509_free(cert);
  return subject;
}

// Descriptors kept for everything but connections: stores, logs, listeners.
constexpr rlim_t kReservedDescriptors = 256;

// Each connection holds a descriptor. Raises the soft RLIMIT_NOFILE (towards
// the hard one) so that `max_connections` of them fit beside the stores';
// where the hard limit forbids that, lowers the cap instead, so that a flood
// of connections can never take the descriptors the stores need.
size_t FitDescriptorLimit(size_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return max_connections;
  const rlim_t want =
      static_cast<rlim_t>(max_connections) + kReservedDescriptors;
  if (limit.rlim_cur < want) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY
                          ? want
                          : std::min<rlim_t>(want, limit.rlim_max);
    if (raised.rlim_cur > limit.rlim_cur &&
        setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  if (limit.rlim_cur >= want) return max_connections;
  const size_t fit =
      limit.rlim_cur > 2 * kReservedDescriptors
          ? static_cast<size_t>(limit.rlim_cur - kReservedDescriptors)
          : static_cast<size_t>(limit.rlim_cur / 2);
  logging::Warn(
      "HTTP max_connections lowered: the descriptor limit is too low (raise "
      "it with ulimit -n or LimitNOFILE=)",
      {{"max_connections", max_connections},
       {"lowered_to", std::max<size_t>(fit, 1)},
       {"nofile", static_cast<uint64_t>(limit.rlim_cur)}});
  return std::max<size_t>(fit, 1);
}

class ConnectionBase;

// State shared by the server and its connections. Connections keep it alive
// (and with it the io_contexts their sockets belong to) for as long as a late
// Responder holds them.
struct Shared {
  HttpServerOptions options;
  Handler handler;
  std::optional<ssl::context> tls;
  std::vector<std::unique_ptr<asio::io_context>> contexts;

  std::atomic<bool> stopping{false};
  absl::Mutex mu;
  // Set once the I/O threads are being released: nothing may be posted to them
  // any more.
  bool stopped ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_map<ConnectionBase*, std::weak_ptr<ConnectionBase>>
      connections ABSL_GUARDED_BY(mu);

  ~Shared() {
    // Sockets die with their connections, all of which are gone by now; the
    // contexts go last.
    contexts.clear();
  }
};

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  explicit ConnectionBase(std::shared_ptr<Shared> shared,
                          asio::io_context::executor_type ex)
      : shared_(std::move(shared)), executor_(ex) {}
  virtual ~ConnectionBase() {
    absl::MutexLock lock(&shared_->mu);
    shared_->connections.erase(this);
  }
  virtual void Start() = 0;
  // Called on the connection's thread when the server begins stopping.
  virtual void OnStopping() = 0;
  // Called on the connection's thread when the drain time is over.
  virtual void ForceClose() = 0;
  // From any thread: hands a response to the connection's thread.
  // Answers request number `request_seq` of this connection; an answer for any
  // other request (a late or second call of an old Responder) is dropped.
  virtual void Deliver(uint64_t request_seq, HttpResponse response) = 0;

  asio::io_context::executor_type executor() const { return executor_; }

 protected:
  std::shared_ptr<Shared> shared_;  // first member: destroyed last
  asio::io_context::executor_type executor_;
};

template <typename Stream>
class Connection final : public ConnectionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, TcpStream>;

  Connection(std::shared_ptr<Shared> shared, asio::io_context::executor_type ex,
             Socket socket)
      : ConnectionBase(shared, ex),
        stream_(MakeStream(*shared, std::move(socket))) {
    error_code ec;
    tcp::endpoint remote =
        beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_address_ = FormatEndpoint(remote);
    beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true),
                                                         ec);
  }

  void Start() override {
    if constexpr (kTls) {
      state_ = State::kReading;
      Lowest().expires_after(ToChrono(options().read_timeout));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = Self()](const error_code& ec) { self->OnHandshake(ec); });
    } else {
      WaitForRequest();
    }
  }

  void OnStopping() override {
    if (state_ == State::kIdle) Close();
  }

  void ForceClose() override { Close(); }

  void Deliver(uint64_t request_seq, HttpResponse response) override {
    if (executor_.running_in_this_thread()) {
      if (request_seq == request_seq_) Write(std::move(response));
      return;
    }
    // A reader lock: responses from worker threads must not serialise on each
    // other.
    absl::ReaderMutexLock lock(&shared_->mu);
    if (shared_->stopped) return;  // nobody runs the event loops any more
    asio::post(executor_, [self = Self(), request_seq,
                           response = std::move(response)]() mutable {
      if (request_seq == self->request_seq_) self->Write(std::move(response));
    });
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kClosing, kClosed };
  // Number of the request being handled; touched only on the connection's
  // executor.
  uint64_t request_seq_ = 0;

  static Stream MakeStream(Shared& shared, Socket socket) {
    if constexpr (kTls) {
      return Stream(TcpStream(std::move(socket)), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  const HttpServerOptions& options() const { return shared_->options; }
  TcpStream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(const error_code& ec) {
    if (ec) return Close();
    client_cert_subject_ = PeerSubject(stream_.native_handle());
    WaitForRequest();
  }

  void WaitForRequest() {
    if (shared_->stopping.load(std::memory_order_relaxed)) return Close();
    if (buffer_.size() > 0)
      return ReadRequest();  // a pipelined request is already here
    state_ = State::kIdle;
    // A new connection must start its first request as promptly as a request
    // must arrive: connections opened only to sit idle would hold slots of
    // max_connections.
    Lowest().expires_after(
        ToChrono(request_seq_ == 0
                     ? std::min(options().read_timeout, options().idle_timeout)
                     : options().idle_timeout));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](const error_code& ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec || self->state_ != State::kIdle)
                                return self->Close();
                              self->ReadRequest();
                            });
  }

  void ReadRequest() {
    state_ = State::kReading;
    parser_.emplace(options().max_header_bytes, options().max_body_bytes);
    continue_sent_ = false;
    // Usually the whole request is already in the buffer: parse it here rather
    // than after another read.
    error_code ec;
    internal::ParseStep step = internal::ParseBuffered(*parser_, buffer_, ec);
    if (step == internal::ParseStep::kError) return OnReadError(ec);
    if (step == internal::ParseStep::kDone) return OnRequest();
    // One deadline for the whole request, from its first byte: trickling bytes
    // buys nothing.
    Lowest().expires_after(ToChrono(options().read_timeout));
    AwaitMore();
  }

  // The request is incomplete: answer `Expect: 100-continue` once its header is
  // in, then read more. Every byte goes through internal::ParseBuffered (also
  // what the framing fuzzer runs), never through Beast's own read loop.
  void AwaitMore() {
    if (!continue_sent_ && parser_->is_header_done() &&
        beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_sent_ = true;
      static constexpr absl::string_view kContinue =
          "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_,
                        asio::buffer(kContinue.data(), kContinue.size()),
                        [self = Self()](const error_code& ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadMore();
                        });
      return;
    }
    ReadMore();
  }

  void ReadMore() {
    const size_t limit = internal::MaxBufferedBytes(options().max_header_bytes);
    if (buffer_.size() >= limit)
      return OnReadError(http::error::buffer_overflow);
    // The parser consumes body bytes as they come, so a body is read in larger
    // pieces; a header in progress stays within the bound.
    const size_t n = parser_->is_header_done()
                         ? kBodyReadChunk
                         : std::min(kReadChunk, limit - buffer_.size());
    stream_.async_read_some(
        buffer_.prepare(n), [self = Self()](const error_code& ec, size_t got) {
          self->buffer_.commit(got);
          if (ec) return self->OnReadError(ec);
          error_code parse_ec;
          internal::ParseStep step =
              internal::ParseBuffered(*self->parser_, self->buffer_, parse_ec);
          if (step == internal::ParseStep::kError)
            return self->OnReadError(parse_ec);
          if (step == internal::ParseStep::kDone) return self->OnRequest();
          self->AwaitMore();
        });
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::header_limit) {
      return SendErrorAndClose(
          431, "header_too_large",
          absl::StrCat("request header block exceeds ",
                       options().max_header_bytes, " bytes"));
    }
    if (ec == http::error::buffer_overflow) {
      return SendErrorAndClose(
          400, "invalid_argument",
          "malformed HTTP request: chunk-size line or trailer section too "
          "long");
    }
    if (ec == http::error::body_limit) {
      return SendErrorAndClose(
          413, "payload_too_large",
          absl::StrCat("request body exceeds ", options().max_body_bytes,
                       " bytes"));
    }
    if (ec.category() ==
            http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message && ec != http::error::need_more) {
      absl::string_view why =
          parser_.has_value() ? parser_->framing_error() : absl::string_view();
      return SendErrorAndClose(
          400, "invalid_argument",
          absl::StrCat("malformed HTTP request: ",
                       why.empty() ? absl::string_view(ec.message()) : why));
    }
    // EOF, reset, timeout (the stream is already closed), or cancelled while
    // stopping.
    Close();
  }

  void OnRequest() {
    state_ = State::kHandling;
    started_ = std::chrono::steady_clock::now();
    auto& msg = parser_->get();
    HttpRequest& req = request_;
    req.method.assign(msg.method_string().data(), msg.method_string().size());
    req.headers.clear();
    req.path_params.clear();
    req.route.clear();
    req.remote_address = remote_address_;
    req.client_cert_subject = client_cert_subject_;
    keep_alive_ = msg.keep_alive();
    is_head_ = msg.method() == http::verb::head;
    for (const auto& field : msg) {
      std::string name(field.name_string().data(), field.name_string().size());
      absl::AsciiStrToLower(&name);
      auto value = field.value();
      auto [it, inserted] =
          req.headers.try_emplace(std::move(name), value.data(), value.size());
      if (!inserted) {
        // RFC 9110 §5.3: repeated fields combine into one comma-separated list.
        it->second.append(", ");
        it->second.append(value.data(), value.size());
      }
    }
    req.body = std::move(msg.body());
    Identify(req);
    auto target = msg.target();
    absl::Status target_status = ParseRequestTarget(
        absl::string_view(target.data(), target.size()), req.path, req.query);
    if (!target_status.ok()) {
      req.path.clear();
      req.query.clear();
      return Write(HttpResponse::Error(
          400, "invalid_argument",
          absl::StrCat("bad request target: ", target_status.message())));
    }
    // One allocation per request: the Responder's captured shared_ptr.
    // Keep-alive: once this request is answered the connection reads the
    // next, so the Responder is bound to this request's number.
    const uint64_t seq = ++request_seq_;
    shared_->handler(req, [self = Self(), seq](HttpResponse response) {
      self->Deliver(seq, std::move(response));
    });
  }

  // Request id and trace context (server/request_id.h): the client's when
  // well-formed, else new; a new span id for this server's part.
  void Identify(HttpRequest& req) {
    absl::string_view id = req.Header("x-request-id");
    req.request_id = ValidRequestId(id) ? std::string(id) : NewRequestId();
    std::optional<TraceParent> parent =
        ParseTraceParent(req.Header("traceparent"));
    if (parent.has_value()) {
      req.trace_id = std::move(parent->trace_id);
      parent_span_id_ = std::move(parent->parent_id);
      trace_flags_ = std::move(parent->flags);
    } else {
      req.trace_id = NewTraceId();
      parent_span_id_.clear();
      trace_flags_ = "00";
    }
    req.span_id = NewSpanId();
    req.note = std::make_shared<RequestNote>();
  }

  void Write(HttpResponse response) {
    if (state_ != State::kHandling)
      return;  // a second answer, or the connection is gone
    state_ = State::kWriting;
    bool close =
        !keep_alive_ || shared_->stopping.load(std::memory_order_relaxed);
    Record(response.status);
    AccessLog(response);
    EnsureRetryAfter(response);
    response.headers.emplace_back("X-Request-Id", request_.request_id);
    response.headers.emplace_back(
        "traceparent",
        FormatTraceParent(request_.trace_id, request_.span_id, trace_flags_));
    FormatHead(response, close);
    body_ = std::move(response.body);
    std::array<asio::const_buffer, 2> buffers = {
        asio::buffer(head_),
        is_head_ ? asio::const_buffer() : asio::buffer(body_)};
    Lowest().expires_after(ToChrono(options().write_timeout));
    asio::async_write(stream_, buffers,
                      [self = Self(), close](const error_code& ec, size_t) {
                        if (ec) return self->Close();
                        if (close) return self->Shutdown();
                        self->WaitForRequest();
                      });
  }

  void Record(int status) {
    HttpMetrics* metrics = options().metrics;
    if (metrics == nullptr) return;
    // Keep-alive clients tend to repeat the same request: remember the last
    // child.
    absl::string_view method = HttpMetrics::MethodLabel(request_.method);
    if (!metric_child_.has_value() || metric_status_ != status ||
        metric_method_ != method || metric_route_ != request_.route) {
      metric_child_ = metrics->Get(method, request_.route, status);
      metric_status_ = status;
      metric_method_ = method;
      metric_route_ = request_.route;
    }
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - started_;
    metric_child_->requests->Increment();
    metric_child_->duration->Observe(elapsed.count());
  }

  // One line per response: the route template, never the raw path (which
  // may hold subject ids), and no header values but the validated ids. A
  // server error or a refused credential is logged with its cause.
  void AccessLog(const HttpResponse& response) {
    if (!options().access_log) return;
    const int status = response.status;
    logging::Level level = logging::Level::kInfo;
    if (status >= 500) {
      level = logging::Level::kError;
    } else if (status == 401) {
      level = logging::Level::kWarn;
    }
    if (!logging::Enabled(level)) return;
    std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - started_;
    logging::Fields fields;
    fields.reserve(14);
    fields.emplace_back("log", "access");
    fields.emplace_back("method", HttpMetrics::MethodLabel(request_.method));
    fields.emplace_back("route", request_.route.empty()
                                     ? absl::string_view("unmatched")
                                     : absl::string_view(request_.route));
    fields.emplace_back("status", status);
    fields.emplace_back("latency_ms", elapsed.count());
    fields.emplace_back("request_id", request_.request_id);
    fields.emplace_back("trace_id", request_.trace_id);
    fields.emplace_back("span_id", request_.span_id);
    if (!parent_span_id_.empty()) {
      fields.emplace_back("parent_span_id", parent_span_id_);
    }
    if (request_.note != nullptr && !request_.note->principal.empty()) {
      fields.emplace_back("principal", request_.note->principal);
    }
    if (response.log_index >= 0) {
      fields.emplace_back("log_index", response.log_index);
    }
    fields.emplace_back("remote", remote_address_);
    if (status >= 400 && !response.cause.empty()) {
      fields.emplace_back("cause", response.cause);
    }
    if (status == 401) fields.emplace_back("event", "authentication_failed");
    logging::Log(level, "request", fields);
  }

  void FormatHead(const HttpResponse& response, bool close) {
    int status = response.status;
    if (status < 100 || status > 999) status = 500;
    head_.clear();
    head_ += "HTTP/1.1 ";
    absl::StrAppend(&head_, status);
    head_.push_back(' ');
    auto reason = http::obsolete_reason(static_cast<http::status>(status));
    head_.append(reason.data(), reason.size());
    head_ += "\r\nDate: ";
    absl::StrAppend(&head_, HttpDate());
    if (!response.content_type.empty() &&
        ValidHeaderValue(response.content_type)) {
      head_ += "\r\nContent-Type: ";
      head_ += response.content_type;
    }
    head_ += "\r\nContent-Length: ";
    absl::StrAppend(&head_, response.body.size());
    if (close) head_ += "\r\nConnection: close";
    for (const auto& [name, value] : response.headers) {
      // The transport owns framing; a handler cannot inject headers or split
      // the response.
      if (!ValidHeaderName(name) || !ValidHeaderValue(value) ||
          absl::EqualsIgnoreCase(name, "content-length") ||
          absl::EqualsIgnoreCase(name, "transfer-encoding") ||
          absl::EqualsIgnoreCase(name, "connection") ||
          absl::EqualsIgnoreCase(name, "date")) {
        continue;
      }
      head_ += "\r\n";
      head_ += name;
      head_ += ": ";
      head_ += value;
    }
    head_ += "\r\n\r\n";
  }

  void SendErrorAndClose(int status, absl::string_view code,
                         std::string message) {
    keep_alive_ = false;
    is_head_ = false;
    request_.method.clear();
    if (parser_.has_value()) {
      auto method = parser_->get().method_string();
      request_.method.assign(method.data(), method.size());
    }
    request_.route.clear();
    request_.request_id = NewRequestId();
    request_.trace_id = NewTraceId();
    request_.span_id = NewSpanId();
    request_.note.reset();
    parent_span_id_.clear();
    trace_flags_ = "00";
    started_ = std::chrono::steady_clock::now();
    state_ = State::kHandling;
    Write(HttpResponse::Error(status, code, message));
  }

  // Ends the connection politely after a response marked `Connection: close`.
  void Shutdown() {
    state_ = State::kClosing;
    if constexpr (kTls) {
      Lowest().expires_after(kLingerTime);
      stream_.async_shutdown(
          [self = Self()](const error_code&) { self->Close(); });
    } else {
      error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return Close();
      Lowest().expires_after(kLingerTime);
      Linger(0);
    }
  }

  void Linger(size_t drained) {
    if (drained > kMaxLingerBytes) return Close();
    buffer_.clear();
    Lowest().async_read_some(
        buffer_.prepare(kReadChunk),
        [self = Self(), drained](const error_code& ec, size_t n) {
          if (ec) return self->Close();
          self->Linger(drained + n);
        });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<internal::RequestParser> parser_;
  State state_ = State::kIdle;
  bool keep_alive_ = true;
  bool continue_sent_ = false;  // "100 Continue" sent for this request
  bool is_head_ = false;
  std::string remote_address_;
  std::string client_cert_subject_;
  HttpRequest request_;
  std::string head_;
  std::string body_;
  std::chrono::steady_clock::time_point started_;
  std::optional<HttpMetrics::Child> metric_child_;
  int metric_status_ = 0;
  absl::string_view metric_method_;  // a HttpMetrics::MethodLabel, static
  std::string metric_route_;
  std::string parent_span_id_;  // of the request being answered, if given
  std::string trace_flags_ = "00";
};

using PlainConnection = Connection<TcpStream>;
using TlsConnection = Connection<beast::ssl_stream<TcpStream>>;

absl::StatusOr<ssl::context> MakeTlsContext(const TlsServerOptions& tls) {
  try {
    ssl::context ctx(ssl::context::tls_server);
    SSL_CTX* native = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
      return absl::InternalError("TLS 1.3 is not available in this OpenSSL");
    }
    error_code ec;
    ctx.use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls.cert_file '", tls.cert_file,
                       "': cannot load certificate chain: ", ec.message()));
    }
    ctx.use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls.key_file '", tls.key_file,
                       "': cannot load private key: ", ec.message()));
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls.key_file '", tls.key_file, "' does not match tls.cert_file"));
    }
    if (!tls.client_ca_file.empty()) {
      ctx.load_verify_file(tls.client_ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls.client_ca_file '", tls.client_ca_file,
                         "': cannot load CA: ", ec.message()));
      }
      ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      static constexpr unsigned char kSessionContext[] = "clover";
      SSL_CTX_set_session_id_context(native, kSessionContext,
                                     sizeof(kSessionContext) - 1);
    }
    return ctx;
  } catch (const boost::system::system_error& e) {
    return absl::InternalError(absl::StrCat("TLS setup failed: ", e.what()));
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)),
        acceptor_(*shared_->contexts[0]),
        retry_(*shared_->contexts[0]) {}

  absl::Status Listen() {
    const HttpServerOptions& opt = shared_->options;
    error_code ec;
    asio::ip::address address = asio::ip::make_address(opt.host, ec);
    if (ec) {
      tcp::resolver resolver(*shared_->contexts[0]);
      auto results = resolver.resolve(opt.host, "", ec);
      if (ec || results.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot resolve listen host '", opt.host, "'"));
      }
      address = results.begin()->endpoint().address();
    }
    tcp::endpoint endpoint(address, static_cast<unsigned short>(opt.port));
    std::string where = FormatEndpoint(endpoint);
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return absl::UnavailableError(
          absl::StrCat("socket for ", where, ": ", ec.message()));
    }
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind ", where, ": ", ec.message()));
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", where, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return absl::OkStatus();
  }

  void Run() {
    for (auto& ctx : shared_->contexts)
      guards_.emplace_back(ctx->get_executor());
    Accept();
    threads_.reserve(shared_->contexts.size());
    for (auto& ctx : shared_->contexts) {
      asio::io_context* raw = ctx.get();
      threads_.emplace_back([raw] {
        pthread_setname_np(pthread_self(), "http-io");
        raw->run();
      });
    }
  }

  int port() const { return port_; }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stop_started_) {
        mu_.Await(absl::Condition(&done_));
        return;
      }
      stop_started_ = true;
    }
    shared_->stopping.store(true);
    asio::post(acceptor_.get_executor(), [this] {
      error_code ec;
      acceptor_.close(ec);
      retry_.cancel();
    });
    for (const auto& conn : LiveConnections()) {
      asio::post(conn->executor(), [conn] { conn->OnStopping(); });
    }
    {
      absl::MutexLock lock(&shared_->mu);
      auto drained = [](Shared* s) ABSL_SHARED_LOCKS_REQUIRED(s->mu) {
        return s->connections.empty();
      };
      shared_->mu.AwaitWithTimeout(absl::Condition(+drained, shared_.get()),
                                   shared_->options.drain_timeout);
    }
    for (const auto& conn : LiveConnections()) {
      asio::post(conn->executor(), [conn] { conn->ForceClose(); });
    }
    {
      // From here on Deliver() drops responses instead of posting to loops
      // about to end.
      absl::MutexLock lock(&shared_->mu);
      shared_->stopped = true;
    }
    guards_.clear();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  std::vector<std::shared_ptr<ConnectionBase>> LiveConnections() {
    std::vector<std::shared_ptr<ConnectionBase>> live;
    absl::MutexLock lock(&shared_->mu);
    live.reserve(shared_->connections.size());
    for (auto& [raw, weak] : shared_->connections) {
      if (auto conn = weak.lock()) live.push_back(std::move(conn));
    }
    return live;
  }

  void Accept() {
    asio::io_context& target = *shared_->contexts[next_context_];
    next_context_ = (next_context_ + 1) % shared_->contexts.size();
    acceptor_.async_accept(
        target.get_executor(),
        [this, &target](const error_code& ec, Socket socket) {
          if (ec == asio::error::operation_aborted || !acceptor_.is_open())
            return;
          if (ec) {
            // Out of descriptors or similar: back off instead of spinning on
            // the error.
            retry_.expires_after(std::chrono::milliseconds(50));
            retry_.async_wait([this](const error_code& wait_ec) {
              if (!wait_ec && acceptor_.is_open()) Accept();
            });
            return;
          }
          size_t open = 0;
          {
            absl::MutexLock lock(&shared_->mu);
            open = shared_->connections.size();
          }
          // Only this loop adds connections, so the count cannot grow
          // between the check and the emplace below.
          if (open >= shared_->options.max_connections) {
            // Counted before the close, so whoever sees the close sees it
            // counted.
            if (HttpMetrics* metrics = shared_->options.metrics) {
              metrics->connections_refused().Increment();
            }
            error_code ignored;
            socket.close(ignored);
            Accept();
            return;
          }
          std::shared_ptr<ConnectionBase> conn;
          if (shared_->tls.has_value()) {
            conn = std::make_shared<TlsConnection>(
                shared_, target.get_executor(), std::move(socket));
          } else {
            conn = std::make_shared<PlainConnection>(
                shared_, target.get_executor(), std::move(socket));
          }
          {
            absl::MutexLock lock(&shared_->mu);
            shared_->connections.emplace(conn.get(), conn);
          }
          asio::dispatch(conn->executor(), [conn] { conn->Start(); });
          Accept();
        });
  }

  std::shared_ptr<Shared> shared_;  // first member: destroyed last
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  size_t next_context_ = 0;
  int port_ = 0;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  std::vector<std::thread> threads_;

  absl::Mutex mu_;
  bool stop_started_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, Handler handler) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", options.port, " out of range"));
  }
  if (options.threads < 0)
    return absl::InvalidArgumentError("threads must be >= 0");
  if (options.max_header_bytes == 0) {
    return absl::InvalidArgumentError("max_header_bytes must be > 0");
  }
  if (options.max_connections == 0) {
    return absl::InvalidArgumentError("max_connections must be > 0");
  }
  options.max_connections = FitDescriptorLimit(options.max_connections);
  if (options.read_timeout <= absl::ZeroDuration() ||
      options.idle_timeout <= absl::ZeroDuration() ||
      options.write_timeout <= absl::ZeroDuration() ||
      options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  if (!handler) return absl::InvalidArgumentError("no handler");
  auto shared = std::make_shared<Shared>();
  if (options.tls.has_value()) {
    auto ctx = MakeTlsContext(*options.tls);
    if (!ctx.ok()) return ctx.status();
    shared->tls.emplace(*std::move(ctx));
  }
  int threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < threads; ++i) {
    shared->contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  shared->options = std::move(options);
  shared->handler = std::move(handler);
  auto impl = std::make_unique<Impl>(std::move(shared));
  if (absl::Status s = impl->Listen(); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

void HttpServer::Wait() { impl_->Wait(); }

}  // namespace clover::server
