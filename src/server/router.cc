#include "server/router.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/http.h"

namespace clover::server {

namespace {

struct Segment {
  enum Kind { kLiteral, kParam, kRest } kind;
  std::string text;  // literal text or parameter name
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  Handler handler;
  // Lexicographic rank; smaller is more specific.
  std::vector<int> rank;
};

}  // namespace

struct Router::Table {
  std::vector<Route> routes;  // sorted by specificity
};

Router::Router() : table_(std::make_shared<Table>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

absl::Status Router::Add(absl::string_view method, absl::string_view pattern,
                         Handler handler) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("route '", pattern, "': ", why));
  };
  if (pattern.empty() || pattern.front() != '/')
    return bad("must start with '/'");
  if (method.empty()) return bad("empty method");
  Route route;
  route.method = std::string(method);
  route.pattern = std::string(pattern);
  route.handler = std::move(handler);
  absl::string_view rest = pattern.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    absl::string_view seg = rest.substr(0, slash);
    bool last = slash == absl::string_view::npos;
    if (seg == "*") {
      if (!last) return bad("'*' only allowed as the final segment");
      route.segments.push_back({Segment::kRest, "*"});
      route.rank.push_back(2);
    } else if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}')
        return bad("malformed parameter segment");
      std::string name(seg.substr(1, seg.size() - 2));
      if (name.find_first_of("{}*/") != std::string::npos)
        return bad("bad parameter name");
      route.segments.push_back({Segment::kParam, std::move(name)});
      route.rank.push_back(1);
    } else {
      if (seg.find_first_of("{}*") != absl::string_view::npos) {
        return bad("'{', '}' and '*' must form a whole segment");
      }
      route.segments.push_back({Segment::kLiteral, std::string(seg)});
      route.rank.push_back(0);
    }
    if (last) break;
    rest = rest.substr(slash + 1);
  }
  for (const Route& r : table_->routes) {
    if (r.method == route.method && r.pattern == route.pattern)
      return bad("registered twice");
  }
  // Copy-on-write so that handlers already returned by AsHandler keep their
  // snapshot.
  auto next = std::make_shared<Table>(*table_);
  next->routes.push_back(std::move(route));
  std::stable_sort(
      next->routes.begin(), next->routes.end(),
      [](const Route& a, const Route& b) { return a.rank < b.rank; });
  table_ = std::move(next);
  return absl::OkStatus();
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(table_->routes.size());
  for (const Route& r : table_->routes) out.push_back({r.method, r.pattern});
  return out;
}

void Router::Handle(absl::string_view method, absl::string_view pattern,
                    Handler handler) {
  absl::Status s = Add(method, pattern, std::move(handler));
  if (!s.ok() && status_.ok()) status_ = std::move(s);
}

namespace {

using Segments = absl::InlinedVector<absl::string_view, 16>;

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}. Views into `path`, which starts with
// '/'.
Segments Split(absl::string_view path) {
  Segments segs;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == absl::string_view::npos) {
      segs.push_back(path.substr(start));
      return segs;
    }
    segs.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Matches the split `path` against `route`; if `params` is set, clears and
// fills it. Callers scan without `params` and fill it only for the chosen
// route, so a miss allocates nothing.
bool Match(const Route& route, absl::string_view path, const Segments& segs,
           absl::flat_hash_map<std::string, std::string>* params) {
  const size_t n = route.segments.size();
  const bool rest = route.segments.back().kind == Segment::kRest;
  if (rest ? segs.size() + 1 < n : segs.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == Segment::kLiteral) {
      if (segs[i] != seg.text) return false;
    } else if (seg.kind == Segment::kParam) {
      if (segs[i].empty()) return false;
    }
  }
  if (params == nullptr) return true;
  params->clear();
  for (size_t i = 0; i < n; ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == Segment::kParam) {
      params->insert_or_assign(seg.text, std::string(segs[i]));
    } else if (seg.kind == Segment::kRest) {
      absl::string_view tail;
      if (i < segs.size()) {
        tail = path.substr(static_cast<size_t>(segs[i].data() - path.data()));
      }
      params->insert_or_assign("*", std::string(tail));
    }
  }
  return true;
}

}  // namespace

Handler Router::AsHandler() const {
  std::shared_ptr<const Table> table = table_;
  return [table](HttpRequest& request, Responder respond) {
    if (request.path.empty() || request.path.front() != '/') {
      request.route.clear();
      respond(HttpResponse::Error(404, "not_found", "no such resource"));
      return;
    }
    const Segments segs = Split(request.path);
    const Route* path_match = nullptr;
    for (const Route& route : table->routes) {
      if (!Match(route, request.path, segs, nullptr)) continue;
      if (route.method == request.method) {
        Match(route, request.path, segs, &request.path_params);
        request.route = route.pattern;
        route.handler(request, std::move(respond));
        return;
      }
      if (path_match == nullptr) path_match = &route;
    }
    request.path_params.clear();
    if (path_match == nullptr) {
      request.route.clear();
      respond(HttpResponse::Error(404, "not_found", "no such resource"));
      return;
    }
    std::vector<absl::string_view> allowed;
    for (const Route& route : table->routes) {
      if (Match(route, request.path, segs, nullptr) &&
          std::find(allowed.begin(), allowed.end(), route.method) ==
              allowed.end()) {
        allowed.push_back(route.method);
      }
    }
    std::sort(allowed.begin(), allowed.end());
    request.route = path_match->pattern;
    // The method is not echoed: it may be any token the client chose.
    HttpResponse response = HttpResponse::Error(
        405, "method_not_allowed", "method not allowed on this resource");
    response.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
    respond(std::move(response));
  };
}

}  // namespace clover::server
