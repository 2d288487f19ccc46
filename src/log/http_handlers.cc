#include "log/http_handlers.h"

#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/canonical_json.h"
#include "log/tile.h"

namespace clover::log {
namespace {

constexpr absl::string_view kInclusionPath = "/v1/log/proof/inclusion";
constexpr absl::string_view kConsistencyPath = "/v1/log/proof/consistency";
constexpr char kImmutable[] = "public, max-age=31536000, immutable";

// Errors are mapped as everywhere (server::HttpResponse::FromStatus: internal
// details stay in the server's log), and never cached.
server::HttpResponse FromStatus(const absl::Status& st) {
  server::HttpResponse r = server::HttpResponse::FromStatus(st);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// Canonical decimal uint64 query parameter.
absl::StatusOr<uint64_t> QueryUint(absl::string_view query,
                                   absl::string_view name) {
  std::optional<absl::string_view> value;
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> p =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first != name) continue;
    if (value)
      return absl::InvalidArgumentError(
          absl::StrCat("parameter ", name, " is repeated"));
    value = p.second;
  }
  if (!value)
    return absl::InvalidArgumentError(absl::StrCat("missing parameter ", name));
  uint64_t v = 0;
  if (value->empty() || value->size() > 20 ||
      (value->size() > 1 && (*value)[0] == '0') ||
      !std::all_of(value->begin(), value->end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(*value, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter ", name, " must be a non-negative decimal integer"));
  }
  return v;
}

std::string HashesJson(const std::vector<Hash>& hashes) {
  std::string out = "[";
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(
        &out, "\"",
        absl::Base64Escape(absl::string_view(
            reinterpret_cast<const char*>(hashes[i].data()), kHashSize)),
        "\"");
  }
  out += ']';
  return out;
}

server::HttpResponse JsonOk(std::string body) {
  server::HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = std::move(body);
  return r;
}

}  // namespace

server::HttpResponse LogErrorResponse(int status, absl::string_view code,
                                      absl::string_view message) {
  server::HttpResponse r = server::HttpResponse::Error(status, code, message);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

LogHttpHandler::LogHttpHandler(const LogReader& reader, std::string log_prefix)
    : reader_(reader), prefix_(std::move(log_prefix)) {}

bool LogHttpHandler::Owns(absl::string_view path) const {
  if (path == kInclusionPath || path == kConsistencyPath) return true;
  if (!absl::ConsumePrefix(&path, prefix_)) return false;
  return path == "/checkpoint" || absl::StartsWith(path, "/tile/");
}

server::HttpResponse LogHttpHandler::Handle(absl::string_view method,
                                            absl::string_view path,
                                            absl::string_view query) const {
  if (!Owns(path))
    return LogErrorResponse(404, "not_found", "no such log resource");
  if (method != "GET" && method != "HEAD") {
    auto r = LogErrorResponse(405, "method_not_allowed",
                              "only GET and HEAD are allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path == kInclusionPath) return Inclusion(query);
  if (path == kConsistencyPath) return Consistency(query);
  absl::string_view rel = path.substr(prefix_.size() + 1);
  if (rel == "checkpoint") {
    server::HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    // Mutable: caches may keep it only a few seconds (tlog-tiles).
    r.headers.emplace_back("Cache-Control", "public, max-age=2");
    r.body = reader_.SignedCheckpoint();
    return r;
  }
  return Tile(rel);
}

server::HttpResponse LogHttpHandler::Tile(absl::string_view rel) const {
  auto path = ParseTilePath(rel);
  if (!path.ok())
    return LogErrorResponse(400, "invalid_argument", path.status().message());
  auto bytes = path->entries
                   ? reader_.ReadEntryBundle(path->index, path->width)
                   : reader_.ReadTile(path->level, path->index, path->width);
  if (!bytes.ok()) return FromStatus(bytes.status());
  server::HttpResponse r;
  r.content_type = "application/octet-stream";
  // A tile or bundle of a given width never changes, partial ones included.
  r.headers.emplace_back("Cache-Control", kImmutable);
  r.body = *std::move(bytes);
  return r;
}

server::HttpResponse LogHttpHandler::Inclusion(absl::string_view query) const {
  auto index = QueryUint(query, "index");
  if (!index.ok()) return FromStatus(index.status());
  auto size = QueryUint(query, "size");
  if (!size.ok()) return FromStatus(size.status());
  auto proof = reader_.InclusionProof(*index, *size);
  if (!proof.ok()) return FromStatus(proof.status());
  return JsonOk(absl::StrCat("{\"index\":", *index, ",\"size\":", *size,
                             ",\"hashes\":", HashesJson(*proof), "}"));
}

server::HttpResponse LogHttpHandler::Consistency(
    absl::string_view query) const {
  auto from = QueryUint(query, "from");
  if (!from.ok()) return FromStatus(from.status());
  auto to = QueryUint(query, "to");
  if (!to.ok()) return FromStatus(to.status());
  auto proof = reader_.ConsistencyProof(*from, *to);
  if (!proof.ok()) return FromStatus(proof.status());
  return JsonOk(absl::StrCat("{\"from\":", *from, ",\"to\":", *to,
                             ",\"hashes\":", HashesJson(*proof), "}"));
}

server::Handler LogHttpHandler::AsHandler() const {
  return [this](server::HttpRequest& request, server::Responder respond) {
    server::HttpResponse r =
        Handle(request.method, request.path, request.query);
    if (request.method == "HEAD") r.body.clear();
    respond(std::move(r));
  };
}

}  // namespace clover::log
