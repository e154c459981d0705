// Helpers for tests that run real nodes inside the test process: a free loopback port and
// a scratch directory removed at the end of the test.
#pragma once

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/unit/test_util.h"  // doctest, with its stringifier set up first

namespace pc::test {

// A free TCP port on 127.0.0.1 (the kernel's pick; free again once closed).
inline uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A new directory under the system's temp directory, named PREFIX.XXXXXX; removed with
// everything in it when the object goes.
struct ScratchDir {
  explicit ScratchDir(const std::string& prefix) {
    std::string tmpl = std::filesystem::temp_directory_path() / (prefix + ".XXXXXX");
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path;
};

}  // namespace pc::test
