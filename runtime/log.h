// The node log: one line per event on stderr, as `pcommit serve` and ParticipantNode write it.
//
// Each line has a time (UTC, ms), a level, the node's name and the message. Two formats,
// chosen once per process before any node starts (`pcommit serve --log-format`, or the
// PCOMMIT_LOG_FORMAT environment variable that `pcommit cluster start` passes on):
//   text (default)  2026-12-04T18:30:00.123Z info  p1 ready: p1 (participant, paxos) ...
//   json            {"ts": "2026-12-04T18:30:00.123Z", "level": "info", "node": "p1",
//                    "msg": "ready: ..."}   (one object a line, nlohmann-json; the message's
//                    bytes that are not UTF-8 are replaced by U+FFFD)
// Lines below the minimum level (`--log-level`, PCOMMIT_LOG_LEVEL; default info) are not
// written. The messages themselves are the same in both formats and at every level.
//
// Levels: error (the node cannot go on, or lost work), warn (something is wrong around it:
// a peer lost, input rejected, a connection refused), info (what an operator follows:
// start, ready, recovery, failpoints), debug (more detail). Call sites that pass lines
// through a RoleHost/transport LogFn (a plain string) get their level from levelOf().
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pc::runtime {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };
enum class LogFormat { Text, Json };

const char* toString(LogLevel l);  // error | warn | info | debug
std::optional<LogLevel> parseLogLevel(std::string_view s);
const char* toString(LogFormat f);  // text | json
std::optional<LogFormat> parseLogFormat(std::string_view s);

inline constexpr const char* kLogLevelEnv = "PCOMMIT_LOG_LEVEL";
inline constexpr const char* kLogFormatEnv = "PCOMMIT_LOG_FORMAT";

// Sets this process's minimum level and format (before any node logs; not thread-safe
// against concurrent logLine calls).
void setLogOptions(LogLevel minimum, LogFormat format);

// The level of a message written through a plain LogFn, by what it says: "fatal: ...",
// "cannot start: ..." and "task failed: ..." are errors; lost peers, rejected input and
// refused connections warnings; everything else info.
LogLevel levelOf(std::string_view line);

// The line as written (with its final newline), or "" below the minimum level. `node`
// empty: a line of the process rather than of one node (text: no name; JSON: null).
std::string formatLogLine(const std::string& node, const std::string& line, LogLevel level);

// Writes one line for `node` (at levelOf(line) when no level is given), in one write(2):
// lines of co-located nodes and threads do not interleave, and a line written just
// before a crash (a failpoint) is not lost in a buffer.
void logLine(const std::string& node, const std::string& line);
void logLine(const std::string& node, const std::string& line, LogLevel level);

}  // namespace pc::runtime
