// pcommit get [--cluster FILE | --endpoints LIST] [--json] KEY
//   prints `VALUE VERSION` (exit 0) or `not found` (exit 1); 2 if the participant does not
//   answer; 75 if KEY stays held by an in-doubt transaction (runtime/lock_wait.h).
//   --json: byte strings as json/json.h says (UTF-8 kept, other bytes base64).
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "client/client.h"
#include "json/json.h"
#include "runtime/lock_wait.h"

namespace po = boost::program_options;

namespace pc::cli {

int runGet(const Args& args) {
  po::options_description desc(
      "usage: pcommit get [--cluster FILE | --endpoints LIST] [--json] KEY\n\n"
      "Reads KEY's committed value at the participant that owns it.\n"
      "Prints `VALUE VERSION` (exit 0) or `not found` (exit 1); exit 2 if the participant\n"
      "does not answer. A key held by a prepared transaction is read once it is decided;\n"
      "if that takes over 5 s: one line naming the key, the transaction and what it waits\n"
      "for, exit 75.\n\noptions");
  ClusterArgs where;
  std::string key;
  desc.add_options()("help,h", "print this help")("json", "print one JSON object")(
      "key", po::value<std::string>(&key), "the key");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  pos.add("key", 1);
  po::variables_map vm;
  if (int rc = parseClientArgs("get", args, desc, pos, vm); rc >= 0) return rc;
  if (key.empty()) {
    std::cerr << "pcommit get: no KEY given\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("get", where, cluster); rc >= 0) return rc;
  BlockingClient client(cluster);
  kv::Versioned v;
  try {
    v = client.get(key);
  } catch (const kj::Exception& e) {
    if (auto w = runtime::parseLockWait(e.getDescription().cStr())) {
      std::cerr << "pcommit get: " << runtime::lockWaitMessage(*w) << "\n";
      return kExitLockWait;
    }
    std::cerr << "pcommit get: participant "
              << runtime::nameForId(client.async().participantFor(key))
              << " did not answer: " << e.getDescription().cStr() << "\n";
    return 2;
  }
  if (vm.count("json")) {
    // Byte strings: UTF-8 as is, other bytes as "<field>_base64" (json/json.h).
    json::Value j;
    json::putBytes(j, "key", key);
    j["found"] = v.value.has_value();
    if (v.value) {
      json::putBytes(j, "value", *v.value);
    } else {
      j["value"] = nullptr;
    }
    j["version"] = v.version;
    std::cout << json::render(j) << "\n";
  } else if (v.value) {
    std::cout << *v.value << " " << v.version << "\n";
  } else {
    std::cout << "not found\n";
  }
  return v.value ? 0 : 1;
}

}  // namespace pc::cli
