# One place that decides how every target of the project is compiled (the spdlog way):
# language level, warnings, optional -Werror and sanitizers. Applied per target, never globally.
function(eventserver_set_target_options target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wshadow)
  if(EVENTSERVER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(EVENTSERVER_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  # Per-event logging (SPDLOG_DEBUG/SPDLOG_TRACE) is compiled out of optimised builds.
  target_compile_definitions(${target} PUBLIC
    $<IF:$<CONFIG:Debug>,SPDLOG_ACTIVE_LEVEL=SPDLOG_LEVEL_TRACE,SPDLOG_ACTIVE_LEVEL=SPDLOG_LEVEL_INFO>)
endfunction()
