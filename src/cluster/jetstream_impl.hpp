#pragma once
// What jetstream_stream.cpp and stream_follower.cpp share of libnats: the connection behind a
// jetstream_stream, the owned handles, and how a message is checked as a batch. Private to the
// cluster library.

#include <nats/nats.h>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/storage/batch_format.hpp"

namespace eventserver::cluster {


inline constexpr const char* header_epoch = "Es-Epoch";
inline constexpr const char* header_first = "Es-First";
inline constexpr const char* header_last = "Es-Last";
// What a message adds to its batch: the headers above, the Msg-Id and its name, NATS framing.
inline constexpr std::size_t header_room = 512;

inline constexpr jsErrCode wrong_last_sequence = static_cast<jsErrCode>(10071);
inline constexpr jsErrCode no_message_found = JSNoMessageFoundErr;
inline constexpr jsErrCode stream_not_found = JSStreamNotFoundErr;

inline std::string status_text(natsStatus status, jsErrCode code) {
  std::string text = natsStatus_GetText(status);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && text != last) text += std::string(": ") + last;
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

template <class T, void (*destroy)(T*)>
struct owned {
  T* p = nullptr;
  owned() = default;
  owned(const owned&) = delete;
  owned& operator=(const owned&) = delete;
  ~owned() {
    if (p != nullptr) destroy(p);
  }
};
using owned_msg = owned<natsMsg, natsMsg_Destroy>;
using owned_stream_info = owned<jsStreamInfo, jsStreamInfo_Destroy>;
using owned_ack = owned<jsPubAck, jsPubAck_Destroy>;

inline std::optional<std::uint64_t> header_number(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return std::nullopt;
  std::uint64_t out = 0;
  const std::string_view text(value);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}


struct jetstream_stream::impl {
  stream_settings settings;
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  jsOptions js_options{};

  ~impl() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) {
      natsConnection_Close(connection);
      natsConnection_Destroy(connection);
    }
    if (options != nullptr) natsOptions_Destroy(options);
  }

  // A message read back, checked: its headers, the batch inside, and that they agree. A
  // message that is not a batch of this log is the wrong stream: a settings error.
  stored_batch decode(natsMsg* msg, std::uint64_t stream_seq, std::int64_t stored_ns) const {
    const auto epoch = header_number(msg, header_epoch);
    const auto first = header_number(msg, header_first);
    const auto last = header_number(msg, header_last);
    const std::string where = "stream " + settings.name + " message " + std::to_string(stream_seq);
    if (!epoch || !first || !last || *epoch == 0 || *first == 0 || *last < *first) {
      throw cluster_settings_error(where + " has no valid " + header_epoch + "/" + header_first + "/" + header_last +
                          " headers: not a batch of this daemon's log");
    }
    const char* data = natsMsg_GetData(msg);
    const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
    const storage::decode_result decoded = storage::decode_batch(data, size);
    if (decoded.status != storage::decode_status::ok || decoded.batch.stored_size() != size) {
      throw cluster_settings_error(where + " is not one valid batch (" +
                          (decoded.reason.empty() ? std::string("size mismatch") : std::string(decoded.reason)) + ")");
    }
    if (decoded.batch.first_seq != *first || decoded.batch.last_seq() != *last) {
      throw cluster_settings_error(where + ": its headers say " + std::to_string(*first) + ".." + std::to_string(*last) +
                          ", its batch holds " + std::to_string(decoded.batch.first_seq) + ".." +
                          std::to_string(decoded.batch.last_seq()));
    }
    stored_batch out;
    out.stream_seq = stream_seq;
    out.epoch = *epoch;
    out.first = *first;
    out.last = *last;
    out.sealed.assign(data, data + size);
    out.stored_ns = stored_ns;
    return out;
  }
};

}  // namespace eventserver::cluster
