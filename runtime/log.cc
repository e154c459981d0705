#include "runtime/log.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

namespace pc::runtime {

void logLine(const std::string& node, const std::string& line) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::gmtime_r(&tv.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::fprintf(stderr, "%s.%03dZ %s %s\n", buf, static_cast<int>(tv.tv_usec / 1000), node.c_str(),
               line.c_str());
  std::fflush(stderr);
}

}  // namespace pc::runtime
