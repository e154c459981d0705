// Fuzz target: the delivery stream reader (rpc/transport_internal.h StreamReader), as a node
// runs it on the bytes of an inbound stream after the preamble. The first input byte picks
// how the rest arrives (the size of each read); the rest is the stream. Checks: nothing
// crashes, leaks or allocates past the frame limit; the frames read, and where reading
// stopped, do not depend on how the bytes were split into reads; every frame decodes as a
// StreamFrame whose messages fromWire accepts or refuses with a reason.
#include <capnp/message.h>
#include <kj/async.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "paxos_commit/assert.h"
#include "rpc/convert.h"
#include "rpc/transport_internal.h"

namespace {

constexpr size_t kMaxFrameWords = 1 << 14;  // small, so the oversize path is reachable

// The input as a stream that hands out at most `chunk` bytes per read.
class ChunkedInput final : public kj::AsyncInputStream {
 public:
  ChunkedInput(const uint8_t* data, size_t size, size_t chunk)
      : data_(data), size_(size), chunk_(chunk) {}
  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    (void)minBytes;  // a socket may return less than asked; the reader must cope
    const size_t n = std::min({maxBytes, chunk_, size_ - at_});
    std::memcpy(buffer, data_ + at_, n);
    at_ += n;
    return n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t chunk_;
  size_t at_ = 0;
};

struct Result {
  std::vector<size_t> frameWords;  // each frame's size
  bool failed = false;             // stopped on a refused header (else: the end)
  bool operator==(const Result&) const = default;
};

Result readAll(const uint8_t* data, size_t size, size_t chunk) {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  ChunkedInput in(data, size, chunk);
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = kMaxFrameWords;
  pc::rpc::StreamReader reader(in, ro, kMaxFrameWords);
  const pc::rpc::TransportOptions node;
  Result r;
  for (;;) {
    kj::Maybe<kj::Own<capnp::MessageReader>> frame;
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { frame = reader.next().wait(ws); })) {
      r.failed = true;
      return r;
    }
    KJ_IF_MAYBE (f, frame) {
      size_t words = 0;
      for (kj::uint i = 0; i < 512; ++i) {  // past the last segment: a null array
        auto s = (*f)->getSegment(i);
        if (s.begin() == nullptr) break;
        words += s.size();
      }
      r.frameWords.push_back(words);
      PC_ASSERT(words <= kMaxFrameWords, words);
      // The content is the receiver's business: decoded, or refused, never a crash.
      KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                     auto root = (*f)->getRoot<pc::wire::StreamFrame>();
                     for (auto m : root.getMessages()) (void)pc::rpc::fromWire(m, node.limits);
                   })) {
        (void)e;
      }
    } else {
      return r;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = static_cast<size_t>(data[0] % 64) + 1;
  const Result split = readAll(data + 1, size - 1, chunk);
  const Result whole = readAll(data + 1, size - 1, size);
  PC_ASSERT(split == whole, "frames depend on how the bytes were read", chunk,
            split.frameWords.size(), whole.frameWords.size(), split.failed, whole.failed);
  return 0;
}
