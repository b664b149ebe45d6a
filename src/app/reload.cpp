#include "eventserver/app/reload.hpp"

#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "eventserver/app/credentials.hpp"
#include "eventserver/app/diagnostics.hpp"
#include "eventserver/app/server.hpp"

namespace eventserver {

namespace {

// Runs on the job's thread: reads everything, touches nothing of the daemon's; what changes is
// the completion's to do, on the event thread.
blocking_job::completion read_files(const std::string& config_path, const config& settings, server& daemon) {
  reopen_diagnostics_file(settings);
  // A renewed certificate is taken without a restart; a bad one changes nothing.
  std::function<void()> renew_credentials = [] {};
  if (settings.client_tls || settings.ws_tls || settings.client_auth == client_auth_mode::jwt || !settings.admin_token_file.empty()) {
    try {
      auto fresh = std::make_shared<credentials>(load_credentials(settings));
      renew_credentials = [fresh, &daemon] {
        daemon.set_credentials(std::move(*fresh));
        spdlog::info("SIGHUP: TLS certificate, keys and tokens re-read; new connections use them");
      };
    } catch (const config_error& e) {
      renew_credentials = [error = std::string(e.what())] {
        spdlog::error("SIGHUP: keeping the TLS certificate, keys and tokens in use: {}", error);
      };
    }
  }
  try {
    const auto fresh = load_config_file(config_path);
    return [fresh, renew_credentials] {
      // Said before the change, so a quieter level does not swallow its own announcement.
      spdlog::info("SIGHUP: log file reopened, logLevel {} -> {}",
                   spdlog::level::to_string_view(spdlog::default_logger()->level()), fresh.diagnostics_level);
      spdlog::set_level(spdlog::level::from_str(fresh.diagnostics_level));
      renew_credentials();
    };
  } catch (const config_error& e) {
    return [error = std::string(e.what()), renew_credentials] {
      spdlog::error("SIGHUP: config not reloaded, keeping logLevel: {}", error);
      renew_credentials();
    };
  }
}

}  // namespace

reload::reload(asio::io_context& io, server& daemon, std::string config_path, config settings)
    : daemon_(daemon), config_path_(std::move(config_path)), settings_(std::move(settings)), hangup_(io, SIGHUP), job_(io) {}

void reload::start() {
  hangup_.async_wait([this](const error_code& ec, int) { on_hangup(ec); });
}

void reload::stop() {
  hangup_.cancel();
  job_.abandon();
}

void reload::on_hangup(const error_code& ec) {
  if (ec || daemon_.stopping()) return;
  // The job gets copies: abandoned at shutdown, it may outlive this object.
  if (!job_.start([path = config_path_, settings = settings_, &daemon = daemon_] { return read_files(path, settings, daemon); })) {
    spdlog::warn("SIGHUP ignored: the previous reload is still reading the config file");
  }
  start();
}

}  // namespace eventserver
