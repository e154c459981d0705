// Fuzz target: the wire decoder, as a node runs it on a peer's bytes (rpc/convert.h).
// Bytes -> Cap'n Proto reader with the node's reader limits (rpc/transport.h defaults)
// -> fromWire. Checks: nothing crashes, leaks or throws past fromWire (bad input is
// refused with a reason); an accepted message survives toWire -> fromWire unchanged.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <variant>

#include "paxos_commit/assert.h"
#include "rpc/convert.h"
#include "rpc/transport.h"

namespace {

using Decoded = std::variant<pc::Message, std::string>;

// What a node reads with: the transport's defaults (traversal and nesting limits for the
// reader, pc::rpc::Limits for fromWire).
const pc::rpc::TransportOptions kNode;

Decoded decode(kj::ArrayPtr<const capnp::word> words) {
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = kNode.traversalLimitWords;
  ro.nestingLimit = static_cast<int>(kNode.nestingLimit);
  Decoded result = std::string("unreadable");
  // A bad segment table throws in the reader's constructor; the transport then fails the
  // connection (Cap'n Proto's own handling), never the process.
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 capnp::FlatArrayMessageReader reader(words, ro);
                 result = pc::rpc::fromWire(reader.getRoot<pc::wire::Message>(), kNode.limits);
               })) {
    result = std::string("framing: ") + e->getDescription().cStr();
  }
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Cap'n Proto reads aligned words; the transport's buffers are aligned too.
  auto words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  if (words.size() > 0) std::memcpy(words.begin(), data, words.size() * sizeof(capnp::word));
  Decoded first = decode(words);
  const pc::Message* m = std::get_if<pc::Message>(&first);
  if (m == nullptr) return 0;

  capnp::MallocMessageBuilder builder;
  pc::rpc::toWire(*m, builder.initRoot<pc::wire::Message>());
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  Decoded second = decode(flat);
  const pc::Message* again = std::get_if<pc::Message>(&second);
  PC_ASSERT(again != nullptr, "re-encoded message refused", std::get<std::string>(second));
  PC_ASSERT(*again == *m, "round trip changed the message", pc::Envelope{0, 0, *m},
            pc::Envelope{0, 0, *again});
  return 0;
}
