// Runs the HTTP server in a child process and stops it with SIGTERM while
// requests are in flight and idle keep-alive connections are open: every
// in-flight request must be answered, the process must exit 0 promptly, and
// nothing may be accepted afterwards.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/http_server.h"

namespace clover::server {
namespace {

// Child: serve until SIGTERM, then Stop() and exit 0. "/slow" answers after 500
// ms from another thread and reports its arrival on `arrived_fd`.
[[noreturn]] void RunChild(int port_fd, int arrived_fd) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  HttpServerOptions options;
  options.threads = 2;
  options.drain_timeout = absl::Seconds(5);
  auto server = HttpServer::Start(
      options, [arrived_fd](HttpRequest& req, Responder respond) {
        if (req.path == "/slow") {
          char b = 's';
          (void)!write(arrived_fd, &b, 1);
          std::thread([respond] {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            respond(HttpResponse::Json(200, "{\"slow\":true}"));
          }).detach();
          return;
        }
        respond(HttpResponse::Json(200, "{\"status\":\"ok\"}"));
      });
  if (!server.ok()) _exit(3);
  int port = (*server)->port();
  (void)!write(port_fd, &port, sizeof(port));
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  _exit(0);
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Result {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

Result Get(const std::string& url) {
  Result r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  r.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(curl);
  return r;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ServerProcessTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  int port_pipe[2], arrived_pipe[2];
  ASSERT_EQ(pipe(port_pipe), 0);
  ASSERT_EQ(pipe(arrived_pipe), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) RunChild(port_pipe[1], arrived_pipe[1]);
  int port = 0;
  ASSERT_EQ(read(port_pipe[0], &port, sizeof(port)),
            static_cast<ssize_t>(sizeof(port)));
  std::string base = absl::StrCat("http://127.0.0.1:", port);
  ASSERT_EQ(Get(base + "/healthz").status, 200);

  // Idle keep-alive connections (one having completed a request) must not delay
  // the exit.
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(Connect(port));
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(idle[0], req.data(), req.size(), 0),
            static_cast<ssize_t>(req.size()));

  constexpr int kSlow = 3;
  std::vector<Result> results(kSlow);
  std::vector<std::thread> clients;
  for (int i = 0; i < kSlow; ++i) {
    clients.emplace_back([&, i] { results[i] = Get(base + "/slow"); });
  }
  for (int i = 0; i < kSlow; ++i) {
    char b;
    ASSERT_EQ(read(arrived_pipe[0], &b, 1), 1);
  }
  absl::Time start = absl::Now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  for (auto& t : clients) t.join();
  for (const Result& r : results) {
    EXPECT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"slow\":true}");
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took, absl::Seconds(3)) << "idle connections held up the stop";
  EXPECT_NE(Get(base + "/healthz").code, CURLE_OK)
      << "still accepting after SIGTERM";
  for (int fd : idle) {
    if (fd >= 0) close(fd);
  }
}

}  // namespace
}  // namespace clover::server
