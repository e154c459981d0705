// The files of a cluster directory (local_cluster.h): paths, pid files, logs, DIR/external.
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/local_cluster/internal.h"

namespace pc::local_cluster::detail {

namespace {
constexpr int kLogTailLines = 8;
}  // namespace

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string errnoText(int e) { return std::strerror(e); }

ClusterPaths pathsFor(const fs::path& canonicalDir) {
  return ClusterPaths{canonicalDir, canonicalDir / "cluster.conf"};
}

bool writeFileAtomically(const fs::path& path, const std::string& text, std::string& error) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

std::optional<pid_t> readPidFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  long long pid = 0;
  if (!(in >> pid) || pid <= 1 || pid > 0x7fffffff) return std::nullopt;
  return static_cast<pid_t>(pid);
}

void removeFile(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);  // gone already is fine
}

std::string logTail(const fs::path& log) {
  std::ifstream in(log, std::ios::binary);
  if (!in) return "    (no log file " + log.string() + ")\n";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - 4096);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::istringstream ls(text);
  for (std::string line; std::getline(ls, line);) lines.push_back(line);
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());  // likely cut in the middle
  size_t first = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) out += "    | " + lines[i] + "\n";
  return out.empty() ? "    (log is empty)\n" : out;
}

std::set<std::string> readExternal(const ClusterPaths& paths) {
  std::set<std::string> out;
  std::ifstream in(paths.externalFile());
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

std::string timestampUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int usageError(std::ostream& err, const std::string& sub, const std::string& msg) {
  err << "pcommit cluster " << sub << ": " << msg << "\n"
      << "try 'pcommit cluster " << sub << " --help'\n";
  return kBadInput;
}

std::optional<ClusterPaths> existingCluster(const std::string& sub, const std::string& dir,
                                            std::ostream& err) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(canonical)) {
    usageError(err, sub, "--dir " + dir + ": no such directory");
    return std::nullopt;
  }
  ClusterPaths paths = pathsFor(canonical);
  if (!fs::exists(paths.conf)) {
    usageError(err, sub,
               "--dir " + dir + ": no cluster here (no " + paths.conf.string() +
                   "; 'pcommit cluster start --dir " + dir + "' makes one)");
    return std::nullopt;
  }
  return paths;
}

std::optional<runtime::ClusterConfig> loadConfig(const ClusterPaths& paths, std::ostream& err) {
  try {
    return runtime::loadClusterFile(paths.conf.string());
  } catch (const runtime::ConfigError& e) {
    err << "pcommit cluster: " << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace pc::local_cluster::detail
