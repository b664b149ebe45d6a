#include "eventserver/app/logging.hpp"

#include <memory>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace eventserver {

namespace {

// %j: the message as the inside of a JSON string (quotes, backslashes, control bytes escaped).
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    constexpr char hex[] = "0123456789abcdef";
    for (const char ch : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(ch);
      } else if (c < 0x20) {
        const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(ch);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<json_message_flag>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter(const config& settings) {
  if (settings.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<json_message_flag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%j"})");
    return formatter;
  }
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %-5l %v");
}

std::shared_ptr<spdlog::logger> make_logger(const config& settings) {
  spdlog::sink_ptr sink;
  if (settings.log_file.empty()) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.log_file, /*truncate=*/false);
    } catch (const spdlog::spdlog_ex& e) {
      throw config_error("\"logFile\" cannot be opened: " + std::string(e.what()));
    }
  }
  auto logger = std::make_shared<spdlog::logger>("eventserver", std::move(sink));
  logger->set_formatter(make_formatter(settings));
  logger->set_level(spdlog::level::from_str(settings.log_level));
  // Warnings and worse reach the file at once; the rest is flushed every second by spdlog's
  // flusher thread (hence the _mt sinks: their mutex is uncontended on the event path).
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace

void configure_logging(const config& settings) {
  spdlog::set_default_logger(make_logger(settings));
  spdlog::flush_every(std::chrono::seconds(1));
}

bool reopen_log_file(const config& settings) {
  if (settings.log_file.empty()) return true;
  try {
    auto fresh = make_logger(settings);
    fresh->set_level(spdlog::default_logger()->level());
    spdlog::default_logger()->flush();
    spdlog::set_default_logger(std::move(fresh));
    return true;
  } catch (const config_error& e) {
    spdlog::error("SIGHUP: {}; still logging to the old file", e.what());
    return false;
  }
}

}  // namespace eventserver
