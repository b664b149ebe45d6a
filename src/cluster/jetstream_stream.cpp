#include "eventserver/cluster/jetstream_stream.hpp"

#include "jetstream_impl.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace eventserver::cluster {

jetstream_stream::jetstream_stream(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
jetstream_stream::jetstream_stream(jetstream_stream&&) noexcept = default;
jetstream_stream& jetstream_stream::operator=(jetstream_stream&&) noexcept = default;
jetstream_stream::~jetstream_stream() = default;

const stream_settings& jetstream_stream::settings() const noexcept { return impl_->settings; }

std::int64_t jetstream_stream::max_payload() const noexcept {
  return natsConnection_GetMaxPayload(impl_->connection);
}

std::string jetstream_stream::message_id(stream_epoch epoch, sequence_number first, sequence_number last) {
  return std::to_string(epoch) + ":" + std::to_string(first) + ":" + std::to_string(last);
}

std::string shown_servers(std::string_view servers) {
  std::string out;
  for (std::size_t from = 0; from <= servers.size();) {
    const std::size_t comma = std::min(servers.find(',', from), servers.size());
    std::string_view url = servers.substr(from, comma - from);
    if (from != 0) out += ',';
    // The userinfo is what comes before the last '@' of the authority (after "scheme://").
    const std::size_t scheme = url.find("://");
    const std::size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
    const std::size_t end = std::min(url.find('/', authority), url.size());
    const std::size_t at = url.substr(0, end).rfind('@');
    if (at != std::string_view::npos && at >= authority) {
      const std::string_view userinfo = url.substr(authority, at - authority);
      const std::size_t colon = userinfo.find(':');
      out.append(url.substr(0, authority));
      if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
      out.append("***").append(url.substr(at));
    } else {
      out.append(url);
    }
    from = comma + 1;
  }
  return out;
}

jetstream_stream jetstream_stream::open(const stream_settings& settings) {
  auto state = std::make_unique<impl>();
  state->settings = settings;
  const auto timeout = static_cast<int64_t>(settings.timeout.count());
  natsStatus s = natsOptions_Create(&state->options);
  // Each URL of the comma-separated list a server of its own (libnats takes one URL per entry).
  std::vector<std::string> urls;
  for (std::size_t from = 0; from <= settings.servers.size();) {
    const std::size_t comma = std::min(settings.servers.find(',', from), settings.servers.size());
    if (comma > from) urls.push_back(settings.servers.substr(from, comma - from));
    from = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& url : urls) servers.push_back(url.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(state->options, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(state->options, timeout);
  // Reconnect for ever, every half second: a publisher or reader waits for the cluster to come
  // back rather than give up (its caller bounds what it holds meanwhile).
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(state->options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(state->options, 500);
  // A credentials file that cannot be read is a config error, not an outage to wait out.
  if (!settings.creds_file.empty() && ::access(settings.creds_file.c_str(), R_OK) != 0) {
    throw cluster_settings_error("the NATS credentials file " + settings.creds_file + " (cluster.credsFile) cannot be read: " +
                                 std::strerror(errno));
  }
  if (s == NATS_OK && !settings.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(state->options, settings.creds_file.c_str(), nullptr);
  }
  if (s != NATS_OK) throw cluster_error("NATS options: " + status_text(s, jsErrCode{}));
  s = natsConnection_Connect(&state->connection, state->options);
  // Refused credentials are a configuration error, not an outage to wait out.
  if (s == NATS_CONNECTION_AUTH_FAILED) {
    throw cluster_settings_error("NATS at " + shown_servers(settings.servers) + " refused the credentials (" +
                                 status_text(s, jsErrCode{}) +
                                 "): check the user and password or token in cluster.servers, or cluster.credsFile");
  }
  if (s != NATS_OK) {
    throw cluster_error("cannot connect to NATS at " + shown_servers(settings.servers) + ": " + status_text(s, jsErrCode{}));
  }
  jsOptions_Init(&state->js_options);
  state->js_options.Wait = timeout;
  s = natsConnection_JetStream(&state->js, state->connection, &state->js_options);
  if (s != NATS_OK) throw cluster_error("JetStream at " + shown_servers(settings.servers) + ": " + status_text(s, jsErrCode{}));

  const std::int64_t payload = natsConnection_GetMaxPayload(state->connection);
  if (payload > 0 && settings.max_batch_bytes + header_room > static_cast<std::uint64_t>(payload)) {
    throw cluster_settings_error("a batch of up to " + std::to_string(settings.max_batch_bytes) + " bytes and its headers (" +
                        std::to_string(header_room) + ") do not fit the server's max_payload of " +
                        std::to_string(payload) + " bytes: raise max_payload or lower maxLineBytes");
  }

  jsErrCode code{};
  owned_stream_info info;
  s = js_GetStreamInfo(&info.p, state->js, settings.name.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || code == stream_not_found) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {settings.subject.c_str()};
    config.Name = settings.name.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Replicas = settings.replicas;
    config.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(settings.duplicates_window).count();
    code = jsErrCode{};
    s = js_AddStream(&info.p, state->js, &config, nullptr, &code);
    if (s != NATS_OK) throw cluster_error("cannot create stream " + settings.name + ": " + status_text(s, code));
  } else if (s != NATS_OK) {
    throw cluster_error("cannot read stream " + settings.name + ": " + status_text(s, code));
  }
  // An existing stream is taken as it is, if it keeps the promises.
  const jsStreamConfig& config = *info.p->Config;
  const auto problem = [&](const std::string& what) {
    throw cluster_settings_error("stream " + settings.name + " " + what + "; fix the stream (nats stream edit) or the config");
  };
  if (config.Storage != js_FileStorage) problem("keeps its messages in memory, not in files");
  if (config.Replicas != settings.replicas) {
    problem("has " + std::to_string(config.Replicas) + " replicas, the config asks for " +
            std::to_string(settings.replicas));
  }
  const auto window = std::chrono::nanoseconds(config.Duplicates);
  if (window < settings.duplicates_window) {
    problem("remembers message ids for " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(window).count()) +
            " s, less than the " + std::to_string(settings.duplicates_window.count()) + " s a publisher may retry");
  }
  if (config.SubjectsLen != 1 || settings.subject != config.Subjects[0]) {
    problem("does not hold exactly the subject " + settings.subject);
  }
  // An edge rebuilds the follower graph from the first batch of the current epoch on: limits
  // would let the server delete the oldest messages, and with them the start of the epoch.
  if (config.MaxMsgs > 0 || config.MaxBytes > 0 || config.MaxAge > 0 || config.MaxMsgsPerSubject > 0) {
    problem("has limits (max_msgs " + std::to_string(config.MaxMsgs) + ", max_bytes " + std::to_string(config.MaxBytes) +
            ", max_age " + std::to_string(config.MaxAge / 1'000'000'000) + " s, max_msgs_per_subject " +
            std::to_string(config.MaxMsgsPerSubject) +
            ") by which retention would delete the start of the current epoch, which every edge replays");
  }
  if (config.MaxMsgSize > 0 && settings.max_batch_bytes + header_room > static_cast<std::uint64_t>(config.MaxMsgSize)) {
    problem("takes messages of at most " + std::to_string(config.MaxMsgSize) + " bytes, less than a batch");
  }
  return jetstream_stream(std::move(state));
}

publish_result jetstream_stream::publish(stream_epoch epoch, sequence_number first, sequence_number last,
                                         std::span<const char> sealed, std::uint64_t expect_last) {
  publish_result out;
  owned_msg msg;
  natsStatus s = natsMsg_Create(&msg.p, impl_->settings.subject.c_str(), nullptr, sealed.data(),
                                static_cast<int>(sealed.size()));
  const std::string epoch_text = std::to_string(epoch);
  const std::string first_text = std::to_string(first);
  const std::string last_text = std::to_string(last);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.p, header_epoch, epoch_text.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.p, header_first, first_text.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.p, header_last, last_text.c_str());
  if (s != NATS_OK) {
    out.detail = status_text(s, jsErrCode{});
    return out;
  }
  const std::string id = message_id(epoch, first, last);
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.c_str();
  options.MaxWait = static_cast<int64_t>(impl_->settings.timeout.count());
  // 0 would mean "no check": an empty stream is stated as one with no message on the subject.
  if (expect_last == 0) {
    options.ExpectNoMessage = true;
  } else {
    options.ExpectLastSeq = expect_last;
  }
  owned_ack ack;
  jsErrCode code{};
  s = js_PublishMsg(&ack.p, impl_->js, msg.p, &options, &code);
  if (s == NATS_OK) {
    out.result = ack.p->Duplicate ? publish_result::outcome::duplicate : publish_result::outcome::stored;
    out.stream_seq = ack.p->Sequence;
    return out;
  }
  out.detail = status_text(s, code);
  if (code == wrong_last_sequence) {
    out.result = publish_result::outcome::wrong_last_seq;
  } else if (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
             s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_SERVER) {
    out.result = publish_result::outcome::unavailable;
  } else {
    out.result = publish_result::outcome::refused;
  }
  return out;
}

stream_state jetstream_stream::state() {
  owned_stream_info info;
  jsErrCode code{};
  const natsStatus s = js_GetStreamInfo(&info.p, impl_->js, impl_->settings.name.c_str(), nullptr, &code);
  if (s != NATS_OK) throw cluster_error("cannot read stream " + impl_->settings.name + ": " + status_text(s, code));
  stream_state out{info.p->State.FirstSeq, info.p->State.LastSeq, info.p->State.Msgs, info.p->State.Bytes, {}};
  if (info.p->Cluster != nullptr && info.p->Cluster->Leader != nullptr) out.leader = info.p->Cluster->Leader;
  return out;
}

std::optional<stored_batch> jetstream_stream::at(std::uint64_t stream_seq) {
  if (stream_seq == 0) return std::nullopt;
  owned_msg msg;
  jsErrCode code{};
  const natsStatus s = js_GetMsg(&msg.p, impl_->js, impl_->settings.name.c_str(), stream_seq, nullptr, &code);
  if (s == NATS_NOT_FOUND || code == no_message_found) return std::nullopt;
  if (s != NATS_OK) {
    throw cluster_error("cannot read message " + std::to_string(stream_seq) + " of stream " + impl_->settings.name +
                        ": " + status_text(s, code));
  }
  return impl_->decode(msg.p, stream_seq, natsMsg_GetTime(msg.p));
}

std::optional<stored_batch> jetstream_stream::last() {
  const stream_state now = state();
  // The last message may be deleted (retention works from the front, but an operator may
  // delete one): walk back to one that exists.
  for (std::uint64_t seq = now.last_seq; seq >= now.first_seq && seq != 0; --seq) {
    if (auto batch = at(seq)) return batch;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> jetstream_stream::find(stream_epoch epoch, sequence_number seq) {
  const stream_state now = state();
  if (now.messages == 0) return std::nullopt;
  // Batches are stored in (epoch, first) order: the last message at or before (epoch, seq).
  std::uint64_t low = now.first_seq;
  std::uint64_t high = now.last_seq;
  std::optional<stored_batch> found;
  while (low <= high) {
    const std::uint64_t middle = low + (high - low) / 2;
    // A deleted message in the middle: the next one that exists stands for it.
    std::optional<stored_batch> probe;
    std::uint64_t at_seq = middle;
    for (; at_seq <= high && !(probe = at(at_seq)); ++at_seq) {
    }
    if (!probe) {
      if (middle == 0) break;
      high = middle - 1;
      continue;
    }
    const bool at_or_before = probe->epoch < epoch || (probe->epoch == epoch && probe->first <= seq);
    if (at_or_before) {
      found = std::move(probe);
      low = at_seq + 1;
    } else {
      if (middle == 0) break;
      high = middle - 1;
    }
  }
  if (!found || found->epoch != epoch || found->last < seq) return std::nullopt;
  return found->stream_seq;
}

}  // namespace eventserver::cluster
