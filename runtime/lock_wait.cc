// The lock-wait error's two forms (runtime/lock_wait.h).
#include "runtime/lock_wait.h"

#include <cstdio>
#include <map>

#include "paxos_commit/kv.h"
#include "runtime/cluster_config.h"
#include "runtime/cluster_config_internal.h"

namespace pc::runtime {

namespace {

constexpr std::string_view kTag = "[pcommit.lock_wait ";

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int h = nibble(text[i]);
    const int l = nibble(text[i + 1]);
    if (h < 0 || l < 0) return std::nullopt;
    out += static_cast<char>(h * 16 + l);
  }
  return out;
}

// "5000" -> "5,000".
std::string withThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string printableKey(const std::string& key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    }
  }
  return out;
}

// What the holder waits for, as the participant's status says it (runtime/role_host.h).
std::string waitingFor(const LockWait& w) {
  if (w.recovering) return "its recovery through the acceptors";
  if (w.leader != kNoNode && !isClientId(w.leader)) {
    if (auto role = roleForName(nameForId(w.leader)); role && *role == Role::Coordinator) {
      return "coordinator " + nameForId(w.leader);
    }
  }
  if (w.leader != kNoNode) return "its leader (node " + std::to_string(w.leader) + ")";
  return "its outcome";
}

}  // namespace

std::string encodeLockWait(const LockWait& w) {
  return lockWaitMessage(w) + " " + std::string(kTag) + "key=" + hex(w.key) +
         " txn=" + w.txn.toString() + " leader=" + std::to_string(w.leader) +
         " recovering=" + (w.recovering ? "1" : "0") + " waited_ms=" + std::to_string(w.waitedMs) +
         "]";
}

std::optional<LockWait> parseLockWait(std::string_view description) {
  const size_t start = description.find(kTag);
  if (start == std::string_view::npos) return std::nullopt;
  std::string_view rest = description.substr(start + kTag.size());
  const size_t end = rest.find(']');
  if (end == std::string_view::npos) return std::nullopt;
  rest = rest.substr(0, end);
  std::map<std::string_view, std::string_view> fields;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    std::string_view item = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    fields[item.substr(0, eq)] = item.substr(eq + 1);  // unknown fields: added later
  }
  auto field = [&](const char* name) -> std::optional<std::string_view> {
    auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
  auto key = field("key");
  auto txn = field("txn");
  auto leader = field("leader");
  auto recovering = field("recovering");
  auto waited = field("waited_ms");
  if (!key || !txn || !leader || !recovering || !waited) return std::nullopt;
  LockWait w;
  auto keyBytes = unhex(*key);
  auto txnId = TxnId::parse(*txn);
  auto leaderId = config_detail::parseUnsigned<NodeId>(*leader);
  auto waitedMs = config_detail::parseUnsigned<uint32_t>(*waited);
  if (!keyBytes || keyBytes->empty() || keyBytes->size() > kv::kMaxKeyBytes || !txnId ||
      !leaderId || !waitedMs || (*recovering != "0" && *recovering != "1")) {
    return std::nullopt;
  }
  w.key = std::move(*keyBytes);
  w.txn = *txnId;
  w.leader = *leaderId;
  w.recovering = *recovering == "1";
  w.waitedMs = *waitedMs;
  return w;
}

std::string lockWaitMessage(const LockWait& w) {
  return "key '" + printableKey(w.key) + "' is held by in-doubt transaction " + w.txn.toString() +
         " (waiting for " + waitingFor(w) + ") after " + withThousands(w.waitedMs) + " ms";
}

}  // namespace pc::runtime
