// `promtool check metrics` on a text, for the tests of the metrics format.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace pc::test {

struct PromtoolResult {
  int exitCode = 0;
  std::string output;  // what promtool printed (lint findings, errors); empty when clean
};

// nullopt if promtool is not installed (Debian package prometheus): the caller skips.
inline std::optional<PromtoolResult> promtoolCheck(const std::string& text) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
  auto base =
      std::filesystem::temp_directory_path() / ("pc_promtool_" + std::to_string(::getpid()) + "_" +
                                                std::to_string(std::hash<std::string>{}(text)));
  std::string in = base.string() + ".txt";
  std::string out = base.string() + ".out";
  {
    std::ofstream f(in);
    f << text;
  }
  std::string cmd = "promtool check metrics < '" + in + "' > '" + out + "' 2>&1";
  int status = std::system(cmd.c_str());
  PromtoolResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(out);
  r.output.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  std::remove(in.c_str());
  std::remove(out.c_str());
  return r;
}

}  // namespace pc::test
