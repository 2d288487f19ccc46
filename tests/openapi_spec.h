// Test support: docs/openapi.yaml, loaded once, and a validator of real
// responses against it. CheckResponse finds the operation a request reached
// (method and path against the spec's templated paths, `x-clover-route`
// "/*" patterns matching the rest of the path), requires the status to be
// documented for it (or in `x-clover-common-responses`), headers the response
// declares `required` (Retry-After on 429/503, Allow on 405) to be present,
// and a JSON body to validate against the response's schema.
//
// The JSON Schema subset the spec uses: type (one or a list), const, enum,
// properties, required, additionalProperties (bool or schema), items,
// minItems/maxItems, minimum/maximum, minLength/maxLength, oneOf, anyOf, $ref
// ("#/…" within the document); format, pattern, contentEncoding, description
// and the like are annotations here. A keyword outside that list fails the
// load, so the spec cannot silently use one the validator ignores.
//
// Header-only so that every e2e test including tests/gateway_test_client.h
// checks its responses without CMake changes (yaml-cpp comes with
// clover_core).
#ifndef CLOVER_TESTS_OPENAPI_SPEC_H_
#define CLOVER_TESTS_OPENAPI_SPEC_H_

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace clover::api_spec {

namespace openapi_internal {

inline void YamlToJson(const YAML::Node& n, rapidjson::Value& out,
                       rapidjson::Document::AllocatorType& a) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out.SetObject();
      for (const auto& kv : n) {
        rapidjson::Value key(kv.first.as<std::string>().c_str(), a);
        rapidjson::Value v;
        YamlToJson(kv.second, v, a);
        out.AddMember(key, v, a);
      }
      return;
    case YAML::NodeType::Sequence:
      out.SetArray();
      for (const auto& item : n) {
        rapidjson::Value v;
        YamlToJson(item, v, a);
        out.PushBack(v, a);
      }
      return;
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "?") {  // plain: YAML 1.2 core schema types
        int64_t i;
        double d;
        if (s == "true" || s == "false") {
          out.SetBool(s == "true");
          return;
        }
        if (s == "null" || s == "~") {
          out.SetNull();
          return;
        }
        if (absl::SimpleAtoi(s, &i)) {
          out.SetInt64(i);
          return;
        }
        if (s.find_first_of("0123456789") == 0 && absl::SimpleAtod(s, &d)) {
          out.SetDouble(d);
          return;
        }
      }
      out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
      return;
    }
    default:
      out.SetNull();
  }
}

inline std::string Dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  std::string s = buf.GetString();
  return s.size() > 200 ? s.substr(0, 200) + "…" : s;
}

inline const std::set<std::string>& KnownKeywords() {
  static const auto* k = new std::set<std::string>{
      "type", "const", "enum", "properties", "required", "additionalProperties",
      "items", "minItems", "maxItems", "minimum", "maximum", "minLength",
      "maxLength", "oneOf", "anyOf", "$ref",
      // annotations
      "description", "format", "pattern", "contentEncoding", "default", "title",
      "examples"};
  return *k;
}

}  // namespace openapi_internal

class ApiSpec {
 public:
  struct Route {
    std::string method;   // "GET"
    std::string pattern;  // the router's pattern, e.g. "/log/*"
    bool conditional = false;
    bool operator<(const Route& o) const {
      return std::tie(method, pattern) < std::tie(o.method, o.pattern);
    }
  };

  static absl::StatusOr<std::unique_ptr<ApiSpec>> Load(
      const std::string& path) {
    auto spec = std::unique_ptr<ApiSpec>(new ApiSpec());
    try {
      YAML::Node root = YAML::LoadFile(path);
      openapi_internal::YamlToJson(root, spec->doc_, spec->doc_.GetAllocator());
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
    }
    if (!spec->doc_.IsObject() || !spec->doc_.HasMember("paths")) {
      return absl::InvalidArgumentError(path + ": no paths");
    }
    if (absl::Status s = spec->CheckKeywords(); !s.ok()) return s;
    return spec;
  }

  // docs/openapi.yaml of this source tree; a load failure aborts (every
  // caller is a test that cannot go on without it).
  static const ApiSpec& Default() {
    static const ApiSpec* spec = [] {
      auto s = Load(absl::StrCat(CLOVER_SOURCE_DIR, "/docs/openapi.yaml"));
      if (!s.ok()) {
        fprintf(stderr, "docs/openapi.yaml: %s\n",
                std::string(s.status().message()).c_str());
        std::abort();
      }
      return s->release();
    }();
    return *spec;
  }

  const rapidjson::Document& doc() const { return doc_; }

  // Every operation served by `server` ("node", "auditor", "witness").
  std::vector<Route> RoutesFor(absl::string_view server) const {
    std::vector<Route> out;
    for (const auto& p : doc_["paths"].GetObject()) {
      const std::string pattern = RouterPattern(p.name.GetString(), p.value);
      for (const auto& op : p.value.GetObject()) {
        std::string method = op.name.GetString();
        if (!IsMethod(method)) continue;
        const rapidjson::Value& o = op.value;
        bool served = false;
        if (o.HasMember("x-clover-servers")) {
          for (const auto& s : o["x-clover-servers"].GetArray()) {
            served = served || server == s.GetString();
          }
        }
        if (!served) continue;
        out.push_back({absl::AsciiStrToUpper(method), pattern,
                       o.HasMember("x-clover-conditional")});
      }
    }
    return out;
  }

  // OK when the response is one the spec documents for the operation
  // `method path` reached; else the first discrepancy. `header` returns a
  // response header's value ("" when absent; names lower-case).
  absl::Status CheckResponse(
      absl::string_view method, absl::string_view target, int status,
      absl::string_view content_type, const std::string& body,
      const std::function<std::string(absl::string_view)>& header) const {
    std::string path(target.substr(0, target.find('?')));
    const rapidjson::Value* op = FindOperation(method, path);
    const std::string what = absl::StrCat(method, " ", path, " ", status);
    if (op == nullptr) {
      // The router's own answers: 404 on an unknown path, 405 on a known
      // path with another method.
      if (status == 404 || (status == 405 && FindPath(path) != nullptr)) {
        return CheckError(what, body);
      }
      return absl::NotFoundError(
          absl::StrCat(what, ": no such operation in docs/openapi.yaml"));
    }
    const std::string code = absl::StrCat(status);
    const rapidjson::Value* response = nullptr;
    if ((*op)["responses"].HasMember(code.c_str())) {
      response = &(*op)["responses"][code.c_str()];
    } else if (doc_.HasMember("x-clover-common-responses") &&
               doc_["x-clover-common-responses"].HasMember(code.c_str())) {
      response = &doc_["x-clover-common-responses"][code.c_str()];
    }
    if (response == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(what, ": status not documented for this operation"));
    }
    response = &Resolve(*response);
    if (response->HasMember("headers")) {
      for (const auto& h : (*response)["headers"].GetObject()) {
        const rapidjson::Value& decl = Resolve(h.value);
        if (decl.HasMember("required") && decl["required"].IsTrue() &&
            header(absl::AsciiStrToLower(h.name.GetString())).empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              what, ": required header ", h.name.GetString(), " missing"));
        }
      }
    }
    const std::string media(absl::StripAsciiWhitespace(
        content_type.substr(0, content_type.find(';'))));
    if (!response->HasMember("content")) return absl::OkStatus();
    const rapidjson::Value& content = (*response)["content"];
    if (!content.HasMember(media.c_str())) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": content type '", media, "' not documented"));
    }
    if (media != "application/json") return absl::OkStatus();
    rapidjson::Document instance;
    instance.Parse(body.c_str(), body.size());
    if (instance.HasParseError()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": body is not JSON: ", body.substr(0, 200)));
    }
    const rapidjson::Value& media_obj = content[media.c_str()];
    if (!media_obj.HasMember("schema")) return absl::OkStatus();
    return Validate(media_obj["schema"], instance, what + " body");
  }

  // Validates `instance` against `schema` (a part of this document).
  absl::Status Validate(const rapidjson::Value& schema,
                        const rapidjson::Value& instance,
                        const std::string& where) const {
    using openapi_internal::Dump;
    const rapidjson::Value& s = Resolve(schema);
    auto fail = [&](absl::string_view why) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": ", why, " (value ", Dump(instance), ")"));
    };
    if (s.HasMember("type")) {
      bool ok = false;
      if (s["type"].IsArray()) {
        for (const auto& t : s["type"].GetArray())
          ok = ok || HasType(instance, t.GetString());
      } else {
        ok = HasType(instance, s["type"].GetString());
      }
      if (!ok) return fail(absl::StrCat("not of type ", Dump(s["type"])));
    }
    if (s.HasMember("const") && !(s["const"] == instance)) {
      return fail(absl::StrCat("not the constant ", Dump(s["const"])));
    }
    if (s.HasMember("enum")) {
      bool ok = false;
      for (const auto& e : s["enum"].GetArray()) ok = ok || e == instance;
      if (!ok) return fail("not in the enum");
    }
    if (instance.IsNumber()) {
      if (s.HasMember("minimum") &&
          instance.GetDouble() < s["minimum"].GetDouble())
        return fail("below the minimum");
      if (s.HasMember("maximum") &&
          instance.GetDouble() > s["maximum"].GetDouble())
        return fail("above the maximum");
    }
    if (instance.IsString()) {
      const auto n = instance.GetStringLength();
      if (s.HasMember("minLength") && n < s["minLength"].GetUint())
        return fail("too short");
      if (s.HasMember("maxLength") && n > s["maxLength"].GetUint())
        return fail("too long");
    }
    if (instance.IsObject()) {
      if (s.HasMember("required")) {
        for (const auto& r : s["required"].GetArray()) {
          if (!instance.HasMember(r.GetString()))
            return fail(absl::StrCat("missing required '", r.GetString(), "'"));
        }
      }
      for (const auto& m : instance.GetObject()) {
        const std::string name = m.name.GetString();
        const std::string at = absl::StrCat(where, ".", name);
        if (s.HasMember("properties") &&
            s["properties"].HasMember(name.c_str())) {
          if (auto st = Validate(s["properties"][name.c_str()], m.value, at);
              !st.ok())
            return st;
        } else if (s.HasMember("additionalProperties")) {
          const rapidjson::Value& ap = s["additionalProperties"];
          if (ap.IsFalse())
            return fail(absl::StrCat("unexpected '", name, "'"));
          if (ap.IsObject()) {
            if (auto st = Validate(ap, m.value, at); !st.ok()) return st;
          }
        }
      }
    }
    if (instance.IsArray()) {
      const auto n = instance.Size();
      if (s.HasMember("minItems") && n < s["minItems"].GetUint())
        return fail("too few items");
      if (s.HasMember("maxItems") && n > s["maxItems"].GetUint())
        return fail("too many items");
      if (s.HasMember("items")) {
        for (rapidjson::SizeType i = 0; i < n; ++i) {
          if (auto st = Validate(s["items"], instance[i],
                                 absl::StrCat(where, "[", i, "]"));
              !st.ok())
            return st;
        }
      }
    }
    if (s.HasMember("oneOf")) {
      int matches = 0;
      for (const auto& alt : s["oneOf"].GetArray())
        matches += Validate(alt, instance, where).ok();
      if (matches != 1)
        return fail(absl::StrCat("matches ", matches, " oneOf alternatives"));
    }
    if (s.HasMember("anyOf")) {
      bool ok = false;
      for (const auto& alt : s["anyOf"].GetArray())
        ok = ok || Validate(alt, instance, where).ok();
      if (!ok) return fail("matches no anyOf alternative");
    }
    return absl::OkStatus();
  }

  // Follows "$ref" ("#/a/b") until a value without one.
  const rapidjson::Value& Resolve(const rapidjson::Value& v) const {
    const rapidjson::Value* cur = &v;
    for (int depth = 0; depth < 16 && cur->IsObject() && cur->HasMember("$ref");
         ++depth) {
      std::string ref = (*cur)["$ref"].GetString();
      const rapidjson::Value* target = &doc_;
      for (absl::string_view part :
           absl::StrSplit(absl::string_view(ref).substr(2), '/')) {
        const std::string key(part);
        if (!target->IsObject() || !target->HasMember(key.c_str())) {
          fprintf(stderr, "openapi: unresolved $ref %s\n", ref.c_str());
          std::abort();
        }
        target = &(*target)[key.c_str()];
      }
      cur = target;
    }
    return *cur;
  }

 private:
  ApiSpec() = default;

  static bool IsMethod(absl::string_view m) {
    return m == "get" || m == "put" || m == "post" || m == "delete" ||
           m == "patch" || m == "head" || m == "options";
  }

  static bool HasType(const rapidjson::Value& v, absl::string_view t) {
    if (t == "object") return v.IsObject();
    if (t == "array") return v.IsArray();
    if (t == "string") return v.IsString();
    if (t == "boolean") return v.IsBool();
    if (t == "null") return v.IsNull();
    if (t == "integer") return v.IsInt64() || v.IsUint64();
    if (t == "number") return v.IsNumber();
    return false;
  }

  static std::string RouterPattern(const std::string& path,
                                   const rapidjson::Value& item) {
    for (const auto& op : item.GetObject()) {
      if (op.value.IsObject() && op.value.HasMember("x-clover-route"))
        return op.value["x-clover-route"].GetString();
    }
    return path;
  }

  // The path item `path` reaches: literal segments beat `{param}`, which
  // beats a "/*" rest pattern (as server/router.h).
  const rapidjson::Value* FindPath(const std::string& path) const {
    const rapidjson::Value* best = nullptr;
    std::vector<int> best_rank;
    std::vector<std::string> segs = absl::StrSplit(path.substr(1), '/');
    for (const auto& p : doc_["paths"].GetObject()) {
      const std::string pattern = RouterPattern(p.name.GetString(), p.value);
      std::vector<std::string> pat = absl::StrSplit(pattern.substr(1), '/');
      const bool rest = pat.back() == "*";
      if (rest ? segs.size() + 1 < pat.size() : segs.size() != pat.size())
        continue;
      std::vector<int> rank;
      bool ok = true;
      for (size_t i = 0; i < pat.size() && ok; ++i) {
        if (pat[i] == "*") {
          rank.push_back(2);
        } else if (!pat[i].empty() && pat[i][0] == '{') {
          ok = !segs[i].empty();
          rank.push_back(1);
        } else {
          ok = pat[i] == segs[i];
          rank.push_back(0);
        }
      }
      if (ok && (best == nullptr || rank < best_rank)) {
        best = &p.value;
        best_rank = rank;
      }
    }
    return best;
  }

  const rapidjson::Value* FindOperation(absl::string_view method,
                                        const std::string& path) const {
    const rapidjson::Value* item = FindPath(path);
    if (item == nullptr) return nullptr;
    const std::string m = absl::AsciiStrToLower(method);
    if (!item->HasMember(m.c_str())) {
      // HEAD is answered as GET by the transport.
      if (m == "head" && item->HasMember("get")) return &(*item)["get"];
      return nullptr;
    }
    return &(*item)[m.c_str()];
  }

  absl::Status CheckError(const std::string& what,
                          const std::string& body) const {
    rapidjson::Document instance;
    instance.Parse(body.c_str(), body.size());
    if (instance.HasParseError())
      return absl::FailedPreconditionError(what + ": body is not JSON");
    return Validate(doc_["components"]["schemas"]["ErrorBody"], instance,
                    what + " body");
  }

  // Every schema object's keywords are ones Validate knows.
  absl::Status CheckKeywords() const {
    std::vector<std::pair<const rapidjson::Value*, std::string>> todo;
    for (const auto& s : doc_["components"]["schemas"].GetObject())
      todo.push_back({&s.value, s.name.GetString()});
    // Schemas inside paths: every "schema" member anywhere.
    std::function<void(const rapidjson::Value&, const std::string&)> find =
        [&](const rapidjson::Value& v, const std::string& at) {
          if (v.IsObject()) {
            for (const auto& m : v.GetObject()) {
              const std::string name = m.name.GetString();
              if (name == "schema") {
                todo.push_back({&m.value, at + "/schema"});
              } else {
                find(m.value, at + "/" + name);
              }
            }
          } else if (v.IsArray()) {
            for (const auto& x : v.GetArray()) find(x, at);
          }
        };
    find(doc_["paths"], "paths");
    find(doc_["components"], "components");
    while (!todo.empty()) {
      auto [v, at] = todo.back();
      todo.pop_back();
      if (!v->IsObject()) continue;
      for (const auto& m : v->GetObject()) {
        const std::string k = m.name.GetString();
        if (!openapi_internal::KnownKeywords().contains(k)) {
          return absl::InvalidArgumentError(
              absl::StrCat(at, ": schema keyword '", k,
                           "' is not one tests/openapi_spec.h validates"));
        }
        if (k == "properties") {
          for (const auto& p : m.value.GetObject())
            todo.push_back({&p.value, at + "/" + p.name.GetString()});
        } else if (k == "items" || k == "additionalProperties") {
          todo.push_back({&m.value, at + "/" + k});
        } else if (k == "oneOf" || k == "anyOf") {
          for (const auto& x : m.value.GetArray()) todo.push_back({&x, at});
        }
      }
    }
    return absl::OkStatus();
  }

  rapidjson::Document doc_;
};

// Checks one response of the API against docs/openapi.yaml.
inline absl::Status CheckApiResponse(
    absl::string_view method, absl::string_view target, int status,
    absl::string_view content_type, const std::string& body,
    const std::function<std::string(absl::string_view)>& header) {
  return ApiSpec::Default().CheckResponse(method, target, status, content_type,
                                          body, header);
}

}  // namespace clover::api_spec

#endif  // CLOVER_TESTS_OPENAPI_SPEC_H_
