#include "followermaze/options.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace followermaze {
namespace {

parse_outcome parse(const std::map<std::string, std::string>& env, std::vector<std::string_view> args = {}) {
  return parse_options(
      [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      args);
}

TEST(Options, DefaultsMatchTheOriginalTestProgram) {
  const auto outcome = parse({});
  ASSERT_EQ(outcome.error, "");
  const auto& o = outcome.opts;
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.event_listener_port, 9090);
  EXPECT_EQ(o.client_listener_port, 9099);
  EXPECT_EQ(o.total_events, 10'000'000U);
  EXPECT_EQ(o.concurrency_level, 100U);
  EXPECT_EQ(o.number_of_users, 1000U);
  EXPECT_EQ(o.random_seed, 666U);
  EXPECT_EQ(o.timeout_ms, 20'000U);
  EXPECT_EQ(o.max_event_source_batch_size, 100U);
  EXPECT_EQ(o.log_interval_ms, 1000U);
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_FALSE(o.daemon_pid.has_value());
  EXPECT_EQ(o.mix_name, "default");
  EXPECT_EQ(o.chaos_stuck_readers, 0U);
  EXPECT_EQ(o.chaos_bad_clients, 0U);
  EXPECT_EQ(o.chaos_duplicate_connections, 0U);
  EXPECT_EQ(o.chaos_garbage, 0.0);
  EXPECT_EQ(o.chaos_reconnect, 0U);
  EXPECT_EQ(o.ws_clients, 0U);
  EXPECT_EQ(o.ws_listener_port, 9098);
  EXPECT_FALSE(o.tls);
  EXPECT_EQ(o.jwt_secret_file, "");
  EXPECT_EQ(o.jwt_secret, "");
  EXPECT_EQ(o.jwt_ttl_s, 3600U);
  EXPECT_EQ(o.chaos_bad_tokens, 0U);
  EXPECT_FALSE(o.help);
}

TEST(Options, EnvironmentSetsAndUsersFollowConcurrency) {
  const auto outcome = parse({{"totalEvents", "1000"}, {"concurrencyLevel", "7"}, {"eventListenerPort", "19090"},
                              {"logLevel", "warn"}, {"daemonPid", "123"}, {"randomSeed", "1"}});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.total_events, 1000U);
  EXPECT_EQ(outcome.opts.concurrency_level, 7U);
  EXPECT_EQ(outcome.opts.number_of_users, 70U);
  EXPECT_EQ(outcome.opts.event_listener_port, 19090);
  EXPECT_EQ(outcome.opts.log_level, "warn");
  EXPECT_EQ(outcome.opts.daemon_pid, 123);
  EXPECT_EQ(outcome.opts.random_seed, 1U);
}

TEST(Options, FlagsOverrideTheEnvironmentInBothSpellings) {
  const auto outcome = parse({{"totalEvents", "1000"}, {"numberOfUsers", "500"}},
                             {"--totalEvents=2000", "--concurrencyLevel", "20", "--mix=broadcast-heavy",
                              "--chaos-garbage=0.01", "--chaos-stuck-readers=3", "--chaos-reconnect", "2"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.total_events, 2000U);
  EXPECT_EQ(outcome.opts.concurrency_level, 20U);
  EXPECT_EQ(outcome.opts.number_of_users, 500U);  // set explicitly: not concurrency * 10
  EXPECT_EQ(outcome.opts.mix_name, "broadcast-heavy");
  EXPECT_EQ(outcome.opts.mix.broadcast, 100'000U);
  EXPECT_DOUBLE_EQ(outcome.opts.chaos_garbage, 0.01);
  EXPECT_EQ(outcome.opts.chaos_stuck_readers, 3U);
  EXPECT_EQ(outcome.opts.chaos_reconnect, 2U);
}

TEST(Options, RejectsBadValuesNamingThem) {
  EXPECT_EQ(parse({{"totalEvents", "ten"}}).error,
            "environment variable totalEvents must be an integer from 0 to 18446744073709551615, got \"ten\"");
  EXPECT_EQ(parse({}, {"--eventListenerPort=70000"}).error,
            "flag eventListenerPort must be an integer from 1 to 65535, got \"70000\"");
  EXPECT_EQ(parse({}, {"--nope=1"}).error, "unknown flag --nope (see --help)");
  EXPECT_EQ(parse({}, {"--totalEvents"}).error, "flag --totalEvents needs a value");
  EXPECT_EQ(parse({}, {"stray"}).error, "unexpected argument \"stray\" (see --help)");
  EXPECT_EQ(parse({}, {"--chaos-garbage=0.9"}).error, "flag chaos-garbage must be a number from 0 to 0.5, got \"0.9\"");
  EXPECT_EQ(parse({}, {"--logLevel=loud"}).error,
            "flag logLevel must be one of trace, debug, info, warn, error, critical, off, got \"loud\"");
  EXPECT_EQ(parse({}, {"--mix=odd"}).error,
            "flag mix must be one of default, broadcast-heavy, private-heavy, status-heavy, got \"odd\"");
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--numberOfUsers=5"}).error,
            "numberOfUsers (5) is below concurrencyLevel (10)");
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--chaos-duplicate-connections=11"}).error,
            "chaos-duplicate-connections (11) exceeds concurrencyLevel (10)");
}

TEST(Options, StuckReaderTrafficExceedsWhatAnHonestDaemonLetsThrough) {
  // Defaults: 1.5 x (256 KiB queue + 1 MiB of kernel buffers). Sent less than queue + slack, a
  // reader still connected at the end proves nothing; the default must be past that.
  auto outcome = parse({});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.chaos_queue_bound, 262'144U);
  EXPECT_EQ(outcome.opts.chaos_kernel_slack, 1'048'576U);
  EXPECT_EQ(stuck_bytes_per_reader(outcome.opts), 1'966'080U);
  EXPECT_GT(stuck_bytes_per_reader(outcome.opts), outcome.opts.chaos_queue_bound + outcome.opts.chaos_kernel_slack);

  outcome = parse({}, {"--chaos-queue-bound=1000", "--chaos-kernel-slack=2000"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(stuck_bytes_per_reader(outcome.opts), 4500U);

  outcome = parse({}, {"--chaos-queue-bound=1000", "--chaos-stuck-bytes=7"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(stuck_bytes_per_reader(outcome.opts), 7U);  // as asked, even if too little to prove anything

  outcome = parse({}, {"--chaos-queue-bound=18446744073709551615"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(stuck_bytes_per_reader(outcome.opts), 18446744073709551615ULL);  // saturates, no wrap
}

TEST(Options, HandshakeTimeoutForSilentClients) {
  EXPECT_EQ(parse({}).opts.chaos_handshake_timeout_ms, 5000U);  // the daemon's clientHandshakeTimeoutMs default
  EXPECT_EQ(parse({}, {"--chaos-handshake-timeout=0"}).opts.chaos_handshake_timeout_ms, 0U);
  EXPECT_EQ(parse({}, {"--chaos-handshake-timeout=250"}).opts.chaos_handshake_timeout_ms, 250U);
  EXPECT_EQ(parse({}, {"--chaos-handshake-timeout=3600001"}).error,
            "flag chaos-handshake-timeout must be an integer from 0 to 3600000, got \"3600001\"");
}

TEST(Options, StuckTimeoutFromTheFlagTheDaemonConfigOrTheDaemonsDefault) {
  // The daemon's clientWriteTimeoutMs default, when nothing says otherwise.
  EXPECT_EQ(parse({}).opts.chaos_stuck_timeout_ms, 30'000U);
  EXPECT_EQ(parse({}, {"--chaos-stuck-timeout=3000"}).opts.chaos_stuck_timeout_ms, 3000U);
  EXPECT_EQ(parse({}, {"--chaos-stuck-timeout", "0"}).opts.chaos_stuck_timeout_ms, 0U);  // the queue-bound rule
  EXPECT_EQ(parse({}, {"--chaos-stuck-timeout=3600001"}).error,
            "flag chaos-stuck-timeout must be an integer from 0 to 3600000, got \"3600001\"");

  const std::string path = testing::TempDir() + "followermaze_options_stuck.json";
  const auto write = [&path](const std::string& json) {
    std::ofstream out(path);
    out << json;
  };
  write(R"({"clientListenerPort": 19099, "clientWriteTimeoutMs": 1500})");
  auto outcome = parse({}, {"--daemonConfig", path});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.chaos_stuck_timeout_ms, 1500U);
  EXPECT_EQ(outcome.opts.client_listener_port, 19099);
  // The flag wins, before or after --daemonConfig.
  EXPECT_EQ(parse({}, {"--chaos-stuck-timeout=0", "--daemonConfig", path}).opts.chaos_stuck_timeout_ms, 0U);
  EXPECT_EQ(parse({}, {"--daemonConfig", path, "--chaos-stuck-timeout=700"}).opts.chaos_stuck_timeout_ms, 700U);

  write(R"({"dataDir": "", "historyBytes": 0, "clientWriteTimeoutMs": 0})");
  EXPECT_EQ(parse({}, {"--daemonConfig", path}).opts.chaos_stuck_timeout_ms, 0U);
  write(R"({"clientListenerPort": 19099})");  // left out: the daemon's default
  EXPECT_EQ(parse({}, {"--daemonConfig", path}).opts.chaos_stuck_timeout_ms, 30'000U);
  write(R"({"clientWriteTimeoutMs": "3000"})");
  EXPECT_EQ(parse({}, {"--daemonConfig", path}).error,
            "daemonConfig: clientWriteTimeoutMs is not a number of milliseconds from 0 to 3600000");
  write(R"({"clientWriteTimeoutMs": -1})");
  EXPECT_NE(parse({}, {"--daemonConfig", path}).error, "");
  write(R"({"clientWriteTimeoutMs": 3600001})");
  EXPECT_NE(parse({}, {"--daemonConfig", path}).error, "");
  EXPECT_EQ(parse({}, {"--chaos-stuck-timeout=5", "--daemonConfig", path}).error, "");  // not read when flagged
  std::remove(path.c_str());
}

TEST(Options, StuckReaderDeadline) {
  auto o = parse({}, {"--chaos-stuck-timeout=3000"}).opts;
  constexpr std::uint64_t ms = 1'000'000;
  EXPECT_EQ(stuck_reader_slack_ns(0), 2000 * ms);
  EXPECT_EQ(stuck_reader_slack_ns(250 * ms), 2250 * ms);  // the daemon ran that far behind the source
  // Timeout + 2 s + load after the last message was written.
  EXPECT_EQ(stuck_reader_deadline_ns(o, 10'000 * ms, 0), (10'000 + 3000 + 2000) * ms);
  EXPECT_EQ(stuck_reader_deadline_ns(o, 10'000 * ms, 400 * ms), (10'000 + 3000 + 2400) * ms);
  o.chaos_stuck_timeout_ms = 0;
  EXPECT_EQ(stuck_reader_deadline_ns(o, 10'000 * ms, 400 * ms), 0U);  // no deadline: the queue-bound rule
  o.chaos_stuck_timeout_ms = 3'600'000;
  EXPECT_GT(stuck_reader_deadline_ns(o, 10'000 * ms, ~0ULL), 10'000 * ms);  // no wrap on an absurd load
}

TEST(Options, SlowReadersAndClientReconnects) {
  auto outcome = parse({});
  EXPECT_EQ(outcome.opts.chaos_slow_readers, 0U);
  EXPECT_DOUBLE_EQ(outcome.opts.slow_read_fraction, 0.5);
  EXPECT_EQ(outcome.opts.chaos_client_reconnect, 0U);
  EXPECT_EQ(outcome.opts.chaos_client_reconnect_times, 1U);
  outcome = parse({}, {"--chaos-slow-readers=10", "--slow-read-fraction=0.25", "--chaos-client-reconnect", "5",
                       "--chaos-client-reconnect-times=3"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.chaos_slow_readers, 10U);
  EXPECT_DOUBLE_EQ(outcome.opts.slow_read_fraction, 0.25);
  EXPECT_EQ(outcome.opts.chaos_client_reconnect, 5U);
  EXPECT_EQ(outcome.opts.chaos_client_reconnect_times, 3U);
  EXPECT_EQ(parse({}, {"--slow-read-fraction=1"}).error,
            "flag slow-read-fraction must be a number from 0.01 to below 1, got \"1\"");
  EXPECT_EQ(parse({}, {"--slow-read-fraction=0"}).error,
            "flag slow-read-fraction must be a number from 0.01 to below 1, got \"0\"");
  EXPECT_EQ(parse({}, {"--chaos-client-reconnect-times=0"}).error,
            "flag chaos-client-reconnect-times must be an integer from 1 to 10000, got \"0\"");
  // Disjoint sets of verified connections (duplicates count).
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--chaos-slow-readers=6", "--chaos-client-reconnect=5"}).error,
            "chaos-slow-readers + chaos-client-reconnect (11) exceeds the verified connections (10)");
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--chaos-duplicate-connections=1", "--chaos-slow-readers=6",
                       "--chaos-client-reconnect=5"})
                .error,
            "");
}

TEST(Options, SurviveRestartsIsASwitch) {
  auto outcome = parse({});
  EXPECT_FALSE(outcome.opts.survive_restarts);
  EXPECT_EQ(outcome.opts.restart_timeout_ms, 30'000U);
  EXPECT_EQ(outcome.opts.restart_buffer, 268'435'456U);
  // Alone it takes no value, so the next argument stays a flag of its own.
  outcome = parse({}, {"--survive-restarts", "--totalEvents", "7"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.opts.survive_restarts);
  EXPECT_EQ(outcome.opts.total_events, 7U);
  outcome = parse({}, {"--totalEvents=7", "--survive-restarts"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.opts.survive_restarts);
  EXPECT_TRUE(parse({}, {"--survive-restarts=true"}).opts.survive_restarts);
  EXPECT_TRUE(parse({}, {"--survive-restarts=1"}).opts.survive_restarts);
  EXPECT_FALSE(parse({}, {"--survive-restarts", "--survive-restarts=false"}).opts.survive_restarts);
  EXPECT_FALSE(parse({}, {"--survive-restarts=0"}).opts.survive_restarts);
  EXPECT_EQ(parse({}, {"--survive-restarts=yes"}).error,
            "flag survive-restarts is a switch: give it alone, or as =true, =false, =1 or =0, got \"yes\"");
  EXPECT_EQ(parse({}, {"--survive-restarts="}).error,
            "flag survive-restarts is a switch: give it alone, or as =true, =false, =1 or =0, got \"\"");
  outcome = parse({}, {"--restart-timeout=500", "--restart-buffer", "1048576"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.restart_timeout_ms, 500U);
  EXPECT_EQ(outcome.opts.restart_buffer, 1'048'576U);
  EXPECT_EQ(parse({}, {"--restart-buffer=1000"}).error,
            "flag restart-buffer must be an integer from 65536 to 18446744073709551615, got \"1000\"");
  EXPECT_EQ(parse({}, {"--nope"}).error, "unknown flag --nope (see --help)");
}

TEST(Options, Help) {
  EXPECT_TRUE(parse({}, {"--help"}).opts.help);
  EXPECT_TRUE(parse({}, {"-h"}).opts.help);
  const auto text = usage_text();
  for (const char* name : {"--totalEvents", "--concurrencyLevel", "--daemonPid", "--mix", "--chaos-stuck-readers",
                           "--chaos-stuck-timeout=MS", "clientWriteTimeoutMs",
                           "--chaos-bad-clients", "--chaos-duplicate-connections", "--chaos-garbage",
                           "--chaos-reconnect", "--chaos-kernel-slack", "--chaos-handshake-timeout", "RESULT",
                           "--chaos-slow-readers=N", "--slow-read-fraction=F", "--chaos-client-reconnect=N",
                           "--chaos-client-reconnect-times=K", "--restart-timeout=MS", "--restart-buffer=BYTES",
                           "--ws-clients=N", "--ws-port=PORT", "--wsListenerPort=PORT", "--tls-ca=FILE",
                           "--tls-cert=FILE", "--tls-key=FILE", "--tls-server-name=NAME", "--jwt-secret-file=FILE",
                           "--jwt-ttl=S", "--jwt-audience=AUD", "--jwt-issuer=ISS", "--chaos-bad-tokens=N",
                           "ws_p50_us="}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("  --survive-restarts "), std::string::npos);  // a switch: no =VALUE
  EXPECT_NE(text.find("  --tls "), std::string::npos);
}

TEST(Options, WebSocketClientsAndTheirPort) {
  auto outcome = parse({{"wsListenerPort", "19098"}}, {"--ws-clients=40"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.ws_clients, 40U);
  EXPECT_EQ(outcome.opts.ws_listener_port, 19098);  // from the environment
  EXPECT_EQ(parse({{"wsListenerPort", "19098"}}, {"--ws-port=7"}).opts.ws_listener_port, 7);  // the flag wins
  EXPECT_EQ(parse({}, {"--wsListenerPort=8"}).opts.ws_listener_port, 8);
  // Every verified connection, duplicates included, may be one; no more.
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--chaos-duplicate-connections=2", "--ws-clients=12"}).error, "");
  EXPECT_EQ(parse({}, {"--concurrencyLevel=10", "--ws-clients=11"}).error,
            "ws-clients (11) exceeds the verified connections (10)");
}

TEST(Options, ClientsSpreadOverSeveralPorts) {
  auto outcome = parse({}, {"--clientPorts=9099,9199,9299", "--wsPorts", "9098"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.client_ports, (std::vector<std::uint16_t>{9099, 9199, 9299}));
  EXPECT_EQ(outcome.opts.ws_ports, (std::vector<std::uint16_t>{9098}));
  EXPECT_TRUE(parse({}, {}).opts.client_ports.empty());
  for (const char* bad : {"--clientPorts=9099,", "--clientPorts=0", "--clientPorts=70000", "--clientPorts=a,b",
                          "--wsPorts=,9098", "--wsPorts="}) {
    EXPECT_NE(parse({}, {bad}).error, "") << bad;
  }
  EXPECT_NE(usage_text().find("--clientPorts=PORT,..."), std::string::npos);
}

TEST(Options, ShardsAndObserversShareOneStream) {
  const auto plain = parse({});
  EXPECT_EQ(plain.opts.shard_index, 0U);
  EXPECT_EQ(plain.opts.shard_count, 1U);
  EXPECT_FALSE(plain.opts.observe);
  auto outcome = parse({}, {"--concurrencyLevel=9", "--shard=2/3", "--observe"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.shard_index, 2U);
  EXPECT_EQ(outcome.opts.shard_count, 3U);
  EXPECT_TRUE(outcome.opts.observe);
  for (const char* bad : {"--shard=3/3", "--shard=1/0", "--shard=1", "--shard=/2", "--shard=1/", "--shard=a/2"}) {
    EXPECT_NE(parse({}, {bad}).error, "") << bad;
  }
  EXPECT_EQ(parse({}, {"--concurrencyLevel=2", "--shard=0/3"}).error,
            "shard: 3 shares of concurrencyLevel 2 would leave some empty");
  EXPECT_EQ(parse({}, {"--shard=0/2", "--chaos-stuck-readers=1"}).error, "chaos-stuck-readers cannot be sharded");
  // An observer sends nothing: the source's own modes are refused.
  EXPECT_EQ(parse({}, {"--observe", "--survive-restarts"}).error,
            "observe: survive-restarts needs the source's durable positions");
  EXPECT_EQ(parse({}, {"--observe", "--chaos-reconnect=2"}).error, "observe: chaos-reconnect is the source's");
  EXPECT_EQ(parse({}, {"--observe", "--maxRate=1000"}).error, "observe: maxRate paces the source");
  EXPECT_EQ(parse({}, {"--observe", "--chaos-client-reconnect=3", "--chaos-garbage=0.01"}).error, "");
}

TEST(Options, TlsNeedsACaAndGoesWithItsFiles) {
  auto outcome = parse({}, {"--tls", "--tls-ca=/ca.pem", "--tls-cert=c.pem", "--tls-key=k.pem", "--tls-server-name=localhost"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.opts.tls);
  EXPECT_EQ(outcome.opts.tls_ca_file, "/ca.pem");
  EXPECT_EQ(outcome.opts.tls_cert_file, "c.pem");
  EXPECT_EQ(outcome.opts.tls_key_file, "k.pem");
  EXPECT_EQ(outcome.opts.tls_server_name, "localhost");
  EXPECT_EQ(parse({}, {"--tls"}).error, "tls needs --tls-ca: the daemon's certificate is always checked");
  EXPECT_EQ(parse({}, {"--tls-ca=/ca.pem"}).error, "tls-ca needs --tls");
  EXPECT_EQ(parse({}, {"--tls", "--tls-ca=/ca.pem", "--tls-cert=c.pem"}).error, "tls-cert and tls-key go together");
}

TEST(Options, JwtReadsItsSecretAndGuardsItsCompanions) {
  const std::string path = testing::TempDir() + "followermaze_options_secret";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(40, 'q') << "\r\n";
  }
  auto outcome = parse({}, {"--jwt-secret-file", path, "--jwt-ttl=60", "--jwt-audience=maze", "--jwt-issuer=me",
                            "--chaos-bad-tokens=8"});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.jwt_secret, std::string(40, 'q'));
  EXPECT_EQ(outcome.opts.jwt_ttl_s, 60U);
  EXPECT_EQ(outcome.opts.jwt_audience, "maze");
  EXPECT_EQ(outcome.opts.jwt_issuer, "me");
  EXPECT_EQ(outcome.opts.chaos_bad_tokens, 8U);
  {
    std::ofstream out(path, std::ios::binary);
    out << "short\n";
  }
  EXPECT_NE(parse({}, {"--jwt-secret-file", path}).error.find("at least 32"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_EQ(parse({}, {"--chaos-bad-tokens=1"}).error, "chaos-bad-tokens needs --jwt-secret-file");
  EXPECT_EQ(parse({}, {"--jwt-ttl=5"}).error, "jwt-ttl needs --jwt-secret-file");
  EXPECT_EQ(parse({}, {"--jwt-audience=a"}).error, "jwt-audience needs --jwt-secret-file");
  EXPECT_EQ(parse({}, {"--jwt-issuer=i"}).error, "jwt-issuer needs --jwt-secret-file");
  EXPECT_EQ(parse({}, {"--jwt-secret-file=/nonexistent/s"}).error, "jwt-secret-file: cannot open /nonexistent/s");
}

TEST(Options, PortsFromTheDaemonConfigUnlessFlagged) {
  const std::string path = testing::TempDir() + "followermaze_options_test.json";
  {
    std::ofstream out(path);
    out << R"({"eventListenerPort": 19090, "clientListenerPort": 19099, "wsListenerPort": 19098, "maxClients": 50})";
  }
  auto outcome = parse({}, {"--daemonConfig", path});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.event_listener_port, 19090);
  EXPECT_EQ(outcome.opts.client_listener_port, 19099);
  EXPECT_EQ(outcome.opts.ws_listener_port, 19098);
  EXPECT_EQ(parse({}, {"--ws-port=5001", "--daemonConfig", path}).opts.ws_listener_port, 5001);
  outcome = parse({}, {"--clientListenerPort=5000", "--daemonConfig", path});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.event_listener_port, 19090);
  EXPECT_EQ(outcome.opts.client_listener_port, 5000);
  // wsListenerPort 0: the daemon has no WebSocket listener (config/config.json), fine without ws-clients.
  {
    std::ofstream out(path);
    out << R"({"eventListenerPort": 19090, "clientListenerPort": 19099, "wsListenerPort": 0})";
  }
  outcome = parse({}, {"--daemonConfig", path});
  ASSERT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.opts.ws_listener_port, 9098);
  EXPECT_EQ(parse({}, {"--ws-clients=2", "--daemonConfig", path}).error,
            "daemonConfig: wsListenerPort is 0 (no WebSocket listener), and --ws-clients asks for 2 WebSocket clients");
  EXPECT_EQ(parse({}, {"--ws-clients=2", "--ws-port=5001", "--daemonConfig", path}).opts.ws_listener_port, 5001);
  {
    std::ofstream out(path);
    out << R"({"clientListenerPort": 0})";
  }
  EXPECT_EQ(parse({}, {"--daemonConfig", path}).error,
            "daemonConfig: clientListenerPort is not a port the harness can connect to");
  std::remove(path.c_str());
  EXPECT_EQ(parse({}, {"--daemonConfig=/nonexistent/x.json"}).error, "daemonConfig: cannot open /nonexistent/x.json");
}

}  // namespace
}  // namespace followermaze
