#include "approvals/approvals.h"

#include "absl/strings/str_cat.h"
#include "approvals/attestation.h"
#include "core/clock.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace clover::approvals {
namespace {

using ::testing::HasSubstr;

class ApprovalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = kv::KvStore::Open(dir_.Sub("db"));
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = *std::move(kv);
    ApprovalOptions opts;
    opts.pseudonymize = [](absl::string_view s) {
      return "tok-" + std::string(s);
    };
    auto store = ApprovalStore::Open(kv_.get(), opts, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  ApprovalRequestSpec Spec() {
    ApprovalRequestSpec s;
    s.principal = "cn-engineer-1";
    s.justification = Justification::kCustomerInitiatedSupport;
    s.detail = "TICKET-42";
    s.subjects = {"u1", "u2"};
    s.fields = {"email"};
    s.duration = absl::Hours(2);
    s.requester_country = "CN";
    return s;
  }

  const Approver auditor_{"auditor-1", "auditor", {}};
  test::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<ApprovalStore> store_;
};

// The record the store writes is what the auditor's ledger reads: one writer,
// one reader, and every member the reader checks survives the round trip.
TEST_F(ApprovalsTest, TransitionRecordRoundTrip) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok()) << created.status();
  clock_.Advance(absl::Minutes(5));
  auto approved = store_->Approve(created->approval.id, auditor_, "ok");
  ASSERT_TRUE(approved.ok()) << approved.status();
  auto r = ParseTransitionRecord(approved->record);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, created->approval.id);
  EXPECT_EQ(r->state, "approved");
  EXPECT_EQ(r->principal, "cn-engineer-1");
  EXPECT_EQ(r->by, "auditor-1");
  EXPECT_EQ(r->fields, std::vector<std::string>{"email"});
  EXPECT_TRUE(r->subjects_listed);
  EXPECT_EQ(r->subjects, (std::vector<std::string>{"tok-u1", "tok-u2"}));
  EXPECT_EQ(r->time, approved->approval.decided);
  EXPECT_EQ(r->expires, approved->approval.grant_expires);
  r->justification =
      std::string(ToString(Justification::kCustomerInitiatedSupport));
  r->requester_country = "CN";
  r->subject_count = 2;
  auto again = TransitionRecordToJson(*r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, approved->record);

  // Without a pseudonymizer only the count is logged, and a reader sees no
  // subject list.
  TransitionRecord counted = *r;
  counted.subjects_listed = false;
  auto json = TransitionRecordToJson(counted);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"subject_count\":2"));
  auto read = ParseTransitionRecord(*json);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->subjects_listed);
}

TEST(TransitionRecordTest, RefusesWhatIsNotATransition) {
  EXPECT_THAT(ParseTransitionRecord("[]").status().message(),
              HasSubstr("approval entry"));
  EXPECT_THAT(ParseTransitionRecord(
                  R"({"id":"","state":"approved","principal":"p","fields":[],)"
                  R"("time":"2026-01-01T00:00:00Z"})")
                  .status()
                  .message(),
              HasSubstr("field 'id'"));
  EXPECT_THAT(
      ParseTransitionRecord(
          R"({"id":"a","state":"approved","principal":"p","fields":[]})")
          .status()
          .message(),
      HasSubstr("field 'time': missing"));
  EXPECT_THAT(ParseTransitionRecord(
                  R"({"id":"a","state":"approved","principal":"p","fields":[],)"
                  R"("time":"yesterday"})")
                  .status()
                  .message(),
              HasSubstr("field 'time': not an RFC 3339 time"));
}

TEST_F(ApprovalsTest, CreateApproveGrantAndRecords) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->approval.state, ApprovalState::kPending);
  EXPECT_THAT(created->record, HasSubstr("\"state\":\"pending\""));
  EXPECT_THAT(created->record,
              HasSubstr("\"subjects\":[\"tok-u1\",\"tok-u2\"]"));
  EXPECT_THAT(created->record, ::testing::Not(HasSubstr("\"u1\"")));
  const std::string id = created->approval.id;

  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  auto approved = store_->Approve(id, auditor_, "ok");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_THAT(approved->record, HasSubstr("\"by\":\"auditor-1\""));
  rapidjson::Document d;
  d.Parse(approved->record.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["type"].GetString(), "approval");
  EXPECT_STREQ(d["state"].GetString(), "approved");

  auto grant =
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now());
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->id, id);
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u3", "email", clock_.Now()));
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "phone", clock_.Now()));
  EXPECT_FALSE(
      store_->FindLiveGrant("someone-else", "u1", "email", clock_.Now()));
  // Decided once only.
  EXPECT_EQ(store_->Deny(id, auditor_, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ApprovalsTest, OnlyApproversAndNeverSelf) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  Approver engineer{"eu-support-1", "employee", {"support"}};
  EXPECT_EQ(store_->Approve(id, engineer, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  Approver self{"cn-engineer-1", "employee", {"approver"}};
  EXPECT_EQ(store_->Approve(id, self, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  Approver role_holder{"security-lead", "employee", {"approver"}};
  auto denied = store_->Deny(id, role_holder, "no ticket");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_EQ(denied->approval.state, ApprovalState::kDenied);
  EXPECT_EQ(store_->Approve("apr-missing", auditor_, "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ApprovalsTest, RequestExpiresAfterFourDays) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  clock_.Advance(absl::Hours(96) - absl::Seconds(1));
  EXPECT_EQ(store_->Get(id)->state, ApprovalState::kPending);
  auto none = store_->ExpireDue();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(store_->Get(id)->state, ApprovalState::kExpired);
  EXPECT_EQ(store_->Approve(id, auditor_, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto expired = store_->ExpireDue();
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_THAT((*expired)[0].record, HasSubstr("\"state\":\"expired\""));
  EXPECT_TRUE(store_->ExpireDue()->empty());
}

TEST_F(ApprovalsTest, GrantExpiresOnTimeAndIsCapped) {
  ApprovalRequestSpec spec = Spec();
  spec.duration = absl::Hours(8);
  auto created = store_->Create(spec);
  ASSERT_TRUE(created.ok());
  clock_.Advance(absl::Hours(1));
  auto approved =
      store_->Approve(created->approval.id, auditor_, "", absl::Hours(3));
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->approval.grant_expires, clock_.Now() + absl::Hours(3));
  clock_.Advance(absl::Hours(3) - absl::Milliseconds(1));
  EXPECT_TRUE(
      store_->FindLiveGrant("cn-engineer-1", "u2", "email", clock_.Now()));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u2", "email", clock_.Now()));
  EXPECT_EQ(store_->List(ApprovalState::kExpired).size(), 1u);
  EXPECT_TRUE(store_->List(ApprovalState::kApproved).empty());

  spec.duration = absl::Hours(9);
  EXPECT_EQ(store_->Create(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ApprovalsTest, SurvivesReopen) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(store_->Approve(created->approval.id, auditor_, "fine").ok());
  store_.reset();
  auto reopened = ApprovalStore::Open(kv_.get(), ApprovalOptions{}, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto a = (*reopened)->Get(created->approval.id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, ApprovalState::kApproved);
  EXPECT_EQ(a->reason, "fine");
  EXPECT_EQ(a->request.subjects, Spec().subjects);
  EXPECT_EQ(a->request.duration, absl::Hours(2));
}

// A request keeps the SHA-256 of its created record (what an attestation
// names), through storage and in its JSON; an approval stored before it did
// gets it rebuilt, identical, when the store is opened.
TEST_F(ApprovalsTest, KeepsTheCreatedRecordsHash) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string want = RequestSha256(created->record);
  EXPECT_EQ(created->approval.request_sha256, want);
  EXPECT_THAT(ApprovalToJson(created->approval),
              HasSubstr("\"request_sha256\":\"" + want + "\""));
  ASSERT_TRUE(store_->Approve(created->approval.id, auditor_, "ok").ok());
  EXPECT_EQ(store_->Get(created->approval.id)->request_sha256, want);
  // As an older node stored it: no hash.
  Approval old = *store_->Get(created->approval.id);
  old.request_sha256.clear();
  ASSERT_TRUE(kv_->Put("approval/" + old.id, ApprovalToJson(old)).ok());
  store_.reset();
  ApprovalOptions opts;
  opts.pseudonymize = [](absl::string_view s) {
    return "tok-" + std::string(s);
  };
  auto reopened = ApprovalStore::Open(kv_.get(), opts, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get(old.id)->request_sha256, want);
}

// An attested approval logs the approver's note and ends no later than the
// attestation says; one whose attested end has passed is refused.
TEST_F(ApprovalsTest, AttestedGrantIsLoggedAndCapped) {
  auto created = store_->Create(Spec());  // asks for 2h
  ASSERT_TRUE(created.ok());
  const absl::Time now = clock_.Now();
  AttestedGrant attested{"clover-approval/v1\n...note...",
                         now - absl::Seconds(1)};
  auto late =
      store_->Approve(created->approval.id, auditor_, "ok", {}, {}, attested);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(late.status().message(), HasSubstr("already ended"));
  attested.not_after = now + absl::Minutes(30);
  auto approved =
      store_->Approve(created->approval.id, auditor_, "ok", {}, {}, attested);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->approval.grant_expires, now + absl::Minutes(30));
  EXPECT_EQ(approved->approval.attestation, attested.note);
  auto r = ParseTransitionRecord(approved->record);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->attestation, attested.note);
  EXPECT_EQ(r->expires, now + absl::Minutes(30));
  // A later attested end does not lengthen the grant past the request.
  auto second = store_->Create(Spec());
  ASSERT_TRUE(second.ok());
  attested.not_after = now + absl::Hours(10);
  approved =
      store_->Approve(second->approval.id, auditor_, "ok", {}, {}, attested);
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->approval.grant_expires, now + absl::Hours(2));
  // Unattested records carry no member at all.
  EXPECT_THAT(created->record, ::testing::Not(HasSubstr("attestation")));
}

TEST_F(ApprovalsTest, DecisionBodyTakesAnAttestation) {
  auto b = ParseApprovalDecisionBody(
      R"({"reason":"ok","attestation":"clover-approval/v1\n"})");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->attestation, "clover-approval/v1\n");
  EXPECT_FALSE(ParseApprovalDecisionBody(R"({"attestation":7})").ok());
  EXPECT_THAT(
      ParseApprovalDecisionBody(
          absl::StrCat(R"({"attestation":")",
                       std::string(kMaxAttestationBytes + 1, 'a'), R"("})"))
          .status()
          .message(),
      HasSubstr("field 'attestation'"));
}

TEST_F(ApprovalsTest, ValidatesRequests) {
  ApprovalRequestSpec s = Spec();
  s.subjects.clear();
  EXPECT_THAT(store_->Create(s).status().message(), HasSubstr("subjects"));
  s = Spec();
  s.detail = "";
  EXPECT_THAT(store_->Create(s).status().message(), HasSubstr("detail"));
  s = Spec();
  s.requester_country = "XX";
  EXPECT_THAT(store_->Create(s).status().message(),
              HasSubstr("requester_country"));
}

// What a policy rule `approver_role: dpo, max_duration: 1h` yields.
GrantLimits DpoOneHour() {
  GrantLimits l;
  l.approver_roles = {"dpo"};
  l.max_duration = absl::Hours(1);
  l.max_duration_source = "max_duration of policy rule 'r'";
  return l;
}

TEST_F(ApprovalsTest, PolicyApproverRoleIsRequired) {
  ApprovalRequestSpec spec = Spec();
  spec.duration = absl::Minutes(30);
  auto created = store_->Create(spec, DpoOneHour());
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->approval.id;
  // Neither the generic approver role nor the auditor kind stand in for the
  // role the policy names.
  Approver approver{"security-lead", "employee", {"approver"}};
  auto refused = store_->Approve(id, approver, "", {}, DpoOneHour());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("'dpo'"));
  EXPECT_EQ(store_->Approve(id, auditor_, "", {}, DpoOneHour()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->Deny(id, approver, "", DpoOneHour()).status().code(),
            absl::StatusCode::kPermissionDenied);
  Approver dpo{"dpo-1", "employee", {"dpo"}};
  EXPECT_TRUE(store_->Approve(id, dpo, "ok", {}, DpoOneHour()).ok());
}

TEST_F(ApprovalsTest, PolicyMaxDurationCapsTheGrant) {
  // Eight hours asked under a 1h rule: refused at filing, naming the limit.
  ApprovalRequestSpec spec = Spec();
  spec.duration = absl::Hours(8);
  auto refused = store_->Create(spec, DpoOneHour());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("at most 1h"));
  EXPECT_THAT(refused.status().message(), HasSubstr("rule 'r'"));
  // No duration asked: the rule's limit.
  spec.duration = absl::ZeroDuration();
  auto created = store_->Create(spec, DpoOneHour());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->approval.request.duration, absl::Hours(1));
  Approver dpo{"dpo-1", "employee", {"dpo"}};
  EXPECT_EQ(
      store_
          ->Approve(created->approval.id, dpo, "", absl::Hours(2), DpoOneHour())
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  // A request filed under a looser policy is capped at the decision.
  spec.duration = absl::Hours(8);
  auto loose = store_->Create(spec);
  ASSERT_TRUE(loose.ok());
  auto approved =
      store_->Approve(loose->approval.id, dpo, "", {}, DpoOneHour());
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->approval.grant_expires, clock_.Now() + absl::Hours(1));
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
}

TEST_F(ApprovalsTest, RevokeEndsAGrantAtOnce) {
  auto created = store_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  EXPECT_EQ(store_->Revoke(id, auditor_, "").status().code(),
            absl::StatusCode::kFailedPrecondition);  // pending, not approved
  ASSERT_TRUE(store_->Approve(id, auditor_, "ok").ok());
  ASSERT_TRUE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  // Deny after approve stays refused; so does revoking by a non-approver.
  EXPECT_EQ(store_->Deny(id, auditor_, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  Approver engineer{"eu-support-1", "employee", {"support"}};
  EXPECT_EQ(store_->Revoke(id, engineer, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  // Held, the revocation already hides the grant; aborted, it is back.
  Approver admin{"ops-admin", "admin", {}};
  auto held = store_->PrepareRevoke(id, admin, "court order withdrawn");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  store_->Abort(*held);
  EXPECT_TRUE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  auto revoked = store_->Revoke(id, admin, "court order withdrawn");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_THAT(revoked->record, HasSubstr("\"state\":\"revoked\""));
  EXPECT_THAT(revoked->record, HasSubstr("\"by\":\"ops-admin\""));
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  EXPECT_EQ(store_->Get(id)->state, ApprovalState::kRevoked);
  EXPECT_EQ(store_->List(ApprovalState::kRevoked).size(), 1u);
  EXPECT_EQ(store_->Revoke(id, admin, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Revoked stays revoked: not expired later, and across a reopen.
  clock_.Advance(absl::Hours(10));
  EXPECT_TRUE(store_->ExpireDue()->empty());
  store_.reset();
  auto reopened = ApprovalStore::Open(kv_.get(), ApprovalOptions{}, clock_);
  ASSERT_TRUE(reopened.ok());
  auto a = (*reopened)->Get(id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, ApprovalState::kRevoked);
  EXPECT_EQ(a->revoked_by, "ops-admin");
  EXPECT_EQ(a->revoke_reason, "court order withdrawn");
  EXPECT_EQ(ParseApprovalState("revoked"), ApprovalState::kRevoked);
}

TEST_F(ApprovalsTest, PreparedTransitionsTakeEffectOnlyOnCommit) {
  auto created = store_->PrepareCreate(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->Commit(*created).ok());
  auto approve = store_->PrepareApprove(id, auditor_, "ok");
  ASSERT_TRUE(approve.ok()) << approve.status();
  // Not usable before the caller has logged it and committed.
  EXPECT_FALSE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
  EXPECT_EQ(store_->Get(id)->state, ApprovalState::kPending);
  // Held: a concurrent decision on the same request is refused.
  EXPECT_EQ(store_->PrepareDeny(id, auditor_, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  store_->Abort(*approve);
  EXPECT_EQ(store_->Get(id)->state, ApprovalState::kPending);
  EXPECT_EQ(store_->Commit(*approve).code(),
            absl::StatusCode::kFailedPrecondition);  // no longer held
  approve = store_->PrepareApprove(id, auditor_, "ok");
  ASSERT_TRUE(approve.ok());
  ASSERT_TRUE(store_->Commit(*approve).ok());
  EXPECT_TRUE(
      store_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
}

TEST_F(ApprovalsTest, OpenRequestsPerFilerAreBounded) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto t = store_->Create(Spec());
    ASSERT_TRUE(t.ok()) << i << t.status();
    ids.push_back(t->approval.id);
  }
  auto refused = store_->Create(Spec());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("too many open requests"));
  // Held creations count too.
  ASSERT_TRUE(store_->Deny(ids[0], auditor_, "no").ok());
  auto held = store_->PrepareCreate(Spec());
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(store_->Create(Spec()).status().code(),
            absl::StatusCode::kResourceExhausted);
  store_->Abort(*held);
  EXPECT_TRUE(store_->Create(Spec()).ok());
  // Another filer is not affected.
  ApprovalRequestSpec other = Spec();
  other.principal = "eu-support-1";
  EXPECT_TRUE(store_->Create(other).ok());
}

TEST_F(ApprovalsTest, RefusesDuplicateSubjectsAndFields) {
  ApprovalRequestSpec s = Spec();
  s.subjects = {"u1", "u1"};
  EXPECT_THAT(store_->Create(s).status().message(), HasSubstr("twice"));
  s = Spec();
  s.fields = {"email", "email"};
  EXPECT_THAT(store_->Create(s).status().message(), HasSubstr("twice"));
}

TEST(ApprovalJsonTest, BoundsTheBody) {
  std::string big =
      R"({"justification":"LEGAL_REQUEST","detail":"T","fields":["email"],"subjects":[)";
  while (big.size() <= kMaxApprovalBodyBytes) big += "\"subject-000000\",";
  big += "\"last\"]}";
  EXPECT_THAT(ParseApprovalCreateBody(big, "a", "US").status().message(),
              HasSubstr("larger than"));
  EXPECT_THAT(
      ParseApprovalCreateBody(
          R"({"justification":"LEGAL_REQUEST","detail":"T","subjects":["a"],"fields":["name"],"fields":["email"]})",
          "a", "US")
          .status()
          .message(),
      HasSubstr("duplicate key"));
  EXPECT_THAT(ParseApprovalDecisionBody(R"({"reason":"a","reason":"b"})")
                  .status()
                  .message(),
              HasSubstr("duplicate key"));
}

TEST(ApprovalJsonTest, ParsesCreateBody) {
  auto spec = ParseApprovalCreateBody(
      R"({"justification":"LEGAL_REQUEST","detail":"T-1","subjects":["u1"],"fields":["email"],"duration":"4h"})",
      "cn-engineer-1", "CN");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->justification, Justification::kLegalRequest);
  EXPECT_EQ(spec->duration, absl::Hours(4));
  EXPECT_EQ(spec->principal, "cn-engineer-1");
  EXPECT_EQ(spec->requester_country, "CN");

  EXPECT_THAT(
      ParseApprovalCreateBody(R"({"justification":"BECAUSE"})", "a", "CN")
          .status()
          .message(),
      HasSubstr("justification"));
  EXPECT_THAT(
      ParseApprovalCreateBody(
          R"({"justification":"LEGAL_REQUEST","detail":"x","subjects":[1],"fields":[]})",
          "a", "CN")
          .status()
          .message(),
      HasSubstr("subjects"));
  EXPECT_THAT(ParseApprovalCreateBody("{", "a", "CN").status().message(),
              HasSubstr("byte"));
  EXPECT_THAT(ParseApprovalCreateBody(
                  R"({"justification":"LEGAL_REQUEST","x":1})", "a", "CN")
                  .status()
                  .message(),
              HasSubstr("unknown field"));
  EXPECT_THAT(
      ParseApprovalCreateBody(
          R"({"justification":"LEGAL_REQUEST","detail":"x","subjects":["a"],"fields":["b"],"duration":"-1h"})",
          "a", "CN")
          .status()
          .message(),
      HasSubstr("duration"));
}

TEST(ApprovalJsonTest, ParsesDecisionBody) {
  auto empty = ParseApprovalDecisionBody("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->duration, absl::ZeroDuration());
  auto b = ParseApprovalDecisionBody(R"({"reason":"ok","duration":"30m"})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->reason, "ok");
  EXPECT_EQ(b->duration, absl::Minutes(30));
  EXPECT_FALSE(ParseApprovalDecisionBody("[1]").ok());
}

}  // namespace
}  // namespace clover::approvals
