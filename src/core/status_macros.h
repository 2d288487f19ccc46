// Status propagation helpers: the one error model is absl::Status /
// absl::StatusOr.
#ifndef CLOVER_CORE_STATUS_MACROS_H_
#define CLOVER_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CLOVER_CONCAT_INNER_(a, b) a##b
#define CLOVER_CONCAT_(a, b) CLOVER_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define CLOVER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status clover_status_ = (expr);          \
    if (!clover_status_.ok()) return clover_status_; \
  } while (0)

// `CLOVER_ASSIGN_OR_RETURN(auto x, F());` assigns the value of a StatusOr or
// returns its error.
#define CLOVER_ASSIGN_OR_RETURN(lhs, expr)                                  \
  CLOVER_ASSIGN_OR_RETURN_IMPL_(CLOVER_CONCAT_(clover_statusor_, __LINE__), \
                                lhs, expr)
#define CLOVER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

#endif  // CLOVER_CORE_STATUS_MACROS_H_
