#pragma once
// `eventserver log list|verify|dump|repair -data-dir DIR [-epoch E] [-from N] [-to M]`: the
// operator's look at a data directory's event log and snapshots.
//
//   list     segments (epoch, sequence range, size, modification time) and snapshots
//   verify   every checksum of every segment and snapshot, and the segments' continuity
//   dump     the events of a range, one per line as stored (without "\r\n")
//   repair   what start-up does with `repair`: cut the log at damage, set later segments aside
//
// list, verify and dump only read (they work beside a running daemon; verify may then see
// the batch being written as a torn tail); repair takes the directory's LOCK.
// Exit status: 0 clean, 1 damaged or failed, 2 bad usage.

#include <iosfwd>

namespace eventserver {

// argv[0] is the word that chose the tool ("log"); argv[1] the action.
int run_log_tool(int argc, char** argv);
int run_log_tool(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace eventserver
