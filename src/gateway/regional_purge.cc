#include "gateway/regional_purge.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"
#include "log/tile.h"
#include "spdlog/spdlog.h"

namespace clover::gateway {

constexpr char kLockKey[] = "erasure-purge/lock";
constexpr char kMemberPrefix[] = "erasure-purge/member/";
constexpr char kRoundPrefix[] = "erasure-purge/round/";
constexpr char kCutPrefix[] = "erasure-purge/cut/";
constexpr char kAttestedPrefix[] = "erasure-purge/attested/";

// A round's record, as text: "erasure-purge-round 1", then "state S",
// "coordinator N", "new_epoch E", "destroyed E"…, "rewrapped N", "live N",
// "cut <node> <log size>"… (ids hold no space).
struct RegionalPurge::Round {
  uint64_t seq = 0;
  std::string state;  // cutting, cut, pending, done, abandoned
  std::string coordinator;
  std::string new_epoch;
  std::vector<std::string> destroyed;
  uint64_t rewrapped = 0;
  uint64_t live = 0;
  std::map<std::string, uint64_t> cuts;

  std::string Encode() const {
    std::string out = absl::StrCat("erasure-purge-round 1\nstate ", state,
                                   "\ncoordinator ", coordinator, "\n");
    if (!new_epoch.empty())
      absl::StrAppend(&out, "new_epoch ", new_epoch, "\n");
    for (const std::string& d : destroyed) {
      absl::StrAppend(&out, "destroyed ", d, "\n");
    }
    absl::StrAppend(&out, "rewrapped ", rewrapped, "\nlive ", live, "\n");
    for (const auto& [node, cut] : cuts) {
      absl::StrAppend(&out, "cut ", node, " ", cut, "\n");
    }
    return out;
  }
  static absl::StatusOr<Round> Decode(uint64_t seq, absl::string_view text) {
    Round r;
    r.seq = seq;
    bool header = false;
    for (absl::string_view line :
         absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
      bool ok = f.size() == 2;
      if (!header) {
        ok = line == "erasure-purge-round 1";
      } else if (f.size() == 3 && f[0] == "cut") {
        ok = absl::SimpleAtoi(f[2], &r.cuts[std::string(f[1])]);
      } else if (!ok) {
      } else if (f[0] == "state") {
        r.state = std::string(f[1]);
      } else if (f[0] == "coordinator") {
        r.coordinator = std::string(f[1]);
      } else if (f[0] == "new_epoch") {
        r.new_epoch = std::string(f[1]);
      } else if (f[0] == "destroyed") {
        r.destroyed.emplace_back(f[1]);
      } else if (f[0] == "rewrapped") {
        ok = absl::SimpleAtoi(f[1], &r.rewrapped);
      } else if (f[0] == "live") {
        ok = absl::SimpleAtoi(f[1], &r.live);
      } else {
        ok = false;
      }
      if (!ok) {
        return absl::DataLossError(absl::StrCat("erasure purge round ", seq,
                                                ": bad line '", line, "'"));
      }
      header = true;
    }
    if (!header) {
      return absl::DataLossError(
          absl::StrCat("erasure purge round ", seq, ": empty"));
    }
    return r;
  }
};

namespace {

std::string RoundKey(uint64_t seq) {
  return absl::StrFormat("%s%020d", kRoundPrefix, seq);
}
std::string CutPrefix(uint64_t seq) {
  return absl::StrFormat("%s%020d/", kCutPrefix, seq);
}

absl::StatusOr<std::optional<std::string>> GetOptional(const kv::KvStore& kv,
                                                       absl::string_view key) {
  absl::StatusOr<std::string> v = kv.Get(key);
  if (absl::IsNotFound(v.status())) return std::nullopt;
  if (!v.ok()) return v.status();
  return *std::move(v);
}

// Rounds from `first` on, in order.
absl::Status ForEachRound(
    const kv::KvStore& kv, uint64_t first,
    const std::function<absl::Status(uint64_t, absl::string_view)>& fn) {
  absl::Status inner;
  CLOVER_RETURN_IF_ERROR(kv.Scan(
      kRoundPrefix, RoundKey(first),
      [&](absl::string_view key, absl::string_view value) {
        uint64_t seq = 0;
        if (!absl::SimpleAtoi(key.substr(sizeof(kRoundPrefix) - 1), &seq)) {
          return true;
        }
        inner = fn(seq, value);
        return inner.ok();
      }));
  return inner;
}

// Calls `fn` with every entry of `log` in [from, to).
absl::Status ForEachEntry(
    const log::Sequencer& log, uint64_t from, uint64_t to,
    const std::function<void(uint64_t, absl::string_view)>& fn) {
  const uint64_t size = log.Size();
  if (to > size) {
    return absl::InternalError(absl::StrCat("erasure purge: the log holds ",
                                            size, " entries, not ", to));
  }
  for (uint64_t b = from / 256; b * 256 < to; ++b) {
    const int width = static_cast<int>(std::min<uint64_t>(256, size - b * 256));
    CLOVER_ASSIGN_OR_RETURN(std::string bundle, log.ReadEntryBundle(b, width));
    CLOVER_ASSIGN_OR_RETURN(std::vector<absl::string_view> entries,
                            log::ParseEntryBundle(bundle));
    for (size_t i = 0; i < entries.size(); ++i) {
      const uint64_t index = b * 256 + i;
      if (index >= from && index < to) fn(index, entries[i]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

RegionalPurge::RegionalPurge(vault::Vault& vault, log::Sequencer& log,
                             kv::KvStore& kv, const NodeConfig& node,
                             RegionalPurgeOptions options)
    : vault_(vault),
      log_(log),
      kv_(kv),
      node_(node),
      options_(std::move(options)) {}

absl::Status RegionalPurge::Join() {
  return kv_.Put(absl::StrCat(kMemberPrefix, node_.id), "1");
}

absl::Status RegionalPurge::TakeCut(uint64_t seq) {
  const uint64_t cut = vault_.AtErasureCut([this] { return log_.Size(); });
  return kv_.Put(absl::StrCat(CutPrefix(seq), node_.id), absl::StrCat(cut));
}

absl::StatusOr<int> RegionalPurge::Tick() {
  // The open round, if any, wants this node's cut.
  std::optional<Round> last;
  CLOVER_RETURN_IF_ERROR(
      ForEachRound(kv_, 0, [&](uint64_t seq, absl::string_view v) {
        CLOVER_ASSIGN_OR_RETURN(last, Round::Decode(seq, v));
        return absl::OkStatus();
      }));
  if (last.has_value() && last->state == "cutting") {
    CLOVER_ASSIGN_OR_RETURN(
        std::optional<std::string> mine,
        GetOptional(kv_, absl::StrCat(CutPrefix(last->seq), node_.id)));
    if (!mine.has_value()) CLOVER_RETURN_IF_ERROR(TakeCut(last->seq));
  }
  // "<last round considered> <log size the last attestation covered>".
  const std::string attested_key = absl::StrCat(kAttestedPrefix, node_.id);
  CLOVER_ASSIGN_OR_RETURN(std::optional<std::string> attested,
                          GetOptional(kv_, attested_key));
  uint64_t done_seq = 0, from = 0;
  if (attested.has_value()) {
    std::vector<absl::string_view> f = absl::StrSplit(*attested, ' ');
    if (f.size() != 2 || !absl::SimpleAtoi(f[0], &done_seq) ||
        !absl::SimpleAtoi(f[1], &from)) {
      return absl::DataLossError(
          absl::StrCat(attested_key, ": malformed '", *attested, "'"));
    }
  }
  std::vector<Round> owed;
  bool blocked = false;
  CLOVER_RETURN_IF_ERROR(
      ForEachRound(kv_, done_seq + 1, [&](uint64_t seq, absl::string_view v) {
        CLOVER_ASSIGN_OR_RETURN(Round r, Round::Decode(seq, v));
        // A round not finished holds back the later ones.
        if (blocked || (r.state != "done" && r.state != "abandoned")) {
          blocked = true;
          return absl::OkStatus();
        }
        owed.push_back(std::move(r));
        return absl::OkStatus();
      }));
  int appended = 0;
  for (const Round& r : owed) {
    auto cut = r.cuts.find(node_.id);
    if (r.state == "done" && cut != r.cuts.end() && cut->second >= from) {
      CLOVER_RETURN_IF_ERROR(Attest(r, from, cut->second));
      from = cut->second;
      ++appended;
    }
    CLOVER_RETURN_IF_ERROR(
        kv_.Put(attested_key, absl::StrCat(r.seq, " ", from)));
  }
  return appended;
}

absl::Status RegionalPurge::Attest(const Round& round, uint64_t from,
                                   uint64_t cut) {
  // The erasures the auditor holds as pending at the cut, found as it finds
  // them (audit/erasure_check.h): allowed erasures from the previous cut on,
  // less those an attestation in between covered.
  struct Pending {
    uint64_t index;
    std::string pseudonym;
  };
  std::deque<Pending> pending;
  entry::LogEntry e;
  absl::Status bad;
  CLOVER_RETURN_IF_ERROR(
      ForEachEntry(log_, from, cut, [&](uint64_t index, absl::string_view raw) {
        if (!entry::ParseLogEntry(raw, &e).ok()) return;
        if (e.type == entry::EntryType::kDecision) {
          const entry::DecisionEntry& d = e.decision;
          if (d.action == "erase" && d.records > 0 && !d.subject.empty()) {
            pending.push_back({index, d.subject});
          }
        } else if (e.type == entry::EntryType::kErasurePurge) {
          absl::StatusOr<entry::ErasurePurge> a = entry::ParseErasurePurge(raw);
          if (!a.ok()) return;
          while (!pending.empty() && pending.front().index < a->cut_log_size) {
            pending.pop_front();
          }
        }
      }));
  std::vector<std::string> pseudonyms;
  for (Pending& p : pending) pseudonyms.push_back(std::move(p.pseudonym));
  std::sort(pseudonyms.begin(), pseudonyms.end());
  pseudonyms.erase(std::unique(pseudonyms.begin(), pseudonyms.end()),
                   pseudonyms.end());
  entry::ErasurePurge a;
  a.time = absl::Now();
  a.node = node_.id;
  a.region = node_.region;
  a.purge = absl::StrCat(node_.region, "/", round.seq);
  a.cut_log_size = cut;
  a.erased = pseudonyms.size();
  a.erased_root = entry::ErasedSubjectsRoot(std::move(pseudonyms));
  a.rewrapped = round.rewrapped;
  a.live = round.live;
  a.destroyed_epochs = round.destroyed;
  a.new_epoch = round.new_epoch;
  CLOVER_ASSIGN_OR_RETURN(uint64_t index,
                          log_.Append(entry::ErasurePurgeJson(a)).get());
  spdlog::info(
      "erasure purge {}: attested {} erasures of this node's log before {} "
      "(entry {})",
      a.purge, a.erased, cut, index);
  return absl::OkStatus();
}

absl::StatusOr<bool> RegionalPurge::ClaimLock(std::string* held) {
  CLOVER_ASSIGN_OR_RETURN(std::optional<std::string> current,
                          GetOptional(kv_, kLockKey));
  if (current.has_value()) {
    std::vector<absl::string_view> f = absl::StrSplit(*current, ' ');
    int64_t expiry = 0;
    if (f.size() == 2 && absl::SimpleAtoi(f[1], &expiry) &&
        absl::FromUnixMicros(expiry) > absl::Now() && f[0] != node_.id) {
      *held = std::string(f[0]);
      return false;
    }
  }
  const std::string mine = absl::StrCat(
      node_.id, " ", absl::ToUnixMicros(absl::Now() + options_.lease));
  kv::KvBatch batch;
  batch.Put(kLockKey, mine);
  absl::Status s = kv_.WriteIf(kLockKey, current, batch);
  if (absl::IsFailedPrecondition(s)) {
    *held = "another node";
    return false;
  }
  CLOVER_RETURN_IF_ERROR(s);
  *held = mine;
  return true;
}

void RegionalPurge::ReleaseLock(const std::string& held) {
  kv::KvBatch batch;
  batch.Delete(kLockKey);
  absl::Status s = kv_.WriteIf(kLockKey, held, batch);
  if (!s.ok()) {
    spdlog::warn("erasure purge: releasing the region's lock: {}",
                 std::string(s.message()));
  }
}

absl::StatusOr<vault::Vault::PurgeReport> RegionalPurge::Run(
    const std::function<bool()>& stop) {
  std::string held;
  CLOVER_ASSIGN_OR_RETURN(bool claimed, ClaimLock(&held));
  if (!claimed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a purge of the region is running (coordinated by ", held, ")"));
  }
  absl::Cleanup release = [&] { ReleaseLock(held); };

  std::optional<Round> last;
  CLOVER_RETURN_IF_ERROR(
      ForEachRound(kv_, 0, [&](uint64_t seq, absl::string_view v) {
        CLOVER_ASSIGN_OR_RETURN(last, Round::Decode(seq, v));
        return absl::OkStatus();
      }));
  CLOVER_ASSIGN_OR_RETURN(vault::Vault::EpochState epochs, vault_.Epochs());
  std::optional<Round> round;
  if (last.has_value() && last->state != "done" && last->state != "abandoned") {
    if (last->state == "pending" && epochs.stored == 1 &&
        epochs.current == last->new_epoch) {
      // Destroyed, not yet marked: mark it, attest.
      last->state = "done";
      CLOVER_RETURN_IF_ERROR(kv_.Put(RoundKey(last->seq), last->Encode()));
      CLOVER_RETURN_IF_ERROR(Tick().status());
      vault::Vault::PurgeReport report;
      report.resumed = true;
      report.new_epoch = last->new_epoch;
      report.destroyed_epochs = last->destroyed;
      report.rewrapped = last->rewrapped;
      report.live = last->live;
      return report;
    }
    if (epochs.stored >= 2 && last->state != "cutting") {
      round = *last;  // its new epoch exists: finish it with its cuts
    } else {
      last->state = "abandoned";  // no epoch was made for it
      CLOVER_RETURN_IF_ERROR(kv_.Put(RoundKey(last->seq), last->Encode()));
    }
  }
  if (!round.has_value() && epochs.stored >= 2) {
    // An interrupted purge no round describes (made before rounds existed):
    // finish it; its erasures are attested by the round that follows.
    CLOVER_RETURN_IF_ERROR(vault_.Purge().status());
  }
  if (!round.has_value()) {
    round.emplace();
    round->seq = last.has_value() ? last->seq + 1 : 1;
    round->state = "cutting";
    round->coordinator = node_.id;
    CLOVER_RETURN_IF_ERROR(kv_.Put(RoundKey(round->seq), round->Encode()));
    CLOVER_RETURN_IF_ERROR(TakeCut(round->seq));
    std::vector<std::string> members;
    CLOVER_RETURN_IF_ERROR(
        kv_.Scan(kMemberPrefix, [&](absl::string_view key, absl::string_view) {
          members.emplace_back(key.substr(sizeof(kMemberPrefix) - 1));
          return true;
        }));
    const absl::Time deadline = absl::Now() + options_.cut_wait;
    while (true) {
      round->cuts.clear();
      CLOVER_RETURN_IF_ERROR(
          kv_.Scan(CutPrefix(round->seq),
                   [&](absl::string_view key, absl::string_view value) {
                     uint64_t cut = 0;
                     if (absl::SimpleAtoi(value, &cut)) {
                       round->cuts[std::string(
                           key.substr(CutPrefix(round->seq).size()))] = cut;
                     }
                     return true;
                   }));
      const bool all = std::all_of(
          members.begin(), members.end(),
          [&](const std::string& m) { return round->cuts.contains(m); });
      if (all || absl::Now() >= deadline) break;
      if (stop && stop()) return absl::CancelledError("stopping");
      absl::SleepFor(absl::Milliseconds(100));
    }
    for (const std::string& m : members) {
      if (!round->cuts.contains(m)) {
        spdlog::warn(
            "erasure purge {}/{}: node {} gave no cut within {}; its "
            "erasures wait for the next purge",
            node_.region, round->seq, m,
            absl::FormatDuration(options_.cut_wait));
      }
    }
    round->state = "cut";
    CLOVER_RETURN_IF_ERROR(kv_.Put(RoundKey(round->seq), round->Encode()));
  }

  vault::Vault::PurgeHooks hooks;
  const uint64_t seq = round->seq;
  hooks.tag_at_cut = [seq] { return seq; };
  hooks.before_destroy =
      [&](const vault::Vault::PurgeReport& r) -> absl::Status {
    round->state = "pending";
    round->new_epoch = r.new_epoch;
    round->destroyed = r.destroyed_epochs;
    round->rewrapped = r.rewrapped;
    round->live = r.live;
    return kv_.Put(RoundKey(round->seq), round->Encode());
  };
  CLOVER_ASSIGN_OR_RETURN(vault::Vault::PurgeReport report,
                          vault_.Purge(hooks));
  round->state = "done";
  CLOVER_RETURN_IF_ERROR(kv_.Put(RoundKey(round->seq), round->Encode()));
  std::move(release).Invoke();
  CLOVER_RETURN_IF_ERROR(Tick().status());
  spdlog::info(
      "erasure purge {}/{}: {} live keys re-sealed under {}, destroyed {}, "
      "{} nodes cut",
      node_.region, seq, report.rewrapped, report.new_epoch,
      report.destroyed_epochs.empty() ? std::string("none")
                                      : report.destroyed_epochs.front(),
      round->cuts.size());
  return report;
}

}  // namespace clover::gateway
