# Writes the status page as one C++ string constant: the HTML (status_page.html) with
# its `<script src="status_page.js"></script>` line replaced by the script itself, inline, so
# that the daemon serves one self-contained document and reads no file at run time; the two
# files stay apart for editing (and status_page.html opens in a browser as it is, the script
# beside it). Run by src/admin/CMakeLists.txt at build time:
#   cmake -DHTML=... -DSCRIPT=... -DOUTPUT=... -P embed_status_page.cmake
file(READ ${HTML} html)
file(READ ${SCRIPT} script)
set(reference "<script src=\"status_page.js\"></script>\n")
string(FIND "${html}" "${reference}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${HTML} has no line `<script src=\"status_page.js\"></script>` to put the script in")
endif()
string(REPLACE "${reference}" "<script>\n${script}</script>\n" page "${html}")
# A raw string literal ends at the first `)page"`; the page must not hold one.
string(FIND "${page}" ")page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "the status page contains `)page\"`, which would end the C++ raw string early")
endif()
set(text "// Generated from src/admin/status_page.html and status_page.js by cmake/embed_status_page.cmake.\n")
string(APPEND text "// Do not edit: edit those two files.\n#pragma once\n#include <string_view>\n\n")
string(APPEND text "namespace eventserver::generated {\ninline constexpr std::string_view status_page = R\"page(${page})page\";\n}\n")
file(WRITE ${OUTPUT} "${text}")
