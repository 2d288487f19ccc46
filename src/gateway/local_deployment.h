// Turns a region-wide deployment into ready-to-start node configurations on
// this machine: generates each region's key-encryption and pseudonym keys and
// each DC's log signing key under `data_dir/keys`, and gives each DC a node
// section (loopback port, data directory). Used by `clover demo` and the
// end-to-end tests.
#ifndef CLOVER_GATEWAY_LOCAL_DEPLOYMENT_H_
#define CLOVER_GATEWAY_LOCAL_DEPLOYMENT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"

namespace clover::gateway {

struct LocalNode {
  std::string dc;
  std::string region;
  std::string endpoint;      // "http://127.0.0.1:PORT"
  std::string verifier_key;  // the node's log verifier key (note format)
  Deployment deployment;     // with node, log and keys sections filled in
};

// `pick_port` (if set) picks each node's port, else `base_port` > 0 assigns
// consecutive ones; either way the DC endpoints are rewritten to match, so
// redirects point at the right place. Otherwise the configured endpoints' ports
// are kept. Errors: FailedPrecondition if `data_dir` cannot be created; key
// generation errors.
[[nodiscard]] absl::StatusOr<std::vector<LocalNode>> PrepareLocalDeployment(
    Deployment base, const std::string& data_dir, int base_port,
    const std::function<int()>& pick_port = nullptr);

// A node configuration file for `clover serve` equivalent to `node.deployment`:
// regions, node, storage, log, keys, policy and privacy inline; jurisdictions,
// schema and principals included from `examples_dir` (which must hold the files
// the deployment was loaded from).
[[nodiscard]] std::string NodeConfigYaml(const LocalNode& node,
                                         const std::string& examples_dir);

// A TCP port on 127.0.0.1 that was free a moment ago (for tests and tools that
// start servers; another process could still take it before it is bound again).
[[nodiscard]] int FreeLoopbackPort();

// The API key of an example principal, as published in examples/README.md
// (examples only), or empty for an unknown principal.
[[nodiscard]] std::string ExampleApiKey(absl::string_view principal);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_LOCAL_DEPLOYMENT_H_
