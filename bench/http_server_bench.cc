// bench_http_server: the HTTP server answering /healthz.
//
//   bench_http_server --serve [--port N] [--threads N]
//       serves /healthz and /metrics (router + HTTP metrics, as production
//       does) until SIGINT or SIGTERM; prints "listening on 127.0.0.1:PORT"
//       first. bench/server-wrk.sh drives it.
//   bench_http_server [--seconds S] [--connections C] [--threads N]
//       measures itself with a built-in keep-alive load generator over
//       loopback: req/s of a bare handler (the baseline) and of router +
//       metrics in the same run, and their ratio.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/http.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"

namespace clover::server {
namespace {

struct Flags {
  bool serve = false;
  int port = 0;
  int threads = 0;
  double seconds = 2;
  int connections = 32;
};

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    const char* v = nullptr;
    if (a == "--serve") {
      f.serve = true;
    } else if (a == "--port" && (v = next())) {
      f.port = std::atoi(v);
    } else if (a == "--threads" && (v = next())) {
      f.threads = std::atoi(v);
    } else if (a == "--seconds" && (v = next())) {
      f.seconds = std::atof(v);
    } else if (a == "--connections" && (v = next())) {
      f.connections = std::atoi(v);
    } else {
      std::fprintf(stderr, "bench_http_server: bad flag '%s'\n", a.c_str());
      return false;
    }
  }
  return f.connections > 0 && f.seconds > 0;
}

HttpResponse Healthz() {
  HttpResponse r = HttpResponse::Json(200, "{\"status\":\"ok\"}");
  return r;
}

struct Served {
  std::unique_ptr<MetricsRegistry> registry;
  std::unique_ptr<HttpMetrics> metrics;
  std::unique_ptr<HttpServer> server;
};

// Bare: one handler, no routing, no metrics. Full: router + metrics, the
// production shape.
bool StartServer(const Flags& flags, bool full, Served& out) {
  HttpServerOptions options;
  options.port = flags.port;
  options.threads = flags.threads;
  Handler handler = [](HttpRequest&, Responder respond) { respond(Healthz()); };
  if (full) {
    out.registry = std::make_unique<MetricsRegistry>();
    out.metrics = *HttpMetrics::Create(*out.registry);
    options.metrics = out.metrics.get();
    Router router;
    router.Handle("GET", "/healthz",
                  [](HttpRequest&, Responder respond) { respond(Healthz()); });
    MetricsRegistry* registry = out.registry.get();
    router.Handle(
        "GET", "/metrics", [registry](HttpRequest&, Responder respond) {
          HttpResponse r = HttpResponse::Json(200, registry->Render());
          r.content_type = "text/plain; version=0.0.4";
          respond(std::move(r));
        });
    handler = router.AsHandler();
  }
  auto server = HttpServer::Start(options, handler);
  if (!server.ok()) {
    std::fprintf(stderr, "bench_http_server: %s\n",
                 std::string(server.status().message()).c_str());
    return false;
  }
  out.server = *std::move(server);
  return true;
}

// One keep-alive connection issuing GET /healthz back to back until `stop`.
void ClientLoop(int port, const std::atomic<bool>& stop,
                std::atomic<uint64_t>& done) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  static constexpr char kRequest[] =
      "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::string buf;
  char chunk[4096];
  uint64_t local = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (send(fd, kRequest, sizeof(kRequest) - 1, MSG_NOSIGNAL) < 0) break;
    buf.clear();
    size_t need = std::string::npos;
    while (need == std::string::npos || buf.size() < need) {
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) goto out;
      buf.append(chunk, static_cast<size_t>(n));
      size_t end = buf.find("\r\n\r\n");
      size_t cl = buf.find("Content-Length: ");
      if (end != std::string::npos && cl != std::string::npos) {
        need = end + 4 + std::strtoul(buf.c_str() + cl + 16, nullptr, 10);
      }
    }
    ++local;
  }
out:
  done.fetch_add(local);
  close(fd);
}

double Measure(const Flags& flags, bool full) {
  Served served;
  if (!StartServer(flags, full, served)) return -1;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < flags.connections; ++i) {
    clients.emplace_back(ClientLoop, served.server->port(), std::cref(stop),
                         std::ref(done));
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop.store(true);
  for (auto& t : clients) t.join();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  served.server->Stop();
  return static_cast<double>(done.load()) / secs;
}

int Serve(const Flags& flags) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before any thread starts, so only sigwait below sees them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Served served;
  if (!StartServer(flags, /*full=*/true, served)) return 1;
  std::printf("listening on 127.0.0.1:%d\n", served.server->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  served.server->Stop();
  return 0;
}

}  // namespace
}  // namespace clover::server

int main(int argc, char** argv) {
  clover::server::Flags flags;
  if (!clover::server::ParseFlags(argc, argv, flags)) return 2;
  if (flags.serve) return clover::server::Serve(flags);
  double bare = clover::server::Measure(flags, /*full=*/false);
  double full = clover::server::Measure(flags, /*full=*/true);
  if (bare <= 0 || full <= 0) return 1;
  std::printf(
      "healthz, built-in closed-loop client, %d connections, %.1fs each:\n",
      flags.connections, flags.seconds);
  std::printf("  bare handler (baseline): %10.0f req/s\n", bare);
  std::printf("  router + metrics:        %10.0f req/s  (%.2fx baseline)\n",
              full, full / bare);
  std::printf(
      "note: client and server share the machine's cores; see "
      "bench/server-wrk.sh\n");
  return 0;
}
