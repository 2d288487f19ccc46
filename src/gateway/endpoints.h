// Internal to the gateway: the endpoint families of docs/api.md, one file
// each, all going through gateway/pipeline.h. Each registers its routes on
// `router`; the routes keep what they need alive, and `pipe` must outlive
// them.
#ifndef CLOVER_GATEWAY_ENDPOINTS_H_
#define CLOVER_GATEWAY_ENDPOINTS_H_

#include <string>
#include <utility>
#include <vector>

#include "gateway/pipeline.h"
#include "server/router.h"

namespace clover::gateway {

// PUT, GET, DELETE /v1/subjects/{id} (subjects.cc).
void AddSubjectRoutes(Pipeline& pipe, server::Router& router);
// One write of `subject` with the record JSON `body`, by the authenticated
// `p` for `purpose`, exactly as PUT /v1/subjects/{id} makes it: decided over
// every field of the schema where it would be stored, refused and logged if
// not allowed, 421 for another region, checked against the stored row, then
// logged and stored; `respond` gets the PUT's answer (subjects.cc). The
// legacy migration's batch writes take each record through it.
void WriteSubject(Pipeline& pipe, const Principal& p,
                  const std::string& purpose, const std::string& subject,
                  const std::string& body, server::Responder respond);
// Several WriteSubject calls (items: subject, body) decided, refused and
// logged exactly as WriteSubject each, one decision entry per record; the
// vault writes of those allowed and logged are made durable together in one
// storage write (Vault::PutBatch) once all their entries are durable.
// `respond[i]` answers item i.
void WriteSubjects(Pipeline& pipe, const Principal& p,
                   const std::string& purpose,
                   std::vector<std::pair<std::string, std::string>> items,
                   std::vector<server::Responder> respond);
// GET /v1/subjects/{id}/access-report (reports.cc).
void AddReportRoutes(Pipeline& pipe, server::Router& router);
// POST /v1/exports (exports.cc).
void AddExportRoutes(Pipeline& pipe, server::Router& router);
// POST /v1/detokenize (tokens.cc).
void AddTokenRoutes(Pipeline& pipe, server::Router& router);
// POST /v1/aggregates (aggregates.cc).
void AddAggregateRoutes(Pipeline& pipe, server::Router& router);
// /v1/approvals and its transitions (approval_routes.cc).
void AddApprovalRoutes(Pipeline& pipe, server::Router& router);
// POST /v1/migrations/records[/verify], /v1/migrations/deletions: the legacy
// migration's batch writes, read-back and deletion attestations
// (migrations.cc).
void AddMigrationRoutes(Pipeline& pipe, server::Router& router);

// GET /logs/<dc>/...: the region's other logs, read-only
// (peer_log_routes.cc). `logs` must outlive the routes.
class PeerLogs;
void AddPeerLogRoutes(Pipeline& pipe, PeerLogs& logs, server::Router& router);

// Expiry is in force by time alone (a grant past its end is never found);
// the transitions are logged, then stored (approval_routes.cc).
void ExpireApprovals(Pipeline& pipe);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_ENDPOINTS_H_
