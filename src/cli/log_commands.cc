// `clover log ...`: append to, serve, verify, prove and inspect a transparency
// log.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cli/command.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/http_handlers.h"
#include "log/note.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/tile.h"
#include "log/witness_client.h"
#include "server/http_server.h"

namespace clover::cli {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<log::NoteSigner>> ReadSignerKeyFile(
    const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        ": private key file must not be accessible by group or others "
        "(chmod 600)"));
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto signer = log::ParseSignerKey(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

// A verifier key given literally or as a file holding one.
absl::StatusOr<std::unique_ptr<log::NoteVerifier>> LoadVerifierKey(
    const std::string& arg) {
  auto direct = log::ParseVerifierKey(arg);
  if (direct.ok()) return direct;
  struct stat st;
  if (stat(arg.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--key: neither a verifier key nor a readable file: ",
                     direct.status().message()));
  }
  auto text = ReadFile(arg);
  if (!text.ok()) return text.status();
  auto v = log::ParseVerifierKey(*text);
  if (!v.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(arg, ": ", v.status().message()));
  return v;
}

absl::StatusOr<std::unique_ptr<log::Sequencer>> OpenLog(
    const std::string& dir, std::unique_ptr<log::NoteSigner> signer,
    const std::string& origin) {
  log::RocksDbStorageOptions so;
  so.read_only = signer == nullptr;
  so.create_if_missing = signer != nullptr;
  auto storage = log::OpenRocksDbStorage(dir, so);
  if (!storage.ok()) return storage.status();
  log::SequencerOptions opts;
  opts.origin = origin;
  return log::Sequencer::Open(*std::move(storage), std::move(signer), opts);
}

std::string B64(const log::Hash& h) {
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

struct AppendFlags {
  std::string dir, key, origin;
};

int Append(const AppendFlags& f) {
  auto signer = ReadSignerKeyFile(f.key);
  if (!signer.ok()) return ReportError(signer.status());
  // "Created if missing", parents included: RocksDB makes only the last one.
  std::error_code ec;
  std::filesystem::create_directories(f.dir, ec);
  if (ec) {
    return ReportError(absl::FailedPreconditionError(absl::StrCat(
        "cannot create log directory '", f.dir, "': ", ec.message())));
  }
  auto seq = OpenLog(f.dir, *std::move(signer), f.origin);
  if (!seq.ok()) return ReportError(seq.status());
  // Appends are pipelined; the first failure is reported after everything
  // settles.
  absl::Mutex mu;
  uint64_t outstanding = 0;
  absl::Status first_error;
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.size() > log::kMaxEntrySize) {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](uint64_t* n) { return *n == 0; }, &outstanding));
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat("stdin line ", line_no, ": entry of ", line.size(),
                       " bytes exceeds the maximum of 65535 (earlier lines "
                       "were appended)")));
    }
    {
      absl::MutexLock lock(&mu);
      ++outstanding;
    }
    (*seq)->Append(std::move(line), [&, line_no](absl::StatusOr<uint64_t> r) {
      absl::MutexLock lock(&mu);
      if (!r.ok() && first_error.ok()) {
        first_error = absl::Status(
            r.status().code(),
            absl::StrCat("stdin line ", line_no, ": ", r.status().message()));
      }
      --outstanding;
    });
    line.clear();
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](uint64_t* n) { return *n == 0; }, &outstanding));
    if (!first_error.ok()) return ReportError(first_error);
  }
  std::cout << (*seq)->Size() << "\n";
  return kExitOk;
}

struct ServeFlags {
  std::string dir, listen = "127.0.0.1:8080";
  int threads = 2;
};

int Serve(const ServeFlags& f) {
  const size_t colon = f.listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(f.listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return ReportError(absl::InvalidArgumentError("--listen: want HOST:PORT"));
  }
  auto seq = OpenLog(f.dir, nullptr, "");
  if (!seq.ok()) return ReportError(seq.status());
  log::LogHttpHandler handler(**seq);
  // Block the stop signals before the I/O threads start so only sigwait sees
  // them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  server::HttpServerOptions opts;
  opts.host = f.listen.substr(0, colon);
  opts.port = port;
  opts.threads = f.threads;
  auto srv = server::HttpServer::Start(opts, handler.AsHandler());
  if (!srv.ok()) return ReportError(srv.status());
  std::cerr << "clover: serving log '" << (*seq)->origin() << "' (size "
            << (*seq)->Size() << ") on http://" << opts.host << ":"
            << (*srv)->port() << "/log\n";
  int sig = 0;
  sigwait(&set, &sig);
  (*srv)->Stop();
  return kExitOk;
}

struct VerifyFlags {
  std::string url, key, state, origin;
  bool entries = false;
  std::vector<std::string> witnesses;  // verifier keys (or files holding one)
  size_t witness_quorum = 0;           // 0: all of them
};

int Verify(const VerifyFlags& f) {
  auto verifier = LoadVerifierKey(f.key);
  if (!verifier.ok()) return ReportError(verifier.status());
  std::vector<std::unique_ptr<log::NoteVerifier>> witnesses;
  std::vector<const log::NoteVerifier*> witness_ptrs;
  for (const std::string& w : f.witnesses) {
    auto v = LoadVerifierKey(w);
    if (!v.ok()) {
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat("--witness: ", v.status().message())));
    }
    witness_ptrs.push_back(v->get());
    witnesses.push_back(*std::move(v));
  }
  if (f.witness_quorum > 0 && witnesses.empty()) {
    return ReportError(
        absl::InvalidArgumentError("--witness-quorum needs --witness keys"));
  }
  log::Fetcher fetch;
  if (absl::StartsWith(f.url, "http://") ||
      absl::StartsWith(f.url, "https://")) {
    fetch = log::HttpFetcher(f.url);
  } else {
    std::string dir = f.url;
    if (absl::StartsWith(dir, "file://")) dir = dir.substr(7);
    fetch = log::FileFetcher(dir);
  }
  std::vector<std::unique_ptr<log::NoteVerifier>> vs;
  vs.push_back(*std::move(verifier));
  auto client =
      log::LogClient::Create(std::move(fetch), std::move(vs), f.origin);
  if (!client.ok()) return ReportError(client.status());
  auto cp = log::UpdateTrustedCheckpoint(**client, f.state);
  if (!cp.ok()) return ReportError(cp.status());
  size_t cosigned = 0;
  if (!witnesses.empty()) {
    auto n = log::CheckWitnessQuorum(
        cp->note, witness_ptrs,
        f.witness_quorum > 0 ? f.witness_quorum : witness_ptrs.size());
    if (!n.ok()) return ReportError(n.status());
    cosigned = *n;
  }
  std::cout << "verified checkpoint: origin " << cp->checkpoint.origin
            << ", size " << cp->checkpoint.size << ", root "
            << B64(cp->checkpoint.root) << "\n";
  if (!witnesses.empty())
    std::cout << "cosigned by " << cosigned << " of the given witnesses\n";
  if (!f.state.empty())
    std::cout << "checked against and saved to " << f.state << "\n";
  if (f.entries) {
    auto n = (*client)->VerifyAllEntries(cp->checkpoint);
    if (!n.ok()) return ReportError(n.status());
    std::cout << "verified " << *n << " entries against the root\n";
  }
  return kExitOk;
}

int Proof(const std::string& dir, const std::string& path,
          const std::string& query) {
  auto seq = OpenLog(dir, nullptr, "");
  if (!seq.ok()) return ReportError(seq.status());
  // Validate through the reader first so that errors print as plain messages.
  uint64_t a = 0, b = 0;
  const bool inclusion = absl::EndsWith(path, "/inclusion");
  for (absl::string_view kv : absl::StrSplit(query, '&')) {
    std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(kv, '=');
    if (p.first == (inclusion ? "index" : "from"))
      (void)absl::SimpleAtoi(p.second, &a);
    if (p.first == (inclusion ? "size" : "to"))
      (void)absl::SimpleAtoi(p.second, &b);
  }
  absl::Status st = inclusion ? (*seq)->InclusionProof(a, b).status()
                              : (*seq)->ConsistencyProof(a, b).status();
  if (!st.ok()) return ReportError(st);
  log::LogHttpHandler handler(**seq);
  server::HttpResponse r = handler.Handle("GET", path, query);
  if (r.status != 200) {
    std::cerr << "clover: " << r.body << "\n";
    return r.status < 500 ? kExitBadInput : kExitRuntime;
  }
  std::cout << r.body << "\n";
  return kExitOk;
}

int Inspect(const std::string& dir) {
  auto seq = OpenLog(dir, nullptr, "");
  if (!seq.ok()) return ReportError(seq.status());
  const log::Checkpoint cp = (*seq)->LatestCheckpoint();
  std::cout << "origin:     " << cp.origin << "\n"
            << "tree size:  " << cp.size << "\n"
            << "root hash:  " << B64(cp.root) << "\n"
            << "bundles:    " << log::FullTileCount(cp.size, 0) << " full";
  if (log::PartialTileWidth(cp.size, 0) > 0) {
    std::cout << " + 1 partial of " << log::PartialTileWidth(cp.size, 0);
  }
  std::cout << "\n";
  for (int level = 0; level < 8 && log::HashesAtLevel(cp.size, level) > 0;
       ++level) {
    std::cout << "tile level " << level << ": "
              << log::FullTileCount(cp.size, level) << " full";
    if (const int w = log::PartialTileWidth(cp.size, level); w > 0) {
      std::cout << " + partial "
                << log::FormatTilePath(
                       {false, level, log::FullTileCount(cp.size, level), w});
    }
    std::cout << "\n";
  }
  std::cout << "checkpoint:\n" << (*seq)->SignedCheckpoint();
  return kExitOk;
}

}  // namespace

void RegisterLogCommands(CLI::App& app) {
  auto* logc = app.add_subcommand("log", "Transparency log tools");
  logc->require_subcommand(1);

  auto* append =
      logc->add_subcommand("append",
                           "Append one entry per stdin line (without the "
                           "newline); prints the new size");
  auto af = std::make_shared<AppendFlags>();
  append->add_option("--dir", af->dir, "Log directory (created if missing)")
      ->required();
  append
      ->add_option("--key", af->key,
                   "Note signer key file (clover keys generate)")
      ->required();
  append->add_option("--origin", af->origin,
                     "Checkpoint origin (default: the key name)");
  SetAction(append, [af] { return Append(*af); });

  auto* serve = logc->add_subcommand(
      "serve",
      "Serve the log read-only over HTTP: /log/checkpoint, /log/tile/..., "
      "/v1/log/proof/...");
  auto sf = std::make_shared<ServeFlags>();
  serve->add_option("--dir", sf->dir, "Log directory")->required();
  serve->add_option("--listen", sf->listen, "HOST:PORT")->capture_default_str();
  serve->add_option("--threads", sf->threads, "I/O threads")
      ->capture_default_str();
  SetAction(serve, [sf] { return Serve(*sf); });

  auto* verify = logc->add_subcommand(
      "verify",
      "Verify a log's checkpoint (and consistency with --state, entries with "
      "--entries)");
  auto vf = std::make_shared<VerifyFlags>();
  verify
      ->add_option("--url", vf->url,
                   "Log prefix URL (http(s)://host/log) or a directory")
      ->required();
  verify->add_option("--key", vf->key, "Verifier key (or a file holding it)")
      ->required();
  verify->add_option(
      "--state", vf->state,
      "File keeping the last verified checkpoint (split-view detection)");
  verify->add_option("--origin", vf->origin,
                     "Expected origin (default: the key name)");
  verify->add_flag("--entries", vf->entries,
                   "Re-hash every entry bundle against the tree");
  verify->add_option("--witness", vf->witnesses,
                     "Witness cosignature verifier key (or a file holding "
                     "it); repeatable");
  verify->add_option("--witness-quorum", vf->witness_quorum,
                     "Valid cosignatures required (default: every --witness)");
  SetAction(verify, [vf] { return Verify(*vf); });

  auto* proof = logc->add_subcommand("proof", "Print a proof as JSON");
  proof->require_subcommand(1);
  auto* incl =
      proof->add_subcommand("inclusion", "Inclusion proof of entry INDEX");
  auto idir = std::make_shared<std::string>();
  auto index = std::make_shared<uint64_t>(0);
  auto isize = std::make_shared<uint64_t>(0);
  incl->add_option("--dir", *idir, "Log directory")->required();
  incl->add_option("--index", *index, "Entry index")->required();
  incl->add_option("--size", *isize, "Tree size (default: the current size)");
  SetAction(incl, [idir, index, isize] {
    std::string size = *isize == 0 ? "" : absl::StrCat(*isize);
    if (size.empty()) {
      auto seq = OpenLog(*idir, nullptr, "");
      if (!seq.ok()) return ReportError(seq.status());
      size = absl::StrCat((*seq)->Size());
    }
    return Proof(*idir, "/v1/log/proof/inclusion",
                 absl::StrCat("index=", *index, "&size=", size));
  });
  auto* cons = proof->add_subcommand("consistency",
                                     "Consistency proof between two sizes");
  auto cdir = std::make_shared<std::string>();
  auto from = std::make_shared<uint64_t>(0);
  auto to = std::make_shared<uint64_t>(0);
  cons->add_option("--dir", *cdir, "Log directory")->required();
  cons->add_option("--from", *from, "Older tree size")->required();
  cons->add_option("--to", *to, "Newer tree size (default: the current size)");
  SetAction(cons, [cdir, from, to] {
    std::string to_s = *to == 0 ? "" : absl::StrCat(*to);
    if (to_s.empty()) {
      auto seq = OpenLog(*cdir, nullptr, "");
      if (!seq.ok()) return ReportError(seq.status());
      to_s = absl::StrCat((*seq)->Size());
    }
    return Proof(*cdir, "/v1/log/proof/consistency",
                 absl::StrCat("from=", *from, "&to=", to_s));
  });

  auto* inspect = logc->add_subcommand("inspect", "Summarize a log directory");
  auto idir2 = std::make_shared<std::string>();
  inspect->add_option("dir", *idir2, "Log directory")->required();
  SetAction(inspect, [idir2] { return Inspect(*idir2); });
}

}  // namespace clover::cli
