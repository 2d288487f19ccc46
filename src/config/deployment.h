// The deployment configuration: who this node is, the jurisdictions and
// regions, the record schema, the principals, and where storage, log and keys
// live. Loaded from YAML; every error names `file:line:column` and the field at
// fault.
#ifndef CLOVER_CONFIG_DEPLOYMENT_H_
#define CLOVER_CONFIG_DEPLOYMENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover {

enum class PrincipalKind { kService, kEmployee, kAuditor, kAdmin };
enum class PseudonymMethod { kHmac, kSiv, kFf1, kGeneralize, kRedact };
enum class FieldFormat {
  kText,
  kEmail,
  kE164,
  kIp,
  kDate,
  kCountry,
  kInteger,
  kDigits,
  kTextList
};
enum class StorageDriver { kRocksDb, kPostgres };

absl::string_view ToString(PrincipalKind kind);
absl::string_view ToString(PseudonymMethod method);
absl::string_view ToString(FieldFormat format);
absl::string_view ToString(StorageDriver driver);

// The field categories a schema may use.
const std::vector<std::string>& KnownCategories();

struct Jurisdiction {
  std::string id;                      // "eu"
  std::string name;                    // "European Union and EEA"
  std::vector<std::string> countries;  // ISO 3166-1 alpha-2, upper case
};

struct DataCenter {
  std::string id;       // "ie-dub-1"
  std::string country;  // where it physically is
  std::string
      endpoint;  // base URL of its gateway node, e.g. "http://127.0.0.1:8441"
  // `db_hosts`: where this DC's PostgreSQL member listens, each "HOST" (any
  // port) or "HOST:PORT" ("[v6]:PORT"); a unix socket directory is a HOST.
  // Every host of storage.postgres_dsn must be one of these of a DC of the
  // node's region (the residency rule, docs/operations.md).
  std::vector<std::string> db_hosts = {};  // "= {}": brace inits may omit it
};

struct Region {
  std::string id;                          // "eu"
  std::vector<std::string> jurisdictions;  // whose subjects are stored here
  std::vector<DataCenter> dcs;
};

struct FieldSpec {
  std::string name;
  std::string category;  // one of KnownCategories()
  bool restricted = false;
  FieldFormat format = FieldFormat::kText;
  PseudonymMethod method = PseudonymMethod::kRedact;
};

struct Schema {
  std::vector<FieldSpec> fields;
  // nullptr if no such field.
  const FieldSpec* Find(absl::string_view name) const;
};

struct JwtCredential {
  std::string issuer;
  std::string audience;
  std::string public_key_file;  // PEM, Ed25519, P-256 or RSA; absolute path
  // `max_lifetime_seconds` (60 s to 30 days, default 24 h): tokens whose exp
  // lies further ahead, or whose exp - iat is longer, are refused.
  absl::Duration max_lifetime = absl::Hours(24);
  // Instead of the above: `provider` + `subject`, keys from the provider's
  // JWKS (issuer, audience and lifetime are the provider's).
  std::string provider{};  // an identity_providers[].id
  std::string subject{};   // the value of the provider's claim naming this
                           // principal; defaults to the principal's id
};

struct Credentials {
  std::string
      api_key_sha256;  // lower-case hex of SHA-256(api key); empty if none
  std::string
      cert_subject;  // mTLS client certificate subject, e.g. "CN=eu-support-1"
  std::optional<JwtCredential> jwt;
};

// `identity_providers[]`: an organisation's identity provider (OpenID
// Connect style) whose JWKS supplies the JWT keys of the principals naming it
// (gateway/jwks_cache.h, docs/security.md "Identity providers").
struct IdentityProviderConfig {
  std::string id;
  std::string issuer;    // a token's "iss" must equal it
  std::string audience;  // ... and its "aud" contain it
  // Exactly one of: an https:// URL (or http:// to a loopback address when
  // allow_insecure_http, for tests) or a local file, absolute.
  std::string jwks_url;
  std::string jwks_file;
  std::string ca_file;  // CAs for jwks_url; empty: the system's
  bool allow_insecure_http = false;
  std::string claim = "sub";  // the claim whose value maps to a principal
  absl::Duration refresh_interval = absl::Minutes(5);  // 10 s .. 1 day
  // At most one refresh per this for tokens with an unknown kid (1 s .. 1 h).
  absl::Duration min_refresh_interval = absl::Seconds(30);
  // Keys older than this (since the last successful fetch) are not used: the
  // node refuses the provider's tokens and /readyz says identity_unavailable.
  absl::Duration max_staleness = absl::Hours(24);  // 1 min .. 30 days
  absl::Duration fetch_timeout = absl::Seconds(5);
  absl::Duration leeway = absl::Seconds(60);      // on exp, nbf, iat
  absl::Duration max_lifetime = absl::Hours(24);  // exp - now, exp - iat
};

struct Principal {
  std::string id;
  PrincipalKind kind = PrincipalKind::kService;
  std::string org;
  std::vector<std::string> roles;
  std::string country;       // where it works (ISO 3166-1 alpha-2)
  std::string jurisdiction;  // derived from `country`
  Credentials credentials;
};

struct TlsConfig {
  std::string cert_file;       // PEM server certificate chain
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // if set, clients must present a certificate
                               // signed by it
};

struct NodeConfig {
  std::string id;
  std::string region;
  std::string dc;
  std::string listen_host;
  int listen_port = 0;
  std::string data_dir;  // absolute
  std::optional<TlsConfig> tls;
  // Concurrent HTTP connections; beyond it new ones are closed at once
  // (`node.max_connections`, 1..1048576).
  int max_connections = 1024;
};

struct StorageConfig {
  StorageDriver driver = StorageDriver::kRocksDb;
  std::string postgres_dsn;  // only for kPostgres
  // kPostgres: how long a storage call keeps reconnecting while the database
  // is unreachable (a restart, a Patroni failover) before the request fails
  // with 503 (`storage.postgres_retry_seconds`, 0..300).
  absl::Duration postgres_retry = absl::Seconds(10);
  // `storage.patroni_urls`: Patroni REST APIs of the region's members
  // (http://host:port), read by the runtime topology check
  // (region/topology.h). Empty: no runtime check.
  std::vector<std::string> patroni_urls;
};

// One host of a libpq connection string, as libpq would try it.
struct DsnHost {
  std::string host;  // name, address or unix socket directory
  std::string port;  // "5432" when the DSN names none
};

// The hosts a libpq DSN names, in keyword/value ("host=a,b port=1,2") or URI
// ("postgresql://a:1,b:2/db") form. Errors: InvalidArgument when the DSN
// names no host (libpq would fall back to a default) or cannot be read.
[[nodiscard]] absl::StatusOr<std::vector<DsnHost>> ParseDsnHosts(
    absl::string_view dsn);

// Whether `h` is one of the declared db_hosts entries (see DataCenter).
bool DbHostMatches(const std::vector<std::string>& db_hosts, const DsnHost& h);

// A C2SP tlog-witness the node sends each new checkpoint to
// (log/witness_client.h).
struct LogWitnessConfig {
  std::string url;           // submission prefix (POST <url>/add-checkpoint)
  std::string verifier_key;  // its cosignature verifier key (type 0x04)
};

struct LogConfig {
  std::string origin;    // checkpoint origin line, e.g. "clover.example/eu"
  std::string key_file;  // note signing key (PRIVATE+KEY+...), absolute
  int max_batch_entries = 4096;
  // 0: a batch is whatever queued while the previous one was written.
  absl::Duration max_batch_wait = absl::ZeroDuration();
  std::vector<LogWitnessConfig> witnesses;  // log.witnesses
};

// `keys.kek.pkcs11`: the region KEK held in a PKCS#11 token
// (vault/pkcs11_kek.h).
struct Pkcs11KekConfig {
  std::string module;    // the PKCS#11 library: absolute path or bare name
  std::string token;     // the token's label
  std::string label;     // the current KEK's object label
  std::string pin_file;  // the user PIN, absolute
  // Earlier KEKs of the same token, kept to unwrap keys wrapped before a
  // rotation (like retired_kek_files).
  std::vector<std::string> retired_labels;
};

// External key release (`keys.release`, docs/vault.md "External key
// release"): the partner's key-release service must release every data key
// the vault does not hold in its cache.
struct KeyReleaseConfig {
  std::string url;         // https://host:port of the service
  std::string ca_file;     // CAs of the service's certificate, absolute
  std::string cert_file;   // this node's client certificate (mTLS), absolute
  std::string key_file;    // its private key, absolute
  std::string public_key;  // base64 of the region's release key; "" : asked
  // Released keys stay in the vault's subject cache at most this long and at
  // most this many: a cut-off takes effect within cache_ttl at the latest.
  absl::Duration cache_ttl = absl::Seconds(60);
  int64_t cache_entries = 100'000;
  absl::Duration timeout = absl::Seconds(2);  // per release request
  // How often the node asks the service whether the region is cut off (and
  // then flushes its key cache); 0: never, only refusals flush.
  absl::Duration status_poll = absl::Seconds(5);
};

struct KeysConfig {
  std::string kek_file;            // region key-encryption key, absolute;
                                   // empty when `pkcs11_kek` is set
  std::string pseudonym_key_file;  // root of per-(destination, purpose) token
                                   // keys, absolute
  // Earlier KEKs, still needed to unwrap data keys wrapped before a rotation
  // (absolute; see vault/kek_ring.h).
  std::vector<std::string> retired_kek_files;
  // `keys.kek.pkcs11`, instead of kek_file.
  std::optional<Pkcs11KekConfig> pkcs11_kek;
  // Erasure window (`purge_interval_s`, 1 s to 24 h): the node purges the
  // vault's erasure epochs this long after the last purge, so an erased
  // subject's key is unrecoverable from the store within it (docs/vault.md).
  absl::Duration purge_interval = absl::Hours(24);
  // Pseudonym key rotation (`pseudonym_overlap_s`, 0 s to 365 days, default
  // 30 days): how long tokens of a superseded pseudonym key version still
  // resolve (vault/pseudonym_ring.h).
  absl::Duration pseudonym_overlap = absl::Hours(24 * 30);
  std::optional<KeyReleaseConfig> release;
};

struct PolicyConfig {
  std::string file;  // policy bundle, absolute
  bool require_signed_policy = false;
  // When set, the principals section must be a file with a detached signature
  // FILE.sig by one of `auditor_keys` (policy/signature.h); a node refuses to
  // start without one (policy/loader.h).
  bool require_signed_principals = false;
  std::vector<std::string>
      auditor_keys;  // note verifier keys allowed to sign bundles
};

// The approvals a node grants (`approvals` section).
struct ApprovalsConfig {
  // Note verifier keys (type 0x01): when any, an approval needs an
  // attestation signed by one of them (approvals/attestation.h).
  std::vector<std::string> attestation_keys;
};

struct PrivacyConfig {
  // Differential-privacy budget per UTC day of each (requester, purpose),
  // spent by aggregates; the requester is the principal's org (its id when it
  // has none). Kept by each node.
  double daily_epsilon_budget = 10.0;
  // The least number of subjects an aggregate may count, and the least noisy
  // count a bucket must have to be listed.
  int min_cohort = 10;
};

struct Deployment {
  std::string source_file;  // the file it was loaded from
  std::optional<NodeConfig>
      node;  // absent in a deployment-wide file (demo, tools)
  std::vector<Jurisdiction> jurisdictions;
  std::vector<Region> regions;
  Schema schema;
  std::vector<Principal> principals;
  std::vector<IdentityProviderConfig> identity_providers;
  // The file the principals were loaded from (absolute); empty when they are
  // given inline.
  std::string principals_file;
  StorageConfig storage;
  LogConfig log;
  KeysConfig keys;
  PolicyConfig policy;
  PrivacyConfig privacy;
  ApprovalsConfig approvals;
  // The purposes requests may name (X-Clover-Purpose, an export's "purpose"):
  // any other is refused. Required in a node configuration.
  std::vector<std::string> purposes;

  // Lookups; each returns nullptr when nothing matches.
  const Jurisdiction* FindJurisdiction(absl::string_view id) const;
  const Jurisdiction* JurisdictionOfCountry(absl::string_view country) const;
  const Region* FindRegion(absl::string_view id) const;
  const Region* HomeRegionOfJurisdiction(absl::string_view jurisdiction) const;
  const Principal* FindPrincipal(absl::string_view id) const;
  bool IsDeclaredPurpose(absl::string_view purpose) const;
};

// Loads and validates a deployment configuration. Sections `jurisdictions`,
// `regions`, `schema`, `principals`, `storage`, `log`, `keys`, `policy`,
// `privacy` and `purposes` may be given inline or as the path of another YAML
// file (relative to the including file). Relative paths inside the config
// resolve against the file that names them. Errors: NotFound if a file cannot
// be read; InvalidArgument with "file:line:column: field 'a.b': message" for
// anything invalid.
[[nodiscard]] absl::StatusOr<Deployment> LoadDeployment(
    const std::string& path);

// The principal directory alone, as the auditor loads it: the principals file
// (a YAML list, as the deployment's `principals` section) with each principal's
// jurisdiction derived from the jurisdictions file (a map, as the
// `jurisdictions` section). Errors as for LoadDeployment.
[[nodiscard]] absl::StatusOr<std::vector<Principal>> LoadPrincipalDirectory(
    const std::string& principals_path, const std::string& jurisdictions_path);
// The same with jurisdictions already loaded (e.g. a deployment's).
[[nodiscard]] absl::StatusOr<std::vector<Principal>> LoadPrincipalDirectory(
    const std::string& principals_path,
    const std::vector<Jurisdiction>& jurisdictions);

// Same, from YAML text; `name` is used in error messages and to resolve
// relative paths.
[[nodiscard]] absl::StatusOr<Deployment> ParseDeployment(
    absl::string_view yaml, const std::string& name);

// Every key a deployment or node configuration may hold, as dotted paths
// ("node.tls.cert_file"; "[]" a list item, "*" an id-keyed map entry, e.g.
// "regions.*.dcs.*.endpoint"): the loader refuses any other. A section given
// as a file holds the keys below its section name.
std::vector<std::string> DeploymentConfigKeys();

// A one-screen human summary of the topology: regions, DCs, which countries are
// stored where.
std::string DescribeTopology(const Deployment& deployment);

}  // namespace clover

#endif  // CLOVER_CONFIG_DEPLOYMENT_H_
