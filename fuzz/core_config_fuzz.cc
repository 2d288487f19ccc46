// Any bytes as a deployment configuration: an error or a deployment, never a
// crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/deployment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // Includes resolve relative to a directory that holds no YAML files, so a
  // fuzzed include path fails cleanly instead of reading the machine's files.
  auto d =
      clover::ParseDeployment(text, "/nonexistent-clover-fuzz/config.yaml");
  if (d.ok()) (void)clover::DescribeTopology(*d);
  return 0;
}
