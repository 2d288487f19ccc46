// The console's approvals desk and subject access report (issue 22; docs/
// console.md): the auditor calls the nodes' approval and report endpoints
// with its own client identity (`approvals.desk`, audit/audit_config.h) and
// attests every approval it issues with its key (approvals/attestation.h).
//
//   GET  /ui/api/approvals[?state=S]        every desk node's approvals (S:
//        pending, approved, denied, expired, revoked; none: all), newest
//        first, each with "node"; nodes that did not answer in
//        "unavailable"                                              [read]
//        A look-up reads at most `max_pages` pages of `page_size` from each
//        node (ApprovalDeskConfig); a node with more is named in "more" with
//        a page token, and `?node=N&page_token=T` continues it (that node
//        only). The same holds for the access report below.
//   POST /ui/api/approvals/{node}/{id}/approve {"duration":"1h","reason":".."}
//   POST /ui/api/approvals/{node}/{id}/deny    {"reason":".."}
//   POST /ui/api/approvals/{node}/{id}/revoke  {"reason":".."}
//                                               [admin, session + CSRF]
//   GET  /ui/api/access-report?subject=ID   every desk node's access report on
//        the subject: each entry's exact bytes and a c2sp.org/tlog-proof@v1
//        against the signed checkpoint the node returned with it, for the
//        browser to verify (console/src/verify.ts)                  [read]
//
// Contract:
// - Only console sessions (cookie; CSRF token on changes) reach these routes,
//   with the role of their credential (audit/console.h).
// - An approval is issued only with the auditor's attestation of exactly the
//   request the node returns (its id, request hash, grantee), for the duration
//   asked; a duration beyond the node's `max_duration` for the request is
//   refused here (400) before the node is called, and the node enforces it
//   again. The node logs every transition before it applies it.
// - Bad input is a 4xx JSON error; an unreachable node (or one answering
//   5xx or nonsense) is 502 `unavailable`; a request no longer pending is 409
//   `conflict`; the node's own 4xx refusals are passed through. API
//   keys and the signing key never appear in answers or logs.
// - Node calls run on the desk's own threads (at most kDeskQueue waiting,
//   else 503), never on the auditor's HTTP threads.
#ifndef CLOVER_AUDIT_APPROVALS_DESK_H_
#define CLOVER_AUDIT_APPROVALS_DESK_H_

#include <cstddef>

#include "audit/audit_config.h"
#include "audit/console.h"
#include "server/router.h"

namespace clover::audit {

inline constexpr size_t kDeskQueue = 64;

// Adds the routes above to `router`. With no desk nodes configured, the GET
// routes answer {"configured":false,...} and the changes 409
// `failed_precondition`. `sessions` must outlive the router's handler.
void RegisterApprovalsDeskRoutes(server::Router& router,
                                 const ApprovalDeskConfig& desk,
                                 ConsoleSessions& sessions);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_APPROVALS_DESK_H_
