// bench_policy [--quick]: prints the policy engine's figures, each with a
// baseline measured in the same run.
//   1. Decide: one 10-field request against a 1,000-rule bundle; median and p99
//   per request,
//      compiled evaluator vs the reference evaluator (a plain loop over the
//      rules).
//   2. Load + compile a 10,000-rule bundle (bytes -> SHA-256 + YAML -> AST ->
//   index), vs
//      yaml-cpp parsing the same text alone.
//   3. Proof of the example bundle's invariants over the example deployment,
//   and the full
//      analysis (shadowed rules included).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "policy/analyzer.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/reference_evaluator.h"
#include "policy/request_data.h"
#include "yaml-cpp/yaml.h"

namespace clover::policy {
namespace {

using Clock = std::chrono::steady_clock;

double NsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

// CPU time of this thread: what the work costs even when the machine is shared.
double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

// A vocabulary shaped like a real deployment: tens of principals and orgs, a
// dozen purposes, the six actions, a dozen jurisdictions, and a 10-field
// schema.
struct Vocabulary {
  std::vector<std::string> ids, orgs, roles, countries, jurisdictions, purposes,
      categories;
  std::vector<FieldData> fields;
  Vocabulary() {
    for (int i = 0; i < 60; ++i)
      ids.push_back("principal-" + std::to_string(i));
    for (int i = 0; i < 20; ++i) orgs.push_back("org-" + std::to_string(i));
    for (int i = 0; i < 15; ++i) roles.push_back("role-" + std::to_string(i));
    countries = {"IE", "DE", "FR", "PL", "NO", "US",
                 "CN", "GB", "CH", "BR", "IN", "JP"};
    jurisdictions = {"eu", "us", "cn", "uk", "ch", "br", "in", "jp"};
    for (int i = 0; i < 12; ++i)
      purposes.push_back("purpose-" + std::to_string(i));
    categories = {"contact",  "identity", "network",  "device",
                  "behavior", "content",  "financial"};
    fields = {{"email", "contact", true},
              {"phone", "contact", true},
              {"name", "identity", false},
              {"birthdate", "identity", false},
              {"ip_address", "network", true},
              {"device_id", "device", false},
              {"watch_history", "behavior", false},
              {"follows", "behavior", false},
              {"uploaded_videos", "content", false},
              {"payment_country", "financial", true}};
  }
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }
  const std::string& Pick(const std::vector<std::string>& v) {
    return v[Uniform(v.size())];
  }

  std::string List(const std::vector<std::string>& v, int max) {
    std::string out = "[";
    const int n = 1 + Uniform(max);
    for (int i = 0; i < n; ++i) out += (i ? ", " : "") + Pick(v);
    return out + "]";
  }

  // Rules look like hand-written ones: 3-6 conditions, mostly on purpose,
  // action, jurisdictions, role and field category; some negated.
  std::string Bundle(const Vocabulary& voc, int rules) {
    static const std::vector<std::string> kEffects = {
        "allow", "generalize", "pseudonymize", "aggregate", "approval", "deny"};
    static const std::vector<std::string> kActions = {
        "read", "export", "detokenize", "aggregate", "write", "erase"};
    std::string out = "version: 1\nrules:\n";
    for (int i = 0; i < rules; ++i) {
      const std::string& effect = Pick(kEffects);
      out += "  - id: rule-" + std::to_string(i) + "\n    effect: " + effect +
             "\n";
      if (effect == "aggregate") out += "    params: {epsilon: 0.5}\n";
      out += "    when:\n";
      out += "      purpose: " + List(voc.purposes, 2) + "\n";
      if (Uniform(10) < 8) out += "      action: " + List(kActions, 2) + "\n";
      if (Uniform(10) < 5)
        out += "      principal.role: " + List(voc.roles, 2) + "\n";
      if (Uniform(10) < 2)
        out += "      principal.id: " + List(voc.ids, 3) + "\n";
      if (Uniform(10) < 2)
        out += "      principal.org: " + List(voc.orgs, 2) + "\n";
      if (Uniform(10) < 5) {
        out += std::string("      principal.jurisdiction: ") +
               (Uniform(3) == 0 ? "{not: " + List(voc.jurisdictions, 2) + "}"
                                : List(voc.jurisdictions, 2)) +
               "\n";
      }
      if (Uniform(10) < 5)
        out +=
            "      subject.jurisdiction: " + List(voc.jurisdictions, 2) + "\n";
      if (Uniform(10) < 6) {
        out += std::string("      destination: ") +
               (Uniform(3) == 0 ? "{not: " + List(voc.jurisdictions, 1) + "}"
                                : List(voc.jurisdictions, 2)) +
               "\n";
      }
      if (Uniform(10) < 6)
        out += "      field.category: " + List(voc.categories, 3) + "\n";
      if (Uniform(10) < 2)
        out += "      field.restricted: " +
               std::string(Uniform(2) ? "true" : "false") + "\n";
    }
    return out;
  }

  RequestData Request(const Vocabulary& voc) {
    static const std::vector<std::string> kKinds = {"service", "employee",
                                                    "auditor", "admin"};
    static const std::vector<std::string> kActions = {"read", "export",
                                                      "aggregate"};
    RequestData r;
    r.principal_id = Pick(voc.ids);
    r.principal_kind = Pick(kKinds);
    r.principal_org = Pick(voc.orgs);
    r.principal_roles = {Pick(voc.roles)};
    if (Uniform(3) == 0) r.principal_roles.push_back(Pick(voc.roles));
    r.principal_country = Pick(voc.countries);
    r.principal_jurisdiction = Pick(voc.jurisdictions);
    r.purpose = Pick(voc.purposes);
    r.action = Pick(kActions);
    r.subject_jurisdiction = Pick(voc.jurisdictions);
    r.destination =
        Uniform(2) ? r.principal_jurisdiction : Pick(voc.jurisdictions);
    return r;
  }

 private:
  std::mt19937_64 rng_;
};

void BenchDecide(bool quick) {
  const Vocabulary voc;
  Generator gen(42);
  absl::StatusOr<Bundle> bundle =
      ParseBundle(gen.Bundle(voc, 1000), "bench-1000.yaml");
  if (!bundle.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(bundle.status().message()).c_str());
    std::exit(1);
  }
  auto policy = CompiledPolicy::Compile(*bundle);
  std::vector<RequestData> requests;
  for (int i = 0; i < 1000; ++i) requests.push_back(gen.Request(voc));
  std::vector<FieldRef> fields;
  for (const FieldData& f : voc.fields) fields.push_back(f.View());
  std::vector<FieldDecision> out(fields.size());

  const int iterations = quick ? 20000 : 200000;
  std::vector<double> compiled_ns;
  compiled_ns.reserve(iterations);
  size_t matched = 0;
  for (int i = 0; i < iterations; ++i) {
    const Request r = requests[i % requests.size()].View();
    const auto start = Clock::now();
    (*policy)->Decide(r, fields, out);
    compiled_ns.push_back(NsSince(start));
    matched += out[0].matched_count;
  }
  // The same with the fields prepared once (how the gateway decides schema
  // fields).
  const CompiledPolicy::PreparedFields prepared = (*policy)->Prepare(fields);
  std::vector<double> prepared_ns;
  prepared_ns.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    const Request r = requests[i % requests.size()].View();
    const auto start = Clock::now();
    (*policy)->Decide(r, prepared, out);
    prepared_ns.push_back(NsSince(start));
    matched += out[0].matched_count;
  }
  // CPU time per request, over batches of 1,000 (a timer read per call would
  // cost more than the call); robust against other processes sharing the cores.
  std::vector<double> batch_cpu_ns;
  for (int b = 0; b < iterations / 1000; ++b) {
    const double start = ThreadCpuNs();
    for (int i = 0; i < 1000; ++i) {
      (*policy)->Decide(requests[i % requests.size()].View(), fields, out);
      matched += out[1].matched_count;
    }
    batch_cpu_ns.push_back((ThreadCpuNs() - start) / 1000);
  }
  std::vector<double> ref_batch_cpu_ns;
  for (int b = 0; b < (quick ? 2 : 10); ++b) {
    const double start = ThreadCpuNs();
    for (int i = 0; i < 100; ++i) {
      for (const FieldRef& f : fields) {
        matched +=
            EvaluateReference(*bundle, requests[i].View(), f).matched.size();
      }
    }
    ref_batch_cpu_ns.push_back((ThreadCpuNs() - start) / 100);
  }
  // Baseline: the reference evaluator, same requests, 10 fields each.
  std::vector<double> reference_ns;
  const int ref_iterations = quick ? 1000 : 10000;
  for (int i = 0; i < ref_iterations; ++i) {
    const Request r = requests[i % requests.size()].View();
    const auto start = Clock::now();
    for (const FieldRef& f : fields)
      matched += EvaluateReference(*bundle, r, f).matched.size();
    reference_ns.push_back(NsSince(start));
  }
  // Clock overhead, to read the per-request figures against.
  std::vector<double> clock_ns;
  for (int i = 0; i < 10000; ++i) {
    const auto start = Clock::now();
    clock_ns.push_back(NsSince(start));
  }
  const double c50 = Percentile(compiled_ns, 0.5),
               c99 = Percentile(compiled_ns, 0.99);
  const double r50 = Percentile(reference_ns, 0.5),
               r99 = Percentile(reference_ns, 0.99);
  std::printf(
      "decide: 10-field request, 1,000-rule bundle (%d requests; %zu matches "
      "seen)\n",
      iterations, matched);
  std::printf(
      "  compiled   median %8.0f ns   p99 %8.0f ns   (%.0f ns per field)\n",
      c50, c99, c50 / fields.size());
  std::printf(
      "  prepared   median %8.0f ns   p99 %8.0f ns   (fields resolved once)\n",
      Percentile(prepared_ns, 0.5), Percentile(prepared_ns, 0.99));
  std::printf("  reference  median %8.0f ns   p99 %8.0f ns   (baseline)\n", r50,
              r99);
  std::printf(
      "  CPU time   compiled %.0f ns/request (median batch), %.0f (p99 batch); "
      "reference %.0f ns/request: %.1fx\n",
      Percentile(batch_cpu_ns, 0.5), Percentile(batch_cpu_ns, 0.99),
      Percentile(ref_batch_cpu_ns, 0.5),
      Percentile(ref_batch_cpu_ns, 0.5) / Percentile(batch_cpu_ns, 0.5));
  std::printf(
      "  speed-up   median %.1fx   p99 %.1fx   (timer overhead %.0f ns)\n",
      r50 / c50, r99 / c99, Percentile(clock_ns, 0.5));
}

void BenchLoad(bool quick) {
  const Vocabulary voc;
  Generator gen(7);
  const std::string text = gen.Bundle(voc, 10000);
  const int runs = quick ? 2 : 5;
  std::vector<double> load_ms, compile_ms, yaml_ms, cpu_ms, yaml_cpu_ms;
  size_t rules = 0;
  for (int i = 0; i < runs; ++i) {
    double cpu = ThreadCpuNs();
    auto start = Clock::now();
    YAML::Node node = YAML::Load(text);
    yaml_ms.push_back(NsSince(start) / 1e6);
    yaml_cpu_ms.push_back((ThreadCpuNs() - cpu) / 1e6);
    cpu = ThreadCpuNs();
    rules += node["rules"].size();
    start = Clock::now();
    absl::StatusOr<Bundle> bundle = ParseBundle(text, "bench-10000.yaml");
    load_ms.push_back(NsSince(start) / 1e6);
    if (!bundle.ok()) std::exit(1);
    start = Clock::now();
    auto policy = CompiledPolicy::Compile(*bundle);
    compile_ms.push_back(NsSince(start) / 1e6);
    cpu_ms.push_back((ThreadCpuNs() - cpu) / 1e6);
    if (!policy.ok()) std::exit(1);
  }
  const double load = Percentile(load_ms, 0.5),
               compile = Percentile(compile_ms, 0.5);
  const double yaml = Percentile(yaml_ms, 0.5);
  std::printf("load: 10,000-rule bundle, %.2f MB (median of %d)\n",
              text.size() / 1e6, runs);
  std::printf("  parse+hash %7.1f ms   compile %6.1f ms   total %7.1f ms\n",
              load, compile, load + compile);
  std::printf(
      "  yaml-cpp alone %5.1f ms (baseline): total = %.2fx of the YAML parse\n",
      yaml, (load + compile) / yaml);
  std::printf(
      "  CPU time: load + compile %.1f ms, yaml-cpp alone %.1f ms (%.2fx)\n",
      Percentile(cpu_ms, 0.5), Percentile(yaml_cpu_ms, 0.5),
      Percentile(cpu_ms, 0.5) / Percentile(yaml_cpu_ms, 0.5));
  (void)rules;
}

void BenchProof(bool quick) {
  absl::StatusOr<Deployment> deployment = LoadDeployment(
      std::string(CLOVER_SOURCE_DIR) + "/examples/deployment.yaml");
  absl::StatusOr<Bundle> bundle =
      LoadBundle(std::string(CLOVER_SOURCE_DIR) + "/examples/policy.yaml");
  if (!deployment.ok() || !bundle.ok()) {
    std::fprintf(stderr, "cannot load the examples\n");
    std::exit(1);
  }
  const int runs = quick ? 5 : 50;
  std::vector<double> prove_ms, analyze_ms, parse_ms;
  uint64_t states = 0;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    absl::StatusOr<Bundle> b =
        LoadBundle(std::string(CLOVER_SOURCE_DIR) + "/examples/policy.yaml");
    parse_ms.push_back(NsSince(start) / 1e6);
    start = Clock::now();
    if (!ProveInvariants(*bundle, &*deployment).ok()) std::exit(1);
    prove_ms.push_back(NsSince(start) / 1e6);
    start = Clock::now();
    AnalysisOptions options;
    options.deployment = &*deployment;
    const AnalysisReport report = Analyze(*bundle, options);
    analyze_ms.push_back(NsSince(start) / 1e6);
    states = report.states_visited;
  }
  std::printf(
      "proof: example bundle (%zu rules, %zu invariants) over the example "
      "deployment\n",
      bundle->rules.size(), bundle->invariants.size());
  std::printf(
      "  invariants %6.2f ms   full analysis (+ shadowed rules) %6.2f ms, %llu "
      "states\n",
      Percentile(prove_ms, 0.5), Percentile(analyze_ms, 0.5),
      static_cast<unsigned long long>(states));
  std::printf(
      "  loading the bundle %5.2f ms (baseline): proof = %.1fx of the load\n",
      Percentile(parse_ms, 0.5),
      Percentile(prove_ms, 0.5) / Percentile(parse_ms, 0.5));
}

}  // namespace
}  // namespace clover::policy

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  clover::policy::BenchDecide(quick);
  clover::policy::BenchLoad(quick);
  clover::policy::BenchProof(quick);
  return 0;
}
