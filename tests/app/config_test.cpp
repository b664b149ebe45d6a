#include "eventserver/app/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventserver/app/credentials.hpp"
#include "eventserver/auth/token.hpp"
#include "eventserver/storage/file_log.hpp"

namespace eventserver {
namespace {

using ::testing::HasSubstr;

std::string error_of(std::string_view json) {
  try {
    parse_config(json, "test.json");
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, EmptyObjectGivesTheDocumentedDefaults) {
  const config c = parse_config("{}");
  EXPECT_EQ(c.event_listener_port, 9090);
  EXPECT_EQ(c.client_listener_port, 9099);
  EXPECT_EQ(c.event_listener_address, "127.0.0.1");
  EXPECT_EQ(c.client_listener_address, "0.0.0.0");
  EXPECT_EQ(c.diagnostics_level, "info");
  EXPECT_EQ(c.max_line_bytes, 1024u);
  EXPECT_EQ(c.max_pending_events, 100000u);
  EXPECT_EQ(c.max_sequence_jump, 10000000u);
  EXPECT_EQ(c.gap_timeout.count(), 0);
  EXPECT_EQ(c.max_client_queue_bytes, 262144u);
  EXPECT_EQ(c.client_write_batch_bytes, 8192u);
  EXPECT_EQ(c.client_write_delay.count(), 50);
  EXPECT_EQ(c.client_handshake_timeout.count(), 5000);
  EXPECT_EQ(c.max_clients, 10000u);
  EXPECT_EQ(c.max_event_sources, 16u);
  EXPECT_EQ(c.shutdown_timeout.count(), 5000);
  EXPECT_TRUE(c.admin_enabled);
  EXPECT_EQ(c.admin_listener_address, "127.0.0.1");
  EXPECT_EQ(c.admin_listener_port, 9095);
  EXPECT_EQ(c.ready_max_gap_age.count(), 10000);
  EXPECT_EQ(c.diagnostics_format, diagnostics_format_kind::text);
  EXPECT_EQ(c.diagnostics_file, "");
}

TEST(Config, AdminAndLoggingKeys) {
  const config c = parse_config(R"({"adminListenerAddress": "::1", "adminListenerPort": 8125, "readyMaxGapAgeMs": 50,
    "logFormat": "json", "logFile": "/var/log/eventserver.log"})");
  EXPECT_TRUE(c.admin_enabled);
  EXPECT_EQ(c.admin_listener_address, "::1");
  EXPECT_EQ(c.admin_listener_port, 8125);
  EXPECT_EQ(c.ready_max_gap_age.count(), 50);
  EXPECT_EQ(c.diagnostics_format, diagnostics_format_kind::json);
  EXPECT_EQ(c.diagnostics_file, "/var/log/eventserver.log");
  EXPECT_FALSE(parse_config(R"({"adminListenerPort": 0})").admin_enabled);
  EXPECT_THAT(error_of(R"({"logFormat": "xml"})"), HasSubstr("\"logFormat\" must be \"text\" or \"json\""));
  EXPECT_THAT(error_of(R"({"logFile": 5})"), HasSubstr("\"logFile\" must be a file path"));
  EXPECT_THAT(error_of(R"({"readyMaxGapAgeMs": 0})"), HasSubstr("\"readyMaxGapAgeMs\" must be an integer from 1"));
}

// A config document giving `key` the JSON `value`: inside its section for a key with a path
// ("cluster.role" is {"cluster": {"role": ...}}).
std::string document_with(std::string_view key, const std::string& value) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos) return std::string("{\"").append(key).append("\": ").append(value).append("}");
  return std::string("{\"")
      .append(key.substr(0, dot))
      .append("\": {\"")
      .append(key.substr(dot + 1))
      .append("\": ")
      .append(value)
      .append("}}");
}

// The cluster section, as documented: {"cluster": {"role": ..., "servers": [...], ...}}.
TEST(Config, ClusterSection) {
  const config standalone = parse_config("{}");
  EXPECT_EQ(standalone.cluster_role, cluster_role_kind::standalone);
  EXPECT_EQ(parse_config(R"({"cluster": {}})").cluster_role, cluster_role_kind::standalone);
  const config c = parse_config(R"({"dataDir": "/var/lib/eventserver", "cluster": {"role": "edge",
    "servers": ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], "stream": "FOLLOWER_MAZE-2",
    "subject": "maze.events_v2", "replicas": 3, "credsFile": "/etc/eventserver/nats.creds",
    "duplicatesWindowMs": 300000, "requestTimeoutMs": 2000, "resumeWaitMs": 0}})");
  EXPECT_EQ(c.cluster_role, cluster_role_kind::edge);
  EXPECT_EQ(c.cluster_servers, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
  EXPECT_EQ(config_value_json(c, "cluster.servers"), R"(["nats://10.0.0.1:4222","nats://10.0.0.2:4222"])");
  EXPECT_EQ(c.cluster_stream, "FOLLOWER_MAZE-2");
  EXPECT_EQ(c.cluster_subject, "maze.events_v2");
  EXPECT_EQ(c.cluster_replicas, 3u);
  EXPECT_EQ(c.cluster_creds_file, "/etc/eventserver/nats.creds");
  EXPECT_EQ(c.cluster_duplicates_window.count(), 300000);
  EXPECT_EQ(c.cluster_request_timeout.count(), 2000);
  EXPECT_EQ(c.cluster_resume_wait.count(), 0);
  EXPECT_EQ(parse_config(R"({"cluster": {"role": "ingest"}})").cluster_role, cluster_role_kind::ingest);

  // Errors name the key by its path in the section.
  EXPECT_THAT(error_of(R"({"cluster": {"role": "leader"}})"),
              HasSubstr("\"cluster.role\" must be one of \"standalone\", \"ingest\", \"edge\", got \"leader\""));
  // Names NATS would read as more than one, or as a wildcard.
  for (const char* stream : {"", "EVENTS.A", "EV ENTS", "EV*", "EV>"}) {
    EXPECT_THAT(error_of(std::string(R"({"cluster": {"stream": ")") + stream + "\"}}"),
                HasSubstr("\"cluster.stream\" must be a stream name"))
        << stream;
  }
  for (const char* subject : {"", "a..b", ".a", "a.", "a.*", "a.>", "a b"}) {
    EXPECT_THAT(error_of(std::string(R"({"cluster": {"subject": ")") + subject + "\"}}"),
                HasSubstr("\"cluster.subject\" must be a NATS subject"))
        << subject;
  }
  EXPECT_THAT(error_of(R"({"cluster": {"replicas": 6}})"), HasSubstr("\"cluster.replicas\" must be an integer from 1 to 5, got 6"));
  EXPECT_THAT(error_of(R"({"cluster": {"role": "edge"}, "dataDir": ""})"), HasSubstr("\"cluster.role\" \"edge\" needs \"dataDir\""));
  EXPECT_THAT(error_of(R"({"cluster": {"role": "ingest", "duplicatesWindowMs": 5000, "requestTimeoutMs": 5000}})"),
              HasSubstr("\"cluster.duplicatesWindowMs\" (5000) must be at least \"cluster.requestTimeoutMs\" plus 500 ms (5500)"));
  EXPECT_THAT(error_of(R"({"cluster": {"role": "ingest", "servers": []}})"),
              HasSubstr("\"cluster.role\" \"ingest\" needs \"cluster.servers\" (the NATS URLs)"));
  EXPECT_EQ(parse_config(R"({"cluster": {"servers": []}})").cluster_role, cluster_role_kind::standalone)
      << "standalone ignores the cluster keys, no servers included";
}

// Wrong types in the section, the section itself of the wrong type, and keys the section does
// not have: the same refusals as at the top level, naming the key by its path.
TEST(Config, ClusterSectionRefusesWhatTheTopLevelRefuses) {
  EXPECT_THAT(error_of(R"({"cluster": {"rol": "edge"}})"), HasSubstr("test.json: unknown key \"cluster.rol\""));
  EXPECT_THAT(error_of(R"({"cluster": {"clusterRole": "edge"}})"), HasSubstr("unknown key \"cluster.clusterRole\""));
  // A section's key is written inside the section; the dotted path is not a key of its own.
  EXPECT_THAT(error_of(R"({"cluster.role": "edge"})"), HasSubstr("unknown key \"cluster.role\""));
  for (const char* section : {"5", "\"edge\"", "[]", "null", "true"}) {
    EXPECT_THAT(error_of(std::string(R"({"cluster": )") + section + "}"), HasSubstr("test.json: \"cluster\" must be an object"))
        << section;
  }
  EXPECT_THAT(error_of(R"({"cluster": {"replicas": "3"}})"), HasSubstr("\"cluster.replicas\" must be an integer from 1 to 5, got \"3\""));
  EXPECT_THAT(error_of(R"({"cluster": {"role": 1}})"), HasSubstr("\"cluster.role\" must be one of"));
  EXPECT_THAT(error_of(R"({"cluster": {"credsFile": false}})"), HasSubstr("\"cluster.credsFile\" must be a file path"));
  EXPECT_THAT(error_of(R"({"cluster": {"resumeWaitMs": 1.5}})"), HasSubstr("\"cluster.resumeWaitMs\" must be an integer"));
  // The servers: an array of URLs, each a non-empty string without commas.
  for (const char* servers : {R"("nats://a:4222")", R"([""])", R"(["nats://a:4222,nats://b:4222"])", R"([4222])", "{}"}) {
    EXPECT_THAT(error_of(std::string(R"({"cluster": {"servers": )") + servers + "}}"),
                HasSubstr("\"cluster.servers\" must be an array of NATS URLs"))
        << servers;
  }
  const std::string long_url = "nats://" + std::string(1020, 'a');
  EXPECT_THAT(error_of(R"({"cluster": {"servers": [")" + long_url + R"(", "nats://b"]}})"),
              HasSubstr("at most 1024 bytes together"));
}

// The flat keys of earlier versions ("clusterRole", ...) are read as aliases of the section's
// keys, and errors name them as written. One setting given both ways is refused.
TEST(Config, FlatClusterKeysAreAliases) {
  const config c = parse_config(R"({"clusterRole": "edge", "dataDir": "/var/lib/eventserver",
    "clusterServers": "nats://10.0.0.1:4222,nats://10.0.0.2:4222", "clusterStream": "FOLLOWER_MAZE-2",
    "clusterSubject": "maze.events_v2", "clusterReplicas": 3, "clusterCredsFile": "/etc/eventserver/nats.creds",
    "clusterDuplicatesWindowMs": 300000, "clusterRequestTimeoutMs": 2000, "clusterResumeWaitMs": 0})");
  const config nested = parse_config(R"({"dataDir": "/var/lib/eventserver", "cluster": {"role": "edge",
    "servers": ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], "stream": "FOLLOWER_MAZE-2",
    "subject": "maze.events_v2", "replicas": 3, "credsFile": "/etc/eventserver/nats.creds",
    "duplicatesWindowMs": 300000, "requestTimeoutMs": 2000, "resumeWaitMs": 0}})");
  int aliases = 0;
  for (const auto& row : config_key_table()) {
    SCOPED_TRACE(std::string(row.key));
    EXPECT_EQ(config_value_json(c, row.key), config_value_json(nested, row.key));
    if (row.alias.empty()) continue;
    ++aliases;
    EXPECT_EQ(config_value_json(c, row.alias), config_value_json(c, row.key));
  }
  EXPECT_EQ(aliases, 9);
  EXPECT_EQ(c.cluster_servers, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
  // Mixed: each setting once, in either form.
  const config mixed = parse_config(R"({"clusterRole": "ingest", "cluster": {"stream": "S", "servers": ["nats://x:1"]}})");
  EXPECT_EQ(mixed.cluster_role, cluster_role_kind::ingest);
  EXPECT_EQ(mixed.cluster_stream, "S");

  EXPECT_THAT(error_of(R"({"clusterRole": "leader"})"), HasSubstr("\"clusterRole\" must be one of \"standalone\", \"ingest\", \"edge\""));
  EXPECT_THAT(error_of(R"({"clusterStream": "EV ENTS"})"), HasSubstr("\"clusterStream\" must be a stream name"));
  EXPECT_THAT(error_of(R"({"clusterSubject": "a.*"})"), HasSubstr("\"clusterSubject\" must be a NATS subject"));
  EXPECT_THAT(error_of(R"({"clusterReplicas": 6})"), HasSubstr("\"clusterReplicas\" must be an integer from 1 to 5"));
  // clusterServers keeps its form: one string of comma-separated URLs.
  EXPECT_THAT(error_of(R"({"clusterServers": ["nats://a:4222"]})"), HasSubstr("\"clusterServers\" must be a string of comma-separated NATS URLs"));
  EXPECT_THAT(error_of(R"({"clusterRole": "edge", "dataDir": ""})"), HasSubstr("\"clusterRole\" \"edge\" needs \"dataDir\""));
  EXPECT_THAT(error_of(R"({"clusterRole": "ingest", "clusterDuplicatesWindowMs": 5000, "clusterRequestTimeoutMs": 5000})"),
              HasSubstr("\"clusterDuplicatesWindowMs\" (5000) must be at least \"clusterRequestTimeoutMs\" plus 500 ms (5500)"));
  EXPECT_EQ(parse_config(R"({"clusterRole": "ingest", "clusterDuplicatesWindowMs": 5500, "clusterRequestTimeoutMs": 5000})")
                .cluster_duplicates_window.count(),
            5500);
  EXPECT_THAT(error_of(R"({"clusterRole": "ingest", "clusterServers": ""})"), HasSubstr("\"clusterRole\" \"ingest\" needs \"clusterServers\""));
  EXPECT_THAT(error_of(R"({"clusterRole": "ingest", "clusterServers": ",,"})"), HasSubstr("needs \"clusterServers\""));
  // A cross check names each key as its own file wrote it.
  EXPECT_THAT(error_of(R"({"cluster": {"role": "ingest", "requestTimeoutMs": 5000}, "clusterDuplicatesWindowMs": 5000})"),
              HasSubstr("\"clusterDuplicatesWindowMs\" (5000) must be at least \"cluster.requestTimeoutMs\" plus 500 ms"));
  // Standalone ignores the cluster keys, empty servers included.
  EXPECT_EQ(parse_config(R"({"clusterServers": ""})").cluster_role, cluster_role_kind::standalone);

  // Both forms of one setting: refused, naming both.
  for (const auto& row : config_key_table()) {
    if (row.alias.empty()) continue;
    SCOPED_TRACE(std::string(row.key));
    const std::string alias(row.alias);
    const std::string nested_value = document_with(row.key, row.default_json);  // {"cluster": {...}}
    // clusterServers is a string where cluster.servers is an array.
    const std::string alias_value = row.key == "cluster.servers" ? "\"nats://127.0.0.1:4222\"" : row.default_json;
    const std::string both = nested_value.substr(0, nested_value.size() - 1) + ", \"" + alias + "\": " + alias_value + "}";
    EXPECT_THAT(error_of(both), HasSubstr("test.json: \"" + std::string(row.key) + "\" and \"" + alias +
                                          "\" are one setting (\"" + alias + "\" is the older, flat name of \"" +
                                          std::string(row.key) + "\"): give it once"))
        << both;
  }
}

TEST(Config, EveryKeyIsRead) {
  const config c = parse_config(R"({"eventListenerPort": 1, "clientListenerPort": 0, "eventListenerAddress": "::1",
    "clientListenerAddress": "127.0.0.2", "logLevel": "debug", "maxLineBytes": 64, "maxPendingEvents": 7,
    "gapTimeoutMs": 250, "maxClientQueueBytes": 4096, "clientHandshakeTimeoutMs": 100, "maxClients": 3,
    "maxEventSources": 2, "shutdownTimeoutMs": 0, "clientWriteBatchBytes": 1, "clientWriteDelayMs": 0})");
  EXPECT_EQ(c.event_listener_port, 1);
  EXPECT_EQ(c.client_listener_port, 0);
  EXPECT_EQ(c.event_listener_address, "::1");
  EXPECT_EQ(c.client_listener_address, "127.0.0.2");
  EXPECT_EQ(c.diagnostics_level, "debug");
  EXPECT_EQ(c.max_line_bytes, 64u);
  EXPECT_EQ(c.max_pending_events, 7u);
  EXPECT_EQ(c.gap_timeout.count(), 250);
  EXPECT_EQ(c.max_client_queue_bytes, 4096u);
  EXPECT_EQ(c.client_handshake_timeout.count(), 100);
  EXPECT_EQ(c.max_clients, 3u);
  EXPECT_EQ(c.max_event_sources, 2u);
  EXPECT_EQ(c.shutdown_timeout.count(), 0);
  EXPECT_EQ(c.client_write_batch_bytes, 1u);
  EXPECT_EQ(c.client_write_delay.count(), 0);
}

TEST(Config, UnknownKeyIsNamed) {
  EXPECT_EQ(error_of(R"({"eventListenerPrt": 9090})"), "test.json: unknown key \"eventListenerPrt\"");
}

TEST(Config, WrongTypeIsNamed) {
  EXPECT_EQ(error_of(R"({"eventListenerPort": "9090"})"),
            "test.json: \"eventListenerPort\" must be an integer from 0 to 65535, got \"9090\"");
  EXPECT_THAT(error_of(R"({"maxClients": 1.5})"), HasSubstr("\"maxClients\" must be an integer"));
  EXPECT_THAT(error_of(R"({"gapTimeoutMs": true})"), HasSubstr("\"gapTimeoutMs\" must be an integer"));
  EXPECT_THAT(error_of(R"({"logLevel": 3})"), HasSubstr("\"logLevel\" must be one of"));
}

TEST(Config, OutOfRangeIsNamed) {
  EXPECT_EQ(error_of(R"({"clientListenerPort": 65536})"),
            "test.json: \"clientListenerPort\" must be an integer from 0 to 65535, got 65536");
  EXPECT_THAT(error_of(R"({"maxPendingEvents": 0})"), HasSubstr("\"maxPendingEvents\" must be an integer from 1 to"));
  EXPECT_THAT(error_of(R"({"maxLineBytes": 63})"), HasSubstr("\"maxLineBytes\" must be an integer from 64 to"));
  EXPECT_THAT(error_of(R"({"shutdownTimeoutMs": -1})"), HasSubstr("\"shutdownTimeoutMs\" must be an integer"));
  EXPECT_THAT(error_of(R"({"maxClients": 18446744073709551615})"), HasSubstr("\"maxClients\""));
  EXPECT_EQ(error_of(R"({"clientWriteBatchBytes": 0})"),
            "test.json: \"clientWriteBatchBytes\" must be an integer from 1 to 1073741824, got 0");
  EXPECT_EQ(error_of(R"({"clientWriteDelayMs": 10001})"),
            "test.json: \"clientWriteDelayMs\" must be an integer from 0 to 10000, got 10001");
}

TEST(Config, BadAddressAndLevelAreNamed) {
  EXPECT_THAT(error_of(R"({"clientListenerAddress": "localhost"})"),
              HasSubstr("\"clientListenerAddress\" must be a numeric IPv4 or IPv6 address"));
  EXPECT_THAT(error_of(R"({"logLevel": "verbose"})"), HasSubstr("\"logLevel\" must be one of trace, debug"));
}

TEST(Config, MalformedDocumentsAreRefused) {
  EXPECT_THAT(error_of("{"), HasSubstr("test.json: not valid JSON"));
  EXPECT_THAT(error_of("[1, 2]"), HasSubstr("test.json: must be a JSON object"));
  EXPECT_THAT(error_of(""), HasSubstr("not valid JSON"));
}

// Both once crashed the config fuzzer: a number too large for a double made nlohmann throw an
// out_of_range that was not a config_error, and deep nesting recursed through the stack.
TEST(Config, HostileDocumentsGetAConfigError) {
  EXPECT_THAT(error_of("0.5e550"), HasSubstr("test.json: not valid JSON"));
  EXPECT_THAT(error_of(R"({"maxClients": 1e999})"), HasSubstr("test.json: not valid JSON"));
  EXPECT_EQ(error_of(R"({"logLevel": )" + std::string(100000, '[')),
            "test.json: nested deeper than 8 levels; the config is one flat object");
}

TEST(Config, ErrorLinesStayShortWhateverTheValue) {
  const std::string message = error_of(R"({"logLevel": ")" + std::string(10000, 'x') + R"("})");
  EXPECT_THAT(message, HasSubstr("\"logLevel\" must be one of"));
  EXPECT_LT(message.size(), 250U);
  EXPECT_THAT(message, ::testing::EndsWith("..."));
}

TEST(Config, MissingFileIsNamed) {
  try {
    load_config_file("/nonexistent/eventserver.json");
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/eventserver.json: cannot read config file: No such file or directory");
  }
}

std::string load_error(const std::filesystem::path& path) {
  try {
    load_config_file(path);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

// A device, a FIFO nobody writes and a directory are refused before a byte is read: no hang,
// no unbounded allocation.
TEST(Config, OnlyARegularFileIsRead) {
  EXPECT_EQ(load_error("/dev/zero"), "/dev/zero: cannot read config file: not a regular file");
  EXPECT_EQ(load_error("/tmp"), "/tmp: cannot read config file: not a regular file");
  const auto fifo = std::filesystem::temp_directory_path() / ("eventserver-config-fifo-" + std::to_string(::getpid()));
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(load_error(fifo), fifo.string() + ": cannot read config file: not a regular file");
  std::filesystem::remove(fifo);
}

TEST(Config, AFileOverTheSizeBoundIsRefused) {
  const auto path = std::filesystem::temp_directory_path() / ("eventserver-config-big-" + std::to_string(::getpid()));
  {
    std::ofstream out(path);
    out << "{" << std::string(max_config_file_bytes, ' ') << "}";
  }
  EXPECT_EQ(load_error(path), path.string() + ": cannot read config file: larger than 1048576 bytes");
  std::filesystem::resize_file(path, max_config_file_bytes);  // exactly the bound: read (and then parsed)
  EXPECT_THAT(load_error(path), HasSubstr("not valid JSON"));
  std::filesystem::remove(path);
}

TEST(Config, TheEventLogIsOffByDefaultAndItsKeysAreChecked) {
  const config defaults = parse_config("{}");
  EXPECT_EQ(defaults.data_dir, "");
  EXPECT_EQ(defaults.log_fsync, storage::fsync_policy::interval);
  EXPECT_EQ(defaults.log_fsync_interval.count(), 100);
  EXPECT_EQ(defaults.log_segment_bytes, 64u << 20);
  EXPECT_EQ(defaults.log_retention_bytes, 1u << 30);
  EXPECT_EQ(defaults.log_retention.count(), 0);
  EXPECT_EQ(defaults.snapshot_every_events, 5'000'000u);
  EXPECT_EQ(defaults.new_stream_policy, new_stream_mode::restart);
  const config c = parse_config(R"({"dataDir": "/var/lib/x", "logFsync": "always", "newStreamPolicy": "continue",
                                   "logRetentionMs": 86400000, "snapshotEveryEvents": 0})");
  EXPECT_EQ(c.data_dir, "/var/lib/x");
  EXPECT_EQ(c.log_fsync, storage::fsync_policy::always);
  EXPECT_EQ(c.new_stream_policy, new_stream_mode::continue_numbering);
  EXPECT_EQ(c.stream().new_stream, new_stream_mode::continue_numbering);  // what the core is given
  // Parsed once into an enum; the name reads back as it was written.
  EXPECT_EQ(config_value_json(c, "logFsync"), R"("always")");
  EXPECT_EQ(config_value_json(c, "newStreamPolicy"), R"("continue")");
  EXPECT_EQ(c.log_retention.count(), 86'400'000);
  EXPECT_EQ(c.snapshot_every_events, 0u);
  EXPECT_EQ(error_of(R"({"logFsync": "sometimes"})"),
            R"(test.json: "logFsync" must be one of "always", "interval", "never", got "sometimes")");
  EXPECT_EQ(error_of(R"({"newStreamPolicy": 1})"),
            R"(test.json: "newStreamPolicy" must be one of "restart", "continue", got 1)");
  EXPECT_THAT(error_of(R"({"logSegmentBytes": 1000})"), HasSubstr("\"logSegmentBytes\" must be an integer from 1048576"));
  EXPECT_THAT(error_of(R"({"dataDir": 5})"), HasSubstr("\"dataDir\" must be a directory path"));
}

// Every string policy is parsed once into its enum: nothing downstream compares strings.
TEST(Config, StringPoliciesAreParsedOnceIntoEnums) {
  const config defaults = parse_config("{}");
  EXPECT_EQ(defaults.client_auth, client_auth_mode::none);
  EXPECT_EQ(defaults.jwt_algorithm, token_algorithm::hs256);
  EXPECT_EQ(defaults.diagnostics_format, diagnostics_format_kind::text);
  const config c = parse_config(R"({"clientAuth": "jwt", "jwtAlgorithm": "ES256", "jwtKeyFile": "/etc/k.pem",
                                   "logFormat": "json"})");
  EXPECT_EQ(c.client_auth, client_auth_mode::jwt);
  EXPECT_EQ(c.jwt_algorithm, token_algorithm::es256);
  EXPECT_EQ(config_value_json(c, "clientAuth"), R"("jwt")");
  EXPECT_EQ(config_value_json(c, "jwtAlgorithm"), R"("ES256")");
  EXPECT_EQ(config_value_json(c, "logFormat"), R"("json")");
  EXPECT_EQ(error_of(R"({"clientAuth": "JWT"})"), R"(test.json: "clientAuth" must be one of "none", "jwt", got "JWT")");
  EXPECT_THAT(error_of(R"({"clientAuth": "jwt", "jwtAlgorithm": "RS256"})"),
              HasSubstr("\"clientAuth\" \"jwt\" needs \"jwtKeyFile\" (the RS256 public key)"));
}

// Spill files live in the data directory: without one the key has no effect, and is no error.
TEST(Config, ClientSpillBytesIsOnByDefaultAndNeedsNoDataDir) {
  EXPECT_EQ(parse_config("{}").client_spill_bytes, 256u << 20);
  EXPECT_EQ(parse_config(R"({"dataDir": "", "clientSpillBytes": 1048576})").client_spill_bytes, 1048576u);
  EXPECT_EQ(parse_config(R"({"clientSpillBytes": 0})").client_spill_bytes, 0u);
}

TEST(Config, MaxSequenceJumpIsZeroOrAtLeastTheWindow) {
  EXPECT_EQ(parse_config(R"({"maxSequenceJump": 0})").max_sequence_jump, 0u);
  EXPECT_EQ(parse_config(R"({"maxPendingEvents": 10, "maxSequenceJump": 10})").stream().max_sequence_jump, 10u);
  EXPECT_THAT(error_of(R"({"maxPendingEvents": 10, "maxSequenceJump": 9})"),
              HasSubstr("\"maxSequenceJump\" (9) must be 0 or at least \"maxPendingEvents\" (10)"));
}

TEST(Config, ShippedConfigIsValidAndMatchesTheDefaults) {
  const config c = load_config_file(EVENTSERVER_SOURCE_DIR "/config/config.json");
  const config d;
  EXPECT_EQ(c.event_listener_port, d.event_listener_port);
  EXPECT_EQ(c.client_listener_port, d.client_listener_port);
  EXPECT_EQ(c.max_pending_events, d.max_pending_events);
  EXPECT_EQ(c.max_client_queue_bytes, d.max_client_queue_bytes);
  EXPECT_EQ(c.client_write_batch_bytes, d.client_write_batch_bytes);
  EXPECT_EQ(c.client_write_delay, d.client_write_delay);
  EXPECT_EQ(c.max_clients, d.max_clients);
  EXPECT_EQ(c.admin_listener_port, d.admin_listener_port);
  EXPECT_EQ(c.ready_max_gap_age, d.ready_max_gap_age);
  EXPECT_EQ(c.diagnostics_format, d.diagnostics_format);
  EXPECT_EQ(c.diagnostics_file, d.diagnostics_file);
  EXPECT_EQ(c.max_sequence_jump, d.max_sequence_jump);
  EXPECT_EQ(c.log_fsync, d.log_fsync);
  EXPECT_EQ(c.new_stream_policy, d.new_stream_policy);
  EXPECT_EQ(c.snapshot_every_events, d.snapshot_every_events);
  EXPECT_EQ(c.data_dir, "data");  // the one difference: the shipped config keeps an event log
}

// The shipped config spells out every key (a section's inside its section), and
// docs/configuration.md names each one and each alias: a new key cannot be left
// undocumented. The README's table names each key, or each section and the keys in it
// (ConfigTable.TheReadmeTableStatesTheShippedValues).
TEST(Config, EveryKeyIsInTheShippedConfigAndTheConfigurationPage) {
  const auto read = [](const char* path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const auto shipped = nlohmann::json::parse(read(EVENTSERVER_SOURCE_DIR "/config/config.json"));
  const std::string reference = read(EVENTSERVER_SOURCE_DIR "/docs/configuration.md");
  for (const auto key : config_keys()) {
    // Appended, not "x" + key: GCC 12 warns (-Wrestrict) about operator+ with a literal first.
    std::string pointer = std::string(1, '/').append(key);
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    EXPECT_TRUE(shipped.contains(nlohmann::json::json_pointer(pointer))) << key << " is not in config/config.json";
    const std::string code = std::string(1, '`').append(key).append(1, '`');
    EXPECT_NE(reference.find(code), std::string::npos) << key << " is not in docs/configuration.md";
  }
  for (const auto& row : config_key_table()) {
    if (row.alias.empty()) continue;
    const std::string code = std::string(1, '`').append(row.alias).append(1, '`');
    EXPECT_NE(reference.find(code), std::string::npos) << "the alias " << row.alias << " is not in docs/configuration.md";
  }
}

// --- The key table: every key's default and range, checked at the bounds and against the docs ---

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each integer key, just inside and just outside both ends of its range.
TEST(ConfigTable, EveryIntegerKeyIsTakenAtItsBoundsAndRefusedPastThem) {
  int checked = 0;
  for (const auto& row : config_key_table()) {
    if (!row.integer) continue;
    SCOPED_TRACE(std::string(row.key));
    ++checked;
    const auto document = [&](std::uint64_t n) { return document_with(row.key, std::to_string(n)); };
    const std::string problem = "\"" + std::string(row.key) + "\" must be an integer from " + std::to_string(row.min) +
                                " to " + std::to_string(row.max);
    EXPECT_EQ(config_value_json(parse_config(document(row.min)), row.key), std::to_string(row.min));
    EXPECT_EQ(config_value_json(parse_config(document(row.max)), row.key), std::to_string(row.max));
    if (row.min > 0) {
      EXPECT_THAT(error_of(document(row.min - 1)), HasSubstr(problem));
    }
    EXPECT_THAT(error_of(document_with(row.key, "-1")), HasSubstr(problem));
    ASSERT_LT(row.max, std::numeric_limits<std::uint64_t>::max());
    EXPECT_THAT(error_of(document(row.max + 1)), HasSubstr(problem));
    if (!row.alias.empty()) {  // the same bounds under the alias, the error naming it
      EXPECT_EQ(config_value_json(parse_config(document_with(row.alias, std::to_string(row.max))), row.key), std::to_string(row.max));
      EXPECT_THAT(error_of(document_with(row.alias, std::to_string(row.max + 1))),
                  HasSubstr("\"" + std::string(row.alias) + "\" must be an integer from " + std::to_string(row.min)));
    }
  }
  EXPECT_GE(checked, 25);
}

// A default must pass its own key's check, and the built-in config is the table's defaults.
TEST(ConfigTable, TheDefaultsAreTheTablesAndEachIsValid) {
  const config built_in;
  const config parsed = parse_config("{}");
  for (const auto& row : config_key_table()) {
    SCOPED_TRACE(std::string(row.key));
    EXPECT_EQ(config_value_json(built_in, row.key), row.default_json);
    EXPECT_EQ(config_value_json(parsed, row.key), row.default_json);
    EXPECT_NO_THROW(parse_config(document_with(row.key, row.default_json)));
    if (row.integer) {
      const auto n = std::stoull(row.default_json);
      EXPECT_GE(n, row.min);
      EXPECT_LE(n, row.max);
    }
  }
  EXPECT_THROW(config_value_json(built_in, "noSuchKey"), config_error);
}

// The shipped config/config.json spells out every default (dataDir aside: it keeps a log).
TEST(ConfigTable, TheShippedConfigHoldsEveryDefault) {
  const config shipped = load_config_file(EVENTSERVER_SOURCE_DIR "/config/config.json");
  for (const auto& row : config_key_table()) {
    SCOPED_TRACE(std::string(row.key));
    EXPECT_EQ(config_value_json(shipped, row.key), row.key == "dataDir" ? "\"data\"" : row.default_json);
  }
}

// The cells of one Markdown table row, trimmed; empty when `line` is not a table row.
std::vector<std::string> table_cells(const std::string& line) {
  std::vector<std::string> cells;
  if (!line.starts_with("| ")) return cells;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

// The `code` spans of a table cell, in order.
std::vector<std::string> code_spans(const std::string& cell) {
  std::vector<std::string> spans;
  for (std::size_t at = cell.find('`'); at != std::string::npos;) {
    const auto end = cell.find('`', at + 1);
    if (end == std::string::npos) break;
    spans.push_back(cell.substr(at + 1, end - at - 1));
    at = cell.find('`', end + 1);
  }
  return spans;
}

// How docs/configuration.md writes a bound: decimal, or 2^N for the large powers of two.
std::string written_bound(std::uint64_t n) {
  if (n > (1ULL << 30) && (n & (n - 1)) == 0) return "2^" + std::to_string(std::countr_zero(n));
  return std::to_string(n);
}

// docs/configuration.md has one row per key: `key` | `default` ... | min-max ... | why. Its
// defaults and ranges are written by hand, so they are a second record the table must agree
// with: a bound changed in the code and not in the docs (or the other way) fails here.
TEST(ConfigTable, TheConfigurationPageStatesEachDefaultAndRange) {
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream page(read_text(EVENTSERVER_SOURCE_DIR "/docs/configuration.md"));
  for (std::string line; std::getline(page, line);) {
    const auto cells = table_cells(line);
    if (cells.size() == 4 && cells[0].size() > 2 && cells[0].front() == '`' && cells[0].back() == '`') {
      rows[cells[0].substr(1, cells[0].size() - 2)] = cells;
    }
  }
  for (const auto& row : config_key_table()) {
    SCOPED_TRACE(std::string(row.key));
    const auto found = rows.find(std::string(row.key));
    ASSERT_NE(found, rows.end()) << "no row for it in docs/configuration.md";
    const auto& cells = found->second;
    EXPECT_THAT(cells[1], ::testing::StartsWith("`" + row.default_json + "`"));
    if (row.integer) {
      EXPECT_THAT(cells[2], ::testing::StartsWith(written_bound(row.min) + "-" + written_bound(row.max)));
    }
  }
}

// The README's table: one or more keys a row, their values in the same order (as the shipped
// config has them); or, for a section, one row `section` that names each of its keys (their
// values are in docs/configuration.md, checked above).
TEST(ConfigTable, TheReadmeTableStatesTheShippedValues) {
  const config shipped = load_config_file(EVENTSERVER_SOURCE_DIR "/config/config.json");
  std::istringstream readme(read_text(EVENTSERVER_SOURCE_DIR "/README.md"));
  std::set<std::string> seen;
  const auto keys = config_keys();
  for (std::string line; std::getline(readme, line);) {
    const auto cells = table_cells(line);
    if (cells.size() != 3) continue;
    const auto named = code_spans(cells[0]);
    // A row of the configuration table names keys and nothing else ("`a`, `b`").
    const bool only_keys = std::regex_match(cells[0], std::regex(R"(`\w+`(, `\w+`)*)"));
    const auto is_key = [&](const std::string& name) { return std::find(keys.begin(), keys.end(), name) != keys.end(); };
    const auto in_section = [&](const std::string& name) {
      return std::any_of(keys.begin(), keys.end(), [&](std::string_view key) { return key.starts_with(name + "."); });
    };
    if (only_keys && named.size() == 1 && in_section(named[0])) {  // a section's row
      const auto listed = code_spans(cells[2]);
      for (const auto key : keys) {
        if (!key.starts_with(named[0] + ".")) continue;
        const std::string member(key.substr(named[0].size() + 1));
        EXPECT_NE(std::find(listed.begin(), listed.end(), member), listed.end())
            << "the README's row for " << named[0] << " does not name " << member;
        seen.insert(std::string(key));
      }
      continue;
    }
    if (!only_keys || !std::all_of(named.begin(), named.end(), is_key)) continue;  // another table
    const auto values = code_spans(cells[1]);
    ASSERT_GE(values.size(), named.size()) << line;
    for (std::size_t i = 0; i < named.size(); ++i) {
      SCOPED_TRACE(named[i]);
      EXPECT_EQ(values[i], config_value_json(shipped, named[i]));
      seen.insert(named[i]);
    }
  }
  for (const auto key : keys) EXPECT_TRUE(seen.contains(std::string(key))) << key << " is not in the README's table";
}

// --- Facts the docs repeat: kept true by checking them against the code ---

// Every paragraph or table row that says what SIGHUP re-reads names all of it.
TEST(DocsFacts, EverySighupDescriptionNamesEverythingSighupReloads) {
  for (const auto key : reloaded_on_sighup) {
    const auto keys = config_keys();
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
  const std::regex describes_sighup(R"(SIGHUP( \|)? re(opens|-reads))");
  int descriptions = 0;
  for (const char* file : {"README.md", "docs/configuration.md", "docs/operations.md"}) {
    // Paragraphs (blank-line separated); a table row is a paragraph of its own.
    std::istringstream text(read_text(std::string(EVENTSERVER_SOURCE_DIR "/") + file));
    std::vector<std::string> paragraphs(1);
    for (std::string line; std::getline(text, line);) {
      if (line.empty() || line.starts_with("|")) paragraphs.emplace_back();
      paragraphs.back() += line + "\n";
      if (line.starts_with("|")) paragraphs.emplace_back();
    }
    for (const auto& paragraph : paragraphs) {
      if (!std::regex_search(paragraph, describes_sighup)) continue;
      ++descriptions;
      for (const auto key : reloaded_on_sighup) {
        EXPECT_NE(paragraph.find(std::string(1, '`').append(key).append(1, '`')), std::string::npos)
            << file << " does not name " << key << " in:\n" << paragraph;
      }
    }
  }
  EXPECT_GE(descriptions, 4);
}

// operations.md and the README state no test counts (they go stale with every new test), and
// operations.md no longer says the admin port asks for no authentication.
TEST(DocsFacts, NoStaleCountsOrClaims) {
  const std::regex test_count(R"(\b\d+ of\s+\d+ tests\b)");
  for (const char* file : {"README.md", "docs/operations.md"}) {
    const std::string text = read_text(std::string(EVENTSERVER_SOURCE_DIR "/") + file);
    EXPECT_FALSE(std::regex_search(text, test_count)) << file;
    EXPECT_EQ(text.find("asks for no authentication"), std::string::npos) << file;
  }
}

}  // namespace
}  // namespace eventserver
