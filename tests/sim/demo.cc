#include "tests/sim/demo.h"

#include <cstdio>
#include <string>
#include <vector>

#include "tests/sim/sim.h"

namespace pc::sim {

namespace {

SimConfig demoConfig(Protocol p) {
  SimConfig c;
  c.seed = 2006;  // Gray & Lamport, TODS 2006
  c.core.protocol = p;
  c.core.fanOut = FanOut::All;
  c.core.f = 1;
  c.participants = 3;
  c.coordinators = 2;
  c.clients = 1;
  c.faults = FaultRates{};
  c.faults.delayTicksMax = 1;
  c.faults.diskTicksMax = 1;
  c.core.recoveryTimeoutTicks = 40;
  c.core.recoveryJitterTicks = 10;
  c.core.prepareRetryTicks = 25;
  c.core.leaderTimeoutTicks = 60;
  c.core.ballotRetryTicks = 20;
  c.core.bundleCapTicks = 2;
  c.core.ackRequestTicks = 400;
  c.clientRetryTicks = 100;
  return c;
}

// Prints the simulator's events as a story: sends of one message by one node in one tick
// are merged into one line ("c1 -> p1,p2,p3 Prepare T1"); acks are left out.
class Narrator {
 public:
  explicit Narrator(std::ostream& os) : os_(os) {}
  ~Narrator() { flush(); }
  bool quiet = false;

  void event(uint64_t tick, const std::string& kind, const std::string& text) {
    if (quiet) return;
    if (kind == "send") {
      size_t arrow = text.find("->");
      size_t space = text.find(' ');
      if (arrow == std::string::npos || space == std::string::npos) return;
      std::string from = text.substr(0, arrow);
      std::string to = text.substr(arrow + 2, space - arrow - 2);
      std::string rest = text.substr(space + 1);
      if (rest.rfind("Ack", 0) == 0) return;  // background garbage collection
      std::string key = std::to_string(tick) + " " + from + " " + rest;
      if (key == pendingKey_) {
        pendingTo_ += "," + to;
        return;
      }
      flush();
      pendingKey_ = key;
      pendingTick_ = tick;
      pendingFrom_ = from;
      pendingTo_ = to;
      pendingRest_ = rest;
      return;
    }
    std::string line;
    if (kind == "learn" && text == lastLearn_) return;  // a leader and its host, same news
    if (kind == "learn") lastLearn_ = text;
    if (kind == "submit") {
      line = "submit   " + text;
    } else if (kind == "crash") {
      line = "CRASH    " + text;
    } else if (kind == "restart") {
      line = "RESTART  " + text;
    } else if (kind == "recover") {
      line = "recovery " + text + " (phase 1)";
    } else if (kind == "learn") {
      line = "learned  " + text;
    } else if (kind == "persist" && (text.find("ParticipantTxn") != std::string::npos ||
                                     text.find("Decision") != std::string::npos)) {
      line = "durable  " + text;
    } else {
      return;
    }
    flush();
    print(tick, line);
  }

  void flush() {
    if (pendingKey_.empty()) return;
    print(pendingTick_, "send     " + pendingFrom_ + " -> " + pendingTo_ + "  " + pendingRest_);
    pendingKey_.clear();
  }

  void say(const std::string& s) {
    flush();
    os_ << s << "\n";
  }

 private:
  void print(uint64_t tick, const std::string& line) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  t=%4llu  ", static_cast<unsigned long long>(tick));
    os_ << buf << line << "\n";
  }

  std::ostream& os_;
  std::string pendingKey_, pendingFrom_, pendingTo_, pendingRest_, lastLearn_;
  uint64_t pendingTick_ = 0;
};

std::string statesOf(const Simulator& sim, const TxnId& txn) {
  std::string s;
  for (NodeId p : sim.participantIds()) {
    auto st = sim.durableState(p, txn);
    s += (s.empty() ? "" : ", ") + sim.names().node(p) + " " + (st ? toString(*st) : "-");
  }
  return s;
}

bool allFinished(const Simulator& sim, const TxnId& txn) {
  for (NodeId p : sim.participantIds()) {
    auto st = sim.durableState(p, txn);
    if (!st || *st == ParticipantState::Prepared) return false;
  }
  return true;
}

// Submits a put on every participant and crashes c1 the moment its Prepare messages have
// left (the votes are not in yet: nobody but the protocol can finish the transaction).
TxnId submitAndKillCoordinator(Simulator& sim, Narrator& n, uint64_t& crashTick) {
  size_t prepares = 0;
  TxnId txn = sim.submit({}, 0, 0);
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<Prepare>(e.msg) && messageTxn(e.msg) == txn) ++prepares;
    return Fate::Random;
  });
  sim.runUntil([&] { return prepares >= sim.participantIds().size(); }, 50);
  sim.setFilter(nullptr);
  n.say("           ... the Prepare messages are on the wire; now the coordinator dies:");
  sim.crash(sim.coordinatorIds()[0], "right after its prepares left");
  crashTick = sim.now();
  return txn;
}

bool paxosAct(std::ostream& os, Protocol p) {
  Narrator n(os);
  Simulator sim(demoConfig(p));
  sim.setNarrator(
      [&](uint64_t t, const std::string& k, const std::string& x) { n.event(t, k, x); });
  bool classic = p == Protocol::PaxosClassic;
  n.say(std::string("== ") +
        (classic ? "Paxos Commit, classic (`paxos-classic`)"
                 : "Faster Paxos Commit (`paxos`, the default)") +
        ": 3 participants, 3 acceptors (F=1), coordinators c1 c2, client cl1 ==");
  if (classic) {
    n.say("-- T1: a put on every participant, no faults --");
    TxnId t1 = sim.submit({}, 0, 0);
    sim.runUntilDecided(t1, 500);
    n.say("  => T1 " + std::string(toString(*sim.outcome(t1))) + "; " + statesOf(sim, t1));
    n.say("-- T2: p2 expects key k0 at version 0, but T1 wrote it: p2 votes Aborted --");
    std::vector<ParticipantPayload> pl;
    for (NodeId id : sim.participantIds()) {
      Bytes b = id == sim.participantIds()[1]
                    ? kv::encodeOps({kv::Op{kv::OpKind::Expect, "k0", "", 0}})
                    : Simulator::put("k1", "t2");
      pl.push_back(ParticipantPayload{id, b});
    }
    TxnId t2 = sim.submit(pl, 0, 0);
    sim.runUntilDecided(t2, 500);
    n.say("  => T2 " + std::string(toString(*sim.outcome(t2))) + "; " + statesOf(sim, t2));
  }
  std::string name = classic ? "T3" : "T1";
  n.say("-- " + name + ": the coordinator crashes after sending its prepares --");
  uint64_t crashTick = 0;
  TxnId t3 = submitAndKillCoordinator(sim, n, crashTick);
  bool ok = sim.runUntil([&] { return allFinished(sim, t3); }, 1000);
  n.say("  => every participant finished " + name + " at t=" + std::to_string(sim.now()) + ", " +
        std::to_string(sim.now() - crashTick) +
        " ticks after c1 died, c1 still down: " + statesOf(sim, t3));
  if (classic) {
    n.say("     (classic: the acceptors' 2b went to the dead leader; a participant timed out,");
    n.say("      ran phase 1 at a higher ballot, saw the Prepared votes, and chose Commit)");
  } else {
    n.say("     (faster variant: the acceptors send their 2b to the participants too, so they");
    n.say("      decided on their own; no recovery was even needed)");
  }
  n.quiet = true;
  sim.runUntilDecided(t3, 2000);
  n.quiet = false;
  auto cs = sim.clientStatus(t3);
  n.say("  => the client retried with c2 and was told: " +
        std::string(cs ? toString(*cs) : "nothing yet"));
  if (cs && *cs == TxnStatus::Forgotten) {
    n.say("     (every participant had acked, so the acceptors had collected " + name +
          "; only the participants still know the outcome)");
  }
  if (sim.violated()) n.say("  !! checker: " + sim.violation());
  return ok && !sim.violated();
}

bool twoPcAct(std::ostream& os) {
  Narrator n(os);
  SimConfig cfg = demoConfig(Protocol::TwoPC);
  Simulator sim(cfg);
  sim.setNarrator(
      [&](uint64_t t, const std::string& k, const std::string& x) { n.event(t, k, x); });
  n.say("== Two-phase commit (`2pc`): the same 3 participants, coordinators c1 c2 ==");
  n.say("-- T1: the coordinator crashes after sending its prepares --");
  uint64_t crashTick = 0;
  TxnId t1 = submitAndKillCoordinator(sim, n, crashTick);
  sim.runTicks(20);
  n.say("           ... (quiet: the participants ask c1 for the outcome again and again)");
  n.quiet = true;
  sim.runTicks(400);
  n.quiet = false;
  n.say("  => t=" + std::to_string(sim.now()) + ", " + std::to_string(sim.now() - crashTick) +
        " ticks after the crash, still blocked: " + statesOf(sim, t1) + " (their locks are held)");
  sim.restart(sim.coordinatorIds()[0]);
  bool ok = sim.runUntil([&] { return allFinished(sim, t1); }, 1000);
  auto o = sim.outcome(t1);
  n.say("  => only when c1 returned did T1 finish: " + statesOf(sim, t1));
  if (o && *o == Outcome::Abort) {
    n.say("     (c1 came back with no decision record for T1: presumed abort)");
  }
  if (sim.violated()) n.say("  !! checker: " + sim.violation());
  return ok && !sim.violated();
}

}  // namespace

int runDemo(std::ostream& os) {
  os << "pcommit demo: the real protocol core in the deterministic simulator (one tick = one\n"
        "message delay; every run of this demo is identical). Lines: t=tick, what happened.\n\n";
  bool ok = paxosAct(os, Protocol::PaxosClassic);
  os << "\n";
  ok = paxosAct(os, Protocol::Paxos) && ok;
  os << "\n";
  ok = twoPcAct(os) && ok;
  os << "\nSummary: with its coordinator dead after the prepares, Paxos Commit still finished the\n"
        "transaction (the votes were safe on F+1 acceptors); 2PC blocked, locks held, until the\n"
        "coordinator came back. Try `pc_sim --mode all --seeds 1000` for the randomized version.\n";
  return ok ? 0 : 1;
}

}  // namespace pc::sim
