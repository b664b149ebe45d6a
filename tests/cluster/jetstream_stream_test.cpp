// The log as a JetStream stream, against a real nats-server: what a publisher and a reader may
// rely on, and the traps of ../shared/FACTS.md (2b) closed.
#include "eventserver/cluster/jetstream_stream.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "cluster/cluster_test_support.hpp"
#include "support/nats_creds.hpp"

namespace eventserver::cluster {
namespace {

using storage::testing::events_batch;
using outcome = publish_result::outcome;

class JetStream : public testing::nats_test {
 protected:

  // Publishes `count` batches of `per_batch` events of epoch 1 from number `first`, each
  // expecting the one before; returns the stream sequence of the last.
  std::uint64_t publish_run(jetstream_stream& stream, sequence_number first, int count, std::uint32_t per_batch,
                            std::uint64_t expect_last) {
    for (int i = 0; i < count; ++i) {
      const auto batch = events_batch(first, per_batch);
      const publish_result result = stream.publish(1, first, first + per_batch - 1, batch, expect_last);
      EXPECT_EQ(result.result, outcome::stored) << result.detail;
      expect_last = result.stream_seq;
      first += per_batch;
    }
    return expect_last;
  }

};

TEST_F(JetStream, BatchesComeBackCheckedAndInOrder) {
  jetstream_stream stream = jetstream_stream::open(settings_);
  EXPECT_FALSE(stream.last().has_value());
  EXPECT_EQ(publish_run(stream, 1, 3, 10, 0), 3u);
  const auto second = stream.at(2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->epoch, 1u);
  EXPECT_EQ(second->first, 11u);
  EXPECT_EQ(second->last, 20u);
  EXPECT_EQ(second->sealed, events_batch(11, 10));
  const auto last = stream.last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->stream_seq, 3u);
  EXPECT_EQ(last->last, 30u);
  EXPECT_FALSE(stream.at(4).has_value());
  EXPECT_EQ(stream.state().messages, 3u);
}

// A retry of a batch whose acknowledgement was lost: the same id, the same bytes.
TEST_F(JetStream, ARetryOfTheSameBatchIsADuplicateNotASecondCopy) {
  jetstream_stream stream = jetstream_stream::open(settings_);
  const auto batch = events_batch(1, 10);
  ASSERT_EQ(stream.publish(1, 1, 10, batch, 0).result, outcome::stored);
  const publish_result again = stream.publish(1, 1, 10, batch, 0);
  EXPECT_EQ(again.result, outcome::duplicate) << again.detail;
  EXPECT_EQ(again.stream_seq, 1u);
  EXPECT_EQ(stream.state().messages, 1u);
}

// The Msg-Id trap: after a restart the publisher cuts its batches differently. A batch that
// overlaps what the stream holds has another id, so dedup does not catch it; the expected last
// sequence does, and the publisher learns where the stream ends instead of forking it.
TEST_F(JetStream, ARecutBatchCanNeverForkTheStream) {
  jetstream_stream stream = jetstream_stream::open(settings_);
  ASSERT_EQ(stream.publish(1, 1, 1000, events_batch(1, 1000), 0).result, outcome::stored);
  // A second publisher (or this one restarted) that believes the stream empty:
  const publish_result recut = stream.publish(1, 1, 1500, events_batch(1, 1500), 0);
  EXPECT_EQ(recut.result, outcome::wrong_last_seq) << recut.detail;
  // One that believes it ends one message earlier than it does:
  ASSERT_EQ(stream.publish(1, 1001, 1200, events_batch(1001, 200), 1).result, outcome::stored);
  EXPECT_EQ(stream.publish(1, 1001, 1500, events_batch(1001, 500), 1).result, outcome::wrong_last_seq);
  // Rereading the end shows where to go on.
  const auto last = stream.last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->last, 1200u);
  EXPECT_EQ(stream.publish(1, 1201, 1500, events_batch(1201, 300), last->stream_seq).result, outcome::stored);
  EXPECT_EQ(stream.state().messages, 3u);
}

TEST_F(JetStream, FindLocatesTheBatchHoldingANumber) {
  jetstream_stream stream = jetstream_stream::open(settings_);
  publish_run(stream, 1, 50, 10, 0);
  // Epoch 2 begins at 1 again.
  ASSERT_EQ(stream.publish(2, 1, 5, events_batch(1, 5), 50).result, outcome::stored);
  EXPECT_EQ(stream.find(1, 1), 1u);
  EXPECT_EQ(stream.find(1, 237), 24u);
  EXPECT_EQ(stream.find(1, 500), 50u);
  EXPECT_FALSE(stream.find(1, 501).has_value());
  EXPECT_EQ(stream.find(2, 3), 51u);
  EXPECT_FALSE(stream.find(2, 6).has_value());
  EXPECT_FALSE(stream.find(3, 1).has_value());
}

// Acknowledged batches survive a kill -9 of the server (its files), and a publisher that
// reconnects goes on where the stream ends.
TEST_F(JetStream, AcknowledgedBatchesSurviveAServerCrash) {
  {
    jetstream_stream stream = jetstream_stream::open(settings_);
    publish_run(stream, 1, 20, 10, 0);
  }
  server_.kill(SIGKILL);
  ASSERT_TRUE(server_.start()) << server_.error();
  jetstream_stream stream = jetstream_stream::open(settings_);
  const auto last = stream.last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->stream_seq, 20u);
  EXPECT_EQ(last->last, 200u);
  EXPECT_EQ(publish_run(stream, 201, 1, 10, 20), 21u);
}

TEST_F(JetStream, AnExistingStreamThatBreaksAPromiseIsRefusedByName) {
  { jetstream_stream::open(settings_); }
  stream_settings longer = settings_;
  longer.duplicates_window = std::chrono::seconds(600);
  try {
    jetstream_stream::open(longer);
    FAIL() << "expected cluster_error";
  } catch (const cluster_error& e) {
    EXPECT_NE(std::string(e.what()).find("remembers message ids for 120 s, less than the 600 s"), std::string::npos)
        << e.what();
  }
  stream_settings bigger = settings_;
  bigger.max_batch_bytes = std::size_t{2} << 20;
  try {
    jetstream_stream::open(bigger);
    FAIL() << "expected cluster_error";
  } catch (const cluster_error& e) {
    EXPECT_NE(std::string(e.what()).find("do not fit the server's max_payload of 1048576 bytes"), std::string::npos)
        << e.what();
  }
}

TEST_F(JetStream, AnUnreachableServerIsAClearError) {
  server_.kill(SIGKILL);
  try {
    jetstream_stream::open(settings_);
    FAIL() << "expected cluster_error";
  } catch (const cluster_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to NATS at " + server_.url()), std::string::npos) << e.what();
  }
}

// Credentials in a server URL never reach a log line or an error as they are.
TEST(ShownServers, HidesPasswordsAndTokens) {
  EXPECT_EQ(shown_servers("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  EXPECT_EQ(shown_servers("nats://es:pw@10.0.0.1:4222,nats://t0ken@10.0.0.2:4222,tls://10.0.0.3:4222"),
            "nats://es:***@10.0.0.1:4222,nats://***@10.0.0.2:4222,tls://10.0.0.3:4222");
  EXPECT_EQ(shown_servers("es:pw@10.0.0.1:4222"), "es:***@10.0.0.1:4222");
  EXPECT_EQ(shown_servers("nats://es:p@ss@10.0.0.1:4222"), "nats://es:***@10.0.0.1:4222");
  EXPECT_EQ(shown_servers("nats://10.0.0.1:4222/a@b"), "nats://10.0.0.1:4222/a@b");
  EXPECT_EQ(shown_servers(""), "");
}

// `url` (nats://host:port) with `userinfo` ("user:password" or a token) in it.
std::string with_userinfo(const std::string& url, const std::string& userinfo) {
  return "nats://" + userinfo + "@" + url.substr(std::string("nats://").size());
}

// A nats-server that asks for a user and password, or a token: the right ones in the URL open
// the stream; wrong ones, or none, are a settings error (not an outage to retry) that names
// the servers without the secret.
TEST(JetStreamCredentials, AUserAndPasswordOrATokenInTheUrlAreUsedAndWrongOnesRefusedAtOnce) {
  EVENTSERVER_REQUIRE_NATS_SERVER();
  for (const std::string auth : {"user: eventserver, password: s3cret-pw", "token: s3cret-t0ken"}) {
    SCOPED_TRACE(auth);
    test_support::nats_server server;
    server.use_config("authorization { " + auth + " }\njetstream { store_dir: \"STORE_DIR\" }\n");
    ASSERT_TRUE(server.start()) << server.error();
    stream_settings settings;
    settings.timeout = std::chrono::milliseconds(1500);
    const bool token = auth.starts_with("token");
    settings.servers = with_userinfo(server.url(), token ? "s3cret-t0ken" : "eventserver:s3cret-pw");
    {
      jetstream_stream stream = jetstream_stream::open(settings);
      EXPECT_EQ(stream.state().messages, 0u);
    }
    for (const std::string& wrong : {with_userinfo(server.url(), token ? "wr0ng-t0ken" : "eventserver:wr0ng-pw"), server.url()}) {
      settings.servers = wrong;
      try {
        jetstream_stream::open(settings);
        ADD_FAILURE() << "expected cluster_settings_error for " << wrong;
      } catch (const cluster_settings_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("NATS at " + shown_servers(wrong) + " refused the credentials"), std::string::npos) << what;
        EXPECT_EQ(what.find("wr0ng"), std::string::npos) << "the secret is not shown: " << what;
      }
    }
  }
}

// NATS's operator mode: a server that trusts an operator, and a user's .creds file (JWT and
// nkey seed) from an account of it. cluster.credsFile opens the stream; a user JWT signed by an
// account the server does not know, or no credentials, is refused as a settings error.
TEST(JetStreamCredentials, AnOperatorModeCredsFileIsUsedAndAnUntrustedOneRefused) {
  EVENTSERVER_REQUIRE_NATS_SERVER();
  const test_support::nats_operator_setup trusted;
  test_support::nats_server server;
  server.use_config(trusted.server_config() + "jetstream { store_dir: \"STORE_DIR\" }\n");
  ASSERT_TRUE(server.start()) << server.error();
  const test_support::temp_directory dir("eventserver-creds-test");
  const auto good = dir.path() / "user.creds";
  const auto untrusted = dir.path() / "untrusted.creds";
  std::ofstream(good) << trusted.creds();
  std::ofstream(untrusted) << trusted.creds(test_support::nkey(test_support::nkey::account_type));
  ASSERT_TRUE(test_support::creds_accepted(server.url(), good.string()));

  stream_settings settings;
  settings.timeout = std::chrono::milliseconds(1500);
  settings.servers = server.url();
  settings.creds_file = good.string();
  {
    jetstream_stream stream = jetstream_stream::open(settings);  // creates the stream: JetStream in the account
    EXPECT_EQ(stream.state().messages, 0u);
  }
  for (const std::string& creds : {untrusted.string(), std::string()}) {
    settings.creds_file = creds;
    try {
      jetstream_stream::open(settings);
      ADD_FAILURE() << "expected cluster_settings_error with creds file '" << creds << "'";
    } catch (const cluster_settings_error& e) {
      EXPECT_NE(std::string(e.what()).find("NATS at " + server.url() + " refused the credentials"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace eventserver::cluster
