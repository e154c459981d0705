// Delivery streams (rpc/transport.h, "Delivery streams"): a member's deliveries to another
// member as one-way Cap'n Proto frames on a connection of their own, and the inbound side
// that tells such a connection from an RPC one by its first 8 bytes.
//
// Why: with Cap'n Proto 0.9 every deliver() call is three messages -- the Call, the
// callee's Return and the caller's Finish -- so three socket writes, about nine reads and
// three wake-ups spread over two processes for one delivery (strace of a coordinator at
// one client: 24 reads, 8 writes and 7.5 epoll waits per Paxos Commit transaction). A
// frame is one write on the sender and, through StreamReader's buffer, usually one read on
// the receiver. What the receiver owes back is only an ack, and only for a frame whose
// sender waits for it (a failpoint's onDelivered), and a refusal before it closes.
#include <capnp/serialize.h>
#include <kj/debug.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "paxos_commit/assert.h"
#include "rpc/transport_internal.h"
#include "rpc/wrapped_stream.h"

namespace pc::rpc {

namespace {

constexpr kj::byte kPreamble[8] = {'p', 'c', 's', 't', 'r', 'm', '0', '1'};
// Callbacks kept for frames whose ack has not come (a peer that never acks must not grow
// this): beyond it the oldest are forgotten, as if their frames were lost.
constexpr size_t kMaxAwaitingAck = 1024;
constexpr size_t kInitialBufferWords = 4096;  // 32 KiB per connection, grown for larger frames
constexpr uint32_t kRefusalWriteMs = 1000;    // a refusal's write, before the connection closes

kj::TimePoint realNow() { return kj::systemPreciseMonotonicClock().now(); }

// An inbound connection whose first 8 bytes were read to classify it, served to Cap'n Proto
// RPC with those bytes in front again.
class PrefixedStream final : public WrappedStream {
 public:
  PrefixedStream(kj::Own<kj::AsyncIoStream> inner, kj::Array<kj::byte> prefix)
      : WrappedStream(kj::mv(inner)), prefix_(kj::mv(prefix)) {}

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    if (pos_ >= prefix_.size()) return inner().tryRead(buffer, minBytes, maxBytes);
    const size_t n = std::min(maxBytes, prefix_.size() - pos_);
    std::memcpy(buffer, prefix_.begin() + pos_, n);
    pos_ += n;
    if (n >= minBytes) return n;
    return inner()
        .tryRead(static_cast<kj::byte*>(buffer) + n, minBytes - n, maxBytes - n)
        .then([n](size_t more) { return n + more; });
  }

 private:
  kj::Array<kj::byte> prefix_;
  size_t pos_ = 0;
};

// Writes the frame built in `b` (the inbound side's acks and refusal).
kj::Promise<void> writeFrame(kj::AsyncOutputStream& out, capnp::MallocMessageBuilder& b) {
  auto flat = capnp::messageToFlatArray(b);
  auto bytes = flat.asBytes();
  return out.write(bytes.begin(), bytes.size()).attach(kj::mv(flat));
}

}  // namespace

bool deliveryStreamsFromEnvironment() {
  const char* v = std::getenv("PCOMMIT_DELIVERY");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "stream") return true;
  if (std::string_view(v) == "rpc") return false;
  throw std::runtime_error(std::string("PCOMMIT_DELIVERY=") + v + ": expected stream or rpc");
}

// ---- StreamReader ----

StreamReader::StreamReader(kj::AsyncInputStream& in, capnp::ReaderOptions options,
                           size_t maxFrameWords)
    : in_(in),
      options_(options),
      maxFrameWords_(maxFrameWords),
      buf_(kj::heapArray<capnp::word>(kInitialBufferWords)) {}

kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> StreamReader::next() {
  const size_t avail = end_ - begin_;
  if (avail < sizeof(capnp::word)) return fill(sizeof(capnp::word));
  auto words =
      kj::arrayPtr(buf_.begin() + begin_ / sizeof(capnp::word), avail / sizeof(capnp::word));
  const size_t need = capnp::expectedSizeInWordsFromPrefix(words);
  // The header alone says how large the frame is: refuse before reading or allocating it.
  if (need > maxFrameWords_) {
    return KJ_EXCEPTION(FAILED, "stream frame larger than the limit", need, maxFrameWords_);
  }
  if (need > words.size()) return fill(need * sizeof(capnp::word));
  kj::Own<capnp::MessageReader> r =
      kj::heap<capnp::FlatArrayMessageReader>(words.slice(0, need), options_);
  begin_ += need * sizeof(capnp::word);
  return kj::Maybe<kj::Own<capnp::MessageReader>>(kj::mv(r));
}

kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> StreamReader::fill(size_t needBytes) {
  auto* bytes = reinterpret_cast<kj::byte*>(buf_.begin());
  if (begin_ > 0) {  // keep the unread part at the front (frames start word-aligned)
    std::memmove(bytes, bytes + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const size_t capacity = buf_.size() * sizeof(capnp::word);
  if (needBytes > capacity) {  // needBytes <= maxFrameWords_ words: checked in next()
    const size_t words = std::max(needBytes / sizeof(capnp::word), buf_.size() * 2);
    auto bigger =
        kj::heapArray<capnp::word>(std::min(words, std::max(maxFrameWords_, buf_.size())));
    std::memcpy(bigger.begin(), bytes, end_);
    buf_ = kj::mv(bigger);
    bytes = reinterpret_cast<kj::byte*>(buf_.begin());
  }
  const size_t room = buf_.size() * sizeof(capnp::word) - end_;
  return in_.tryRead(bytes + end_, 1, room)
      .then([this](size_t n) -> kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> {
        if (n == 0) return kj::Maybe<kj::Own<capnp::MessageReader>>(nullptr);  // the end
        end_ += n;
        return next();
      });
}

// ---- inbound ----

void Transport::classify(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth) {
  // Counted against maxInboundConnections like a handshake, and closed like a connection
  // that never calls if its first bytes do not come by the idle timeout.
  ++handshakes_;
  struct Pending {
    kj::Own<kj::AsyncIoStream> stream;
    kj::Array<kj::byte> head = kj::heapArray<kj::byte>(sizeof kPreamble);
    PeerAuth auth;
  };
  auto p = kj::heap<Pending>();
  p->stream = kj::mv(stream);
  p->auth = std::move(auth);
  Pending& ref = *p;
  kj::Promise<size_t> head =
      ref.stream->tryRead(ref.head.begin(), ref.head.size(), ref.head.size());
  if (opts_.idleTimeoutMs > 0) {
    head = head.exclusiveJoin(
        afterRealDelay(io_.provider->getTimer(), opts_.idleTimeoutMs).then([this]() -> size_t {
          metrics_.inboundIdleClosed++;
          return 0;
        }));
  }
  tasks_->add(head.then(
                      [this, &ref](size_t n) {
                        --handshakes_;
                        if (n < sizeof kPreamble) return;  // closed, or silent: dropped
                        if (std::memcmp(ref.head.begin(), kPreamble, sizeof kPreamble) == 0) {
                          serveStream(kj::mv(ref.stream), std::move(ref.auth));
                        } else {
                          serveInbound(
                              kj::heap<PrefixedStream>(kj::mv(ref.stream), kj::mv(ref.head)),
                              std::move(ref.auth));
                        }
                      },
                      [this](kj::Exception&&) { --handshakes_; })
                  .attach(kj::mv(p)));
}

void Transport::serveStream(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth) {
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = opts_.traversalLimitWords;
  ro.nestingLimit = static_cast<int>(opts_.nestingLimit);
  auto c = kj::heap<Connection>();
  c->isStream = true;
  c->stream = kj::mv(stream);
  c->auth = std::move(auth);
  c->reader = kj::heap<StreamReader>(*c->stream, ro, opts_.traversalLimitWords);
  const uint64_t key = nextInbound_++;
  c->inboundKey = key;
  inbound_.emplace(key, kj::mv(c));
  // Until the peer closes, sends what cannot be read, or sends no first frame by the idle
  // timeout; dropped on a later turn, as an RPC connection is (transport_node.cc).
  tasks_->add(readInbound(key).exclusiveJoin(untilIdle(key)).then([this, key]() {
    return kj::evalLater([this, key]() { dropInbound(key); });
  }));
}

kj::Promise<void> Transport::readInbound(uint64_t key) {
  auto it = inbound_.find(key);
  if (it == inbound_.end()) return kj::READY_NOW;
  Connection& c = *it->second;
  return kj::evalNow([&c]() { return c.reader->next(); })
      .then([this, key, &c](kj::Maybe<kj::Own<capnp::MessageReader>> frame) -> kj::Promise<void> {
        KJ_IF_MAYBE (f, frame) {
          handleInboundFrame(c, (*f)->getRoot<wire::StreamFrame>());
        } else {
          return kj::READY_NOW;  // the peer closed the connection
        }
        frame = nullptr;  // it points into the reader's buffer, which next() may move
        return readInbound(key);
      })
      .catch_([this, &c](kj::Exception&& e) -> kj::Promise<void> {
        // Garbage, an oversize frame, a refused sender or message: this connection ends,
        // with a refusal the sender can log; the node goes on serving everyone else.
        const std::string why = e.getDescription().cStr();
        logOnce(c.from, "stream closed: " + why);
        auto b = kj::heap<capnp::MallocMessageBuilder>();
        b->initRoot<wire::StreamFrame>().setRefused(why.substr(0, 1000));
        // After any ack still being written: one stream takes one write at a time.
        return kj::mv(c.writeTail)
            .then([&c, b = kj::mv(b)]() mutable {
              return writeFrame(*c.stream, *b).attach(kj::mv(b));
            })
            .exclusiveJoin(afterRealDelay(io_.provider->getTimer(), kRefusalWriteMs))
            .catch_([](kj::Exception&&) {});
      });
}

void Transport::handleInboundFrame(Connection& c, wire::StreamFrame::Reader f) {
  const NodeId from = f.getFrom();
  if (!c.called) {  // the first frame introduces the sender, as attach does on RPC
    if (foreignCluster(from, f.getClusterId())) {
      throw KJ_EXCEPTION(FAILED, "refused: the caller is of another cluster", from);
    }
    if (c.auth.kind != PeerAuth::Kind::Open) checkAttach(c.auth, from, f.getSink());
    c.called = true;
    c.from = from;
    if (f.getSink()) attachStreamSink(from, c);  // a client: its messages come back here
  } else if (from != c.from) {
    throw KJ_EXCEPTION(FAILED, "stream frame from another id than the stream's first", from,
                       c.from);
  }
  // The ack goes out before the messages are handled: a handler may make a synced write
  // and send its answer on this node's own stream, and a receipt queued behind that write
  // would reach the sender together with the answer (a failpoint on the receipt would then
  // fire after the sender had acted on the answer).
  if (f.getAckId() != 0) writeAck(c, f.getAckId());
  if (f.hasMessages()) receiveAuthenticated(c.auth, from, f.getMessages());  // Open: receive()
}

void Transport::writeAck(Connection& c, uint64_t ackId) {
  auto b = kj::heap<capnp::MallocMessageBuilder>();
  b->initRoot<wire::StreamFrame>().setAck(ackId);
  writeInbound(c, kj::mv(b), nullptr);
}

void Transport::writeInbound(Connection& c, kj::Own<capnp::MallocMessageBuilder> b,
                             std::function<void(bool ok)> done) {
  auto write = [&c, b = kj::mv(b)]() mutable {
    return writeFrame(*c.stream, *b).attach(kj::mv(b));
  };
  // Started now (the write(2) happens in this call) unless an earlier frame is still being
  // written: then after it, as one stream takes one write at a time. A write that fails at
  // once (the peer reset) rejects rather than throws: the frame's messages are still
  // handled, and the read side sees the stream end.
  kj::Promise<void> started =
      c.writesPending == 0 ? kj::evalNow(kj::mv(write)) : c.writeTail.then(kj::mv(write));
  ++c.writesPending;
  // `done` runs on a later turn: it may write again, which replaces writeTail, the promise
  // this continuation belongs to.
  auto finish = [this, &c, done](bool ok) {
    --c.writesPending;
    if (done) tasks_->add(kj::evalLater([done, ok]() { done(ok); }));
  };
  c.writeTail =
      started.then([finish]() { finish(true); }, [finish](kj::Exception&&) { finish(false); })
          .eagerlyEvaluate(nullptr);
}

void Transport::attachStreamSink(NodeId from, Connection& c) {
  if (from == kNoNode) throw KJ_EXCEPTION(FAILED, "sink refused: no client id");
  Outbound& o = sinkRoute(from, c.inboundKey);
  o.sinkStream = &c;
  flush(o);
}

void Transport::flushSinkStream(Outbound& o) {
  if (o.inflight > 0 || o.queue.empty()) return;  // one frame at a time; the rest waits
  const size_t n = nextBatch(o);
  auto b = kj::heap<capnp::MallocMessageBuilder>();
  auto f = b->initRoot<wire::StreamFrame>();
  f.setFrom(opts_.self);
  auto callbacks = takeBatch(o, f.initMessages(static_cast<unsigned>(n)));
  o.inflight = 1;
  const NodeId id = o.id;
  const uint64_t gen = o.generation;
  writeInbound(*o.sinkStream, kj::mv(b),
               [this, id, gen, n, callbacks = std::move(callbacks)](bool ok) {
                 if (!ok) metrics_.droppedFailed += n;
                 auto it = out_.find(id);
                 if (it == out_.end() || it->second->generation != gen) return;
                 Outbound& route = *it->second;
                 if (!ok) {
                   onCallFailed(route, KJ_EXCEPTION(DISCONNECTED, "client stream write failed"));
                   return;
                 }
                 route.inflight = 0;
                 for (auto& cb : callbacks) cb();
                 if (!route.queue.empty()) flush(route);
               });
}

// ---- outbound ----

void Transport::streamConnected(Outbound& o, kj::Own<kj::AsyncIoStream> stream) {
  // What comes back: acks and a refusal; to a client, its messages too.
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords =
      opts_.attachSinkOnConnect ? opts_.traversalLimitWords : uint64_t{1} << 16;
  ro.nestingLimit = static_cast<int>(opts_.nestingLimit);
  auto c = kj::heap<Connection>();
  c->isStream = true;
  c->stream = kj::mv(stream);
  c->reader = kj::heap<StreamReader>(*c->stream, ro, ro.traversalLimitInWords);
  c->tasks = kj::heap<kj::TaskSet>(static_cast<kj::TaskSet::ErrorHandler&>(*this));
  c->tasks->add(readOutbound(o.id, o.generation, *c));
  o.conn = kj::mv(c);
  flushStream(o);  // the first frame leaves now, with or without messages
}

void Transport::flushStream(Outbound& o) {
  Connection& c = *o.conn;
  if (o.inflight > 0 || (o.queue.empty() && c.helloSent)) return;  // one write at a time
  const size_t n = nextBatch(o);
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<wire::StreamFrame>();
  f.setFrom(opts_.self);
  const bool hello = !c.helloSent;
  if (hello) {
    setClusterId(f);
    f.setSink(opts_.attachSinkOnConnect);  // a client: my messages back on this stream
  }
  std::vector<std::function<void()>> callbacks;
  if (n > 0) callbacks = takeBatch(o, f.initMessages(static_cast<unsigned>(n)));
  const auto now = realNow();
  const bool askLiveness = opts_.callTimeoutMs > 0 && c.pendingAck == 0 &&
                           now - c.askedAt >= ackIntervalMs() * kj::MILLISECONDS;
  if (!callbacks.empty() || askLiveness || hello) {
    f.setAckId(++c.lastAckId);
    if (hello) c.helloAckId = c.lastAckId;  // its ack: the peer took us in (introduced)
    if (!callbacks.empty()) c.awaitingAck.emplace(c.lastAckId, std::move(callbacks));
    while (c.awaitingAck.size() > kMaxAwaitingAck) c.awaitingAck.erase(c.awaitingAck.begin());
    if (c.pendingAck == 0) {
      c.pendingAck = c.lastAckId;
      c.askedAt = now;
    }
  }
  if (c.pendingAck != 0) c.unconfirmed += n;
  auto flat = capnp::messageToFlatArray(b);
  auto pieces = kj::heapArray<kj::ArrayPtr<const kj::byte>>(c.helloSent ? 1 : 2);
  size_t i = 0;
  if (!c.helloSent) pieces[i++] = kj::arrayPtr(kPreamble, sizeof kPreamble);
  pieces[i] = flat.asBytes();
  c.helloSent = true;
  o.inflight = 1;
  o.lastProgress = now;
  const NodeId id = o.id;
  const uint64_t gen = o.generation;
  auto written = c.stream->write(pieces).attach(kj::mv(flat), kj::mv(pieces));
  c.tasks->add(written.then(
      [this, id, gen]() {
        auto it = out_.find(id);
        if (it == out_.end() || it->second->generation != gen) return;
        it->second->inflight = 0;
        // Awaiting the ack now (if one was asked): the deadline counts from the ask.
        it->second->lastProgress =
            it->second->conn->pendingAck != 0 ? it->second->conn->askedAt : realNow();
        if (!it->second->queue.empty()) flush(*it->second);
      },
      [this, id, gen, n](kj::Exception&& e) {
        metrics_.droppedFailed += n;
        auto it = out_.find(id);
        if (it != out_.end() && it->second->generation == gen) onCallFailed(*it->second, e);
      }));
}

kj::Promise<void> Transport::readOutbound(NodeId id, uint64_t gen, Connection& c) {
  return kj::evalNow([&c]() { return c.reader->next(); })
      .then(
          [this, id, gen, &c](kj::Maybe<kj::Own<capnp::MessageReader>> frame) -> kj::Promise<void> {
            KJ_IF_MAYBE (f, frame) {
              auto r = (*f)->getRoot<wire::StreamFrame>();
              if (r.hasRefused()) {
                const std::string why = r.getRefused().cStr();
                refusedAsForeign(id, why);
                return KJ_EXCEPTION(DISCONNECTED, "the peer refused the stream", why.c_str());
              }
              if (c.pendingAck != 0 && r.getAck() >= c.pendingAck) {  // acks come in order
                c.pendingAck = 0;
                c.unconfirmed = 0;
              }
              if (c.helloAckId != 0 && r.getAck() >= c.helloAckId) {
                c.helloAckId = 0;
                markIntroduced(id, gen);
              }
              if (r.hasMessages()) {
                // Only a client is sent messages back, and only by the node it connected to.
                if (!opts_.attachSinkOnConnect || r.getFrom() != id) {
                  return KJ_EXCEPTION(FAILED, "unexpected messages on an outbound stream",
                                      r.getFrom(), id);
                }
                receive(id, r.getMessages());
              }
              if (auto it = c.awaitingAck.find(r.getAck()); it != c.awaitingAck.end()) {
                auto callbacks = std::move(it->second);
                c.awaitingAck.erase(it);
                for (auto& cb : callbacks) cb();
              }
            } else {
              return KJ_EXCEPTION(DISCONNECTED, "the peer closed the stream");
            }
            frame = nullptr;
            return readOutbound(id, gen, c);
          })
      .catch_([this, id, gen](kj::Exception&& e) {
        auto it = out_.find(id);
        if (it != out_.end() && it->second->generation == gen) onCallFailed(*it->second, e);
      });
}

}  // namespace pc::rpc
