// Writes the seed corpus of every fuzz target: valid inputs of each kind (the unit tests'
// values), so fuzzing starts from deep inside each parser rather than from its first
// length check. Usage: fuzz_seeds DIR (writes DIR/<target>/seed-NN; the committed corpus is
// tests/fuzz/corpus). Deterministic: the same build writes the same files.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core_script.h"
#include "paxos_commit/kv.h"
#include "rpc/convert.h"
#include "runtime/cluster_config.h"
#include "runtime/failpoints.h"
#include "storage/codec.h"

namespace fs = std::filesystem;
using namespace pc;

namespace {

void writeAll(const fs::path& dir, const std::vector<std::string>& inputs) {
  fs::create_directories(dir);
  for (size_t i = 0; i < inputs.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02zu", i);
    std::ofstream(dir / name, std::ios::binary) << inputs[i];
  }
  std::cout << dir.string() << ": " << inputs.size() << " seeds\n";
}

const TxnId kT1{0x1000, 1};
const TxnId kT2{0x1000, 2};
const ParticipantList kParts = {fuzz::kP1, fuzz::kP2};

std::vector<Message> sampleMessages() {
  Phase1b promise{kT1,
                  fuzz::kA1,
                  Ballot{2, fuzz::kCoord},
                  true,
                  false,
                  std::nullopt,
                  Ballot{2, fuzz::kCoord},
                  kParts,
                  {InstanceReport{fuzz::kP1, Ballot::zero(), Vote::Prepared},
                   InstanceReport{fuzz::kP2, std::nullopt, std::nullopt}}};
  Phase1b forgotten{kT2,  fuzz::kA2,       Ballot{1, fuzz::kP1},     false,
                    true, Outcome::Commit, Ballot{3, fuzz::kCoord2}, {},
                    {}};
  const Bytes put = kv::encodeOps({kv::Op{kv::OpKind::Put, "k", "v", 0}});
  return {
      CommitRequest{kT1, {ParticipantPayload{fuzz::kP1, put}, ParticipantPayload{fuzz::kP2, ""}}},
      CommitReply{kT1, TxnStatus::Aborted, "conflict"},
      Prepare{kT1, put, kParts, fuzz::kCoord},
      VoteMsg{kT1, fuzz::kP1, Vote::Prepared, "", kNoNode},
      Phase1a{kT1, Ballot{2, fuzz::kCoord}, kParts},
      promise,
      forgotten,
      Phase2a{
          kT1, kParts, fuzz::kCoord, {InstanceVote{fuzz::kP1, Ballot::zero(), Vote::Prepared}}, ""},
      Phase2a{kT1,
              kParts,
              fuzz::kCoord,
              {InstanceVote{fuzz::kP1, Ballot{2, fuzz::kCoord}, Vote::Prepared},
               InstanceVote{fuzz::kP2, Ballot{2, fuzz::kCoord}, Vote::Aborted}},
              "busy"},
      Phase2b{kT1,
              fuzz::kA1,
              kParts,
              {InstanceVote{fuzz::kP1, Ballot::zero(), Vote::Prepared},
               InstanceVote{fuzz::kP2, Ballot::zero(), Vote::Prepared}},
              false,
              "",
              std::nullopt},
      Phase2b{kT2, fuzz::kA3, {}, {}, true, "", Outcome::Abort},
      OutcomeMsg{kT1, Outcome::Commit},
      Ack{kT1, fuzz::kP1, Outcome::Commit},
      Ack{kT2, fuzz::kP2, std::nullopt},
      AckBatch{{Ack{kT1, fuzz::kP1, Outcome::Commit}, Ack{kT2, fuzz::kP1, std::nullopt}}},
      AckRequest{kT1},
      OutcomeQuery{kT1, kParts},
      OutcomeReply{kT1, TxnStatus::Forgotten},
  };
}

std::vector<std::string> wireSeeds() {
  std::vector<std::string> out;
  for (const auto& m : sampleMessages()) {
    capnp::MallocMessageBuilder b;
    rpc::toWire(m, b.initRoot<wire::Message>());
    auto words = capnp::messageToFlatArray(b);
    auto bytes = words.asBytes();
    out.emplace_back(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  }
  return out;
}

// Delivery streams (fuzz_stream): a read-size byte, then frames as a member writes them: a
// first frame with a cluster id, then frames of one message each, one asking an ack; the
// last seed ends inside a frame.
std::vector<std::string> streamSeeds() {
  std::string frames;
  uint64_t ack = 0;
  for (const auto& m : sampleMessages()) {
    capnp::MallocMessageBuilder b;
    auto f = b.initRoot<wire::StreamFrame>();
    f.setFrom(fuzz::kCoord);
    if (frames.empty())
      f.setClusterId(
          capnp::Data::Reader(reinterpret_cast<const kj::byte*>("0123456789abcdef"), 16));
    if (++ack % 4 == 0) f.setAckId(ack);
    rpc::toWire(m, f.initMessages(1)[0]);
    auto words = capnp::messageToFlatArray(b);
    auto bytes = words.asBytes();
    frames.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  }
  return {std::string(1, '\x00') + frames, std::string(1, '\x07') + frames,
          std::string(1, '\x3f') + frames.substr(0, frames.size() - 5)};
}

std::vector<std::string> codecSeeds() {
  namespace codec = storage::codec;
  AcceptorTxnRecord a{
      kT1,
      kParts,
      fuzz::kCoord,
      {AcceptorInstance{fuzz::kP1, Ballot{2, fuzz::kCoord}, Ballot::zero(), Vote::Prepared},
       AcceptorInstance{fuzz::kP2, Ballot{2, fuzz::kCoord}, std::nullopt, std::nullopt}}};
  ParticipantTxnRecord p{kT1, ParticipantState::Prepared, "payload", kParts, fuzz::kCoord, ""};
  ParticipantTxnRecord pa{kT1,       ParticipantState::VotedAborted, "", kParts, fuzz::kCoord,
                          "conflict"};
  DecisionRecord d{kT1, kParts, true};
  codec::KvValue shortKey{kv::Versioned{std::string("v"), 3}, std::nullopt};
  codec::KvValue longKey{kv::Versioned{std::nullopt, 9}, std::string(600, 'k')};
  std::string logEntries;  // record_log.h: entries back to back, as in a frame
  for (const Record& r : std::vector<Record>{a, p, d, AcceptorForgetRecord{kT1, Outcome::Abort},
                                             AcceptorLowWaterRecord{kT2}, LeaderRoundRecord{5},
                                             DecisionLowWaterRecord{kT2}}) {
    codec::appendLogRecord(logEntries, r);
  }
  return {codec::txnKey(kT1),
          logEntries,
          codec::encode(a),
          codec::encode(p),
          codec::encode(pa),
          codec::encode(d),
          codec::encodeTxn(kT2),
          codec::encodeU64(42),
          codec::encodeEmpty(),
          codec::encodeOutcome(Outcome::Commit),
          codec::encodeOutcome(std::nullopt),
          codec::encode(shortKey),
          codec::encode(longKey),
          codec::encodeLock("some-key"),
          codec::encodeFormat(1)};
}

std::vector<std::string> kvSeeds() {
  using kv::Op;
  using kv::OpKind;
  return {kv::encodeOps({}), kv::encodeOps({Op{OpKind::Put, "k", "v", 0}}),
          kv::encodeOps({Op{OpKind::Put, "a", std::string(200, 'x'), 0},
                         Op{OpKind::Del, "b", "", 0}, Op{OpKind::Expect, "c", "", 300}}),
          kv::encodeOps({Op{OpKind::Expect, "k", "", ~uint64_t{0}}})};
}

std::vector<std::string> clusterSeeds() {
  using runtime::ClusterConfig;
  using runtime::NodeInfo;
  using runtime::Role;
  auto make = [](Protocol proto, int f, int participants, bool coordinator,
                 runtime::Colocate colocate) {
    ClusterConfig c;
    c.protocol = proto;
    c.f = f;
    c.colocate = colocate;
    c.fanOut = f > 0 ? FanOut::Quorum : FanOut::All;
    uint16_t port = 7100;
    auto add = [&](const std::string& name) {
      NodeInfo n;
      n.name = name;
      n.id = *runtime::idForName(name);
      n.role = *runtime::roleForName(name);
      n.host = "127.0.0.1";
      n.port = port++;
      n.dataDir = name;
      c.nodes.push_back(n);
    };
    if (coordinator) add("c1");
    for (int i = 1; i <= participants; ++i) add("p" + std::to_string(i));
    if (isPaxos(proto)) {
      for (int i = 1; i <= 2 * f + 1; ++i) add("a" + std::to_string(i));
    }
    return c.render();
  };
  std::vector<std::string> out = {
      make(Protocol::Paxos, 1, 2, true, runtime::Colocate::None),
      make(Protocol::TwoPC, 0, 3, true, runtime::Colocate::None),
      make(Protocol::PaxosDirect, 0, 1, false, runtime::Colocate::Acceptors),
      make(Protocol::PaxosClassic, 2, 3, true, runtime::Colocate::All),
  };
  // As an operator writes it: comments, blank lines, defaults left out.
  out.push_back(
      "# written by hand\n\n[cluster]\nprotocol = paxos   # the default\nf = 1\n"
      "tick-ms = 5\nrecovery-timeout-ms = 1000\nleader-timeout-ms = 1500\n\n"
      "[node.c1]\nrole = coordinator\naddress = 127.0.0.1:7100\ndata = c1\n"
      "[node.p1]\nrole = participant\naddress = 127.0.0.1:7101\ndata = /var/lib/pc/p1\n"
      "[node.a1]\nrole = acceptor\naddress = localhost:7201\n"
      "[node.a2]\nrole = acceptor\naddress = localhost:7202\n"
      "[node.a3]\nrole = acceptor\naddress = localhost:7203\n");
  // 2pc-replicated over Unix domain sockets (address and listen as unix:PATH).
  out.push_back(
      "[cluster]\nprotocol = 2pc-replicated\nf = 1\n"
      "[node.c1]\nrole = coordinator\naddress = unix:/run/pc/c1.sock\n"
      "[node.p1]\nrole = participant\naddress = unix:/run/pc/p1.sock\n"
      "listen = unix:/run/pc/p1.sock\ndata = p1\n"
      "[node.a1]\nrole = acceptor\naddress = unix:a1.sock\n"
      "[node.a2]\nrole = acceptor\naddress = unix:a2.sock\n"
      "[node.a3]\nrole = acceptor\naddress = 127.0.0.1:7203\n");
  return out;
}

std::vector<std::string> failpointSeeds() {
  const auto& names = runtime::Failpoints::knownNames();
  std::string all;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!all.empty()) all += ";";
    all += std::string(names[i]) + (i % 3 == 0 ? "=crash" : i % 3 == 1 ? "=hang@2" : "=delay(50)");
  }
  return {"", std::string(names.front()) + "=crash@3",
          " " + std::string(names.back()) + " = delay(0) ; ", all};
}

std::vector<std::string> txnIdSeeds() {
  return {TxnId{0x1000, 1}.toString(), TxnId{~uint64_t{0}, ~uint64_t{0}}.toString(),
          "0123456789ABCDEFabcdef0123456789"};
}

// Scripts for the cores: the normal runs of each role, written with the script writer.
std::vector<std::string> coreSeeds() {
  using namespace pc::fuzz;
  const Bytes put = payloadOf(1);
  const ParticipantList parts = {kP1, kP2};
  std::vector<std::string> out;
  for (Protocol proto : {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos,
                         Protocol::PaxosDirect, Protocol::TwoPCReplicated}) {
    const TxnId t = txnOf(0);
    const Ballot b0 = Ballot::zero();
    const Ballot b1{1, kCoord};
    // A 2PC coordinator of either kind (`proto`): a client's request, both votes Prepared.
    auto writeRequestAndVotes = [&](ScriptWriter& w) {
      writeSetup(w, Setup{CoreRole::TwoPc, proto, FanOut::All});
      writeDeliver(w, kClient,
                   CommitRequest{t, {ParticipantPayload{kP1, put}, ParticipantPayload{kP2, put}}});
      writeDeliver(w, kP1, VoteMsg{t, kP1, Vote::Prepared, "", kNoNode});
      writeDeliver(w, kP2, VoteMsg{t, kP2, Vote::Prepared, "", kNoNode});
    };
    // Participant: prepare, votes arrive (2PC: outcome from the coordinator), commit, ack.
    {
      ScriptWriter w;
      writeSetup(w, Setup{CoreRole::Participant, proto, FanOut::All});
      writeDeliver(w, kCoord, Prepare{t, put, parts, kCoord});
      writeTicks(w, 1);
      if (isPaxos(proto)) {
        for (NodeId a : {kA1, kA2}) {
          writeDeliver(w, a,
                       Phase2b{t,
                               a,
                               parts,
                               {InstanceVote{kP1, b0, Vote::Prepared},
                                InstanceVote{kP2, b0, Vote::Prepared}},
                               false,
                               "",
                               std::nullopt});
        }
      }
      writeDeliver(w, kCoord, OutcomeMsg{t, Outcome::Commit});
      writeRestart(w);
      writeDeliver(w, kA1, AckRequest{t});
      writeTicks(w, 16);
      writeTicks(w, 16);
      out.push_back(w.bytes);
    }
    // Participant left in doubt: recovery timers fire.
    {
      ScriptWriter w;
      writeSetup(w, Setup{CoreRole::Participant, proto, FanOut::Quorum});
      writeDeliver(w, kCoord, Prepare{t, put, parts, kCoord});
      writeTicks(w, 15);
      writeTicks(w, 15);
      writeDeliver(w, kA2,
                   Phase1b{t,
                           kA2,
                           Ballot{1, kP1},
                           true,
                           false,
                           std::nullopt,
                           Ballot{1, kP1},
                           parts,
                           {InstanceReport{kP1, b0, Vote::Prepared},
                            InstanceReport{kP2, std::nullopt, std::nullopt}}});
      writeTicks(w, 16);
      writeTicks(w, 16);
      out.push_back(w.bytes);
    }
    if (!isPaxos(proto)) {
      // 2PC coordinator: request, votes, acks.
      ScriptWriter w;
      writeRequestAndVotes(w);
      writeDeliver(w, kP1, Ack{t, kP1, Outcome::Commit});
      writeRestart(w);
      writeTicks(w, 16);
      writeTicks(w, 16);
      writeDeliver(w, kP2, Ack{t, kP2, Outcome::Commit});
      writeDeliver(w, kClient, OutcomeQuery{t, parts});
      out.push_back(w.bytes);
      continue;
    }
    if (proto == Protocol::TwoPCReplicated) {
      // Replicated coordinator: request, votes, its decision chosen by two acceptors' 2b,
      // a restart, a client's query (recovered at the acceptors).
      ScriptWriter w;
      writeRequestAndVotes(w);
      for (NodeId a : {kA1, kA2}) {
        writeDeliver(w, a,
                     Phase2b{t,
                             a,
                             parts,
                             {InstanceVote{kDecisionInstance, b0, Vote::Prepared}},
                             false,
                             "",
                             std::nullopt});
      }
      writeRestart(w);
      writeDeliver(w, kClient, OutcomeQuery{t, parts});
      writeTicks(w, 16);
      out.push_back(w.bytes);
    }
    // Acceptor: ballot-0 votes, a recovery leader's 1a and 2a, acks.
    {
      ScriptWriter w;
      writeSetup(w, Setup{CoreRole::Acceptor, proto, FanOut::All});
      writeDeliver(w, kP1, Phase2a{t, parts, kCoord, {InstanceVote{kP1, b0, Vote::Prepared}}, ""});
      writeDeliver(w, kP2, Phase2a{t, parts, kCoord, {InstanceVote{kP2, b0, Vote::Prepared}}, ""});
      writeDeliver(w, kCoord, Phase1a{t, b1, parts});
      writeRestart(w);
      writeDeliver(
          w, kCoord,
          Phase2a{t,
                  parts,
                  kCoord,
                  {InstanceVote{kP1, b1, Vote::Prepared}, InstanceVote{kP2, b1, Vote::Prepared}},
                  ""});
      writeDeliver(w, kP1, AckBatch{{Ack{t, kP1, Outcome::Commit}}});
      writeDeliver(w, kP2, Ack{t, kP2, Outcome::Commit});
      writeTicks(w, 16);
      writeTicks(w, 16);
      writeDeliver(w, kCoord, Phase1a{t, Ballot{2, kCoord}, {}});
      out.push_back(w.bytes);
    }
    // Paxos coordinator (its Leader): ballot 0 to a decision, then a query that recovers.
    {
      ScriptWriter w;
      writeSetup(w, Setup{CoreRole::PaxosCoordinator, proto, FanOut::All});
      writeDeliver(w, kClient,
                   CommitRequest{t, {ParticipantPayload{kP1, put}, ParticipantPayload{kP2, put}}});
      for (NodeId a : {kA1, kA2}) {
        writeDeliver(
            w, a,
            Phase2b{t,
                    a,
                    parts,
                    {InstanceVote{kP1, b0, Vote::Prepared}, InstanceVote{kP2, b0, Vote::Prepared}},
                    false,
                    "",
                    std::nullopt});
      }
      const TxnId t2 = txnOf(1);
      writeDeliver(w, kClient, OutcomeQuery{t2, parts});
      writeTicks(w, 2);
      for (NodeId a : {kA2, kA3}) {
        writeDeliver(w, a,
                     Phase1b{t2,
                             a,
                             Ballot{1, kCoord},
                             true,
                             false,
                             std::nullopt,
                             Ballot{1, kCoord},
                             parts,
                             {InstanceReport{kP1, b0, Vote::Aborted},
                              InstanceReport{kP2, std::nullopt, std::nullopt}}});
      }
      writeRestart(w);
      writeTicks(w, 16);
      writeTicks(w, 16);
      out.push_back(w.bytes);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds DIR\n";
    return 64;
  }
  const fs::path dir = argv[1];
  writeAll(dir / "wire", wireSeeds());
  writeAll(dir / "stream", streamSeeds());
  writeAll(dir / "codec", codecSeeds());
  writeAll(dir / "kv_ops", kvSeeds());
  writeAll(dir / "cluster_config", clusterSeeds());
  writeAll(dir / "failpoints", failpointSeeds());
  writeAll(dir / "txn_id", txnIdSeeds());
  writeAll(dir / "cores", coreSeeds());
  return 0;
}
