// The lock-wait error (runtime/lock_wait.h): what the participant sends parses back to the
// same facts inside a remote exception's text, the line names the key, the transaction,
// what it waits for and the wait, and hostile descriptions yield nothing.
#include "runtime/lock_wait.h"

#include <doctest/doctest.h>

#include <string>

using namespace pc;
using namespace pc::runtime;

namespace {

LockWait sample() {
  LockWait w;
  w.key = "x1";
  w.txn = *TxnId::parse("000601020304050607080910a1b2c3d4");
  w.leader = 1;  // c1
  w.waitedMs = 5000;
  return w;
}

}  // namespace

TEST_CASE("the line names the key, the holder, what it waits for and the wait") {
  // If this fails, `pcommit get` on a held key prints something an operator cannot act on.
  CHECK(lockWaitMessage(sample()) ==
        "key 'x1' is held by in-doubt transaction 000601020304050607080910a1b2c3d4 "
        "(waiting for coordinator c1) after 5,000 ms");
  LockWait w = sample();
  w.recovering = true;
  CHECK(lockWaitMessage(w).find("(waiting for its recovery through the acceptors)") !=
        std::string::npos);
  w = sample();
  w.leader = kNoNode;
  w.waitedMs = 1234567;
  CHECK(lockWaitMessage(w).find("(waiting for its outcome) after 1,234,567 ms") !=
        std::string::npos);
  w = sample();
  w.key = std::string("a'\\\x01\xff", 5);
  CHECK(lockWaitMessage(w).find("key 'a\\x27\\x5c\\x01\\xff' is held") == 0);
}

TEST_CASE("what the participant sends parses back inside a remote exception's text") {
  // If this fails, the client falls back to the raw exception and exit 2.
  LockWait w = sample();
  w.key = std::string("k\0\xfe", 3);
  w.recovering = true;
  const std::string sent = encodeLockWait(w);
  CHECK(sent.find(lockWaitMessage(w)) == 0);  // readable for any client as it is
  auto back = parseLockWait("remote exception: " + sent);
  REQUIRE(back.has_value());
  CHECK(back->key == w.key);
  CHECK(back->txn == w.txn);
  CHECK(back->leader == 1);
  CHECK(back->recovering);
  CHECK(back->waitedMs == 5000);
}

TEST_CASE("hostile or foreign descriptions yield nothing") {
  // If this fails, a malicious or broken node could make the client print garbage or crash.
  const std::string txn = "000601020304050607080910a1b2c3d4";
  auto form = [&](const std::string& fields) { return "x [pcommit.lock_wait " + fields + "]"; };
  CHECK_FALSE(parseLockWait("remote exception: key is locked by an in-doubt transaction"));
  CHECK_FALSE(parseLockWait("remote exception: connection reset"));
  CHECK(parseLockWait(form("key=7831 txn=" + txn + " leader=1 recovering=0 waited_ms=5000")));
  // Unknown fields are later additions: accepted.
  CHECK(parseLockWait(form("key=7831 txn=" + txn + " leader=1 recovering=0 waited_ms=5 x=y")));
  for (const std::string& bad : {
           form("key=783 txn=" + txn + " leader=1 recovering=0 waited_ms=5000"),   // odd hex
           form("key=78zz txn=" + txn + " leader=1 recovering=0 waited_ms=5000"),  // not hex
           form("key= txn=" + txn + " leader=1 recovering=0 waited_ms=5000"),      // empty key
           form("key=7831 txn=1234 leader=1 recovering=0 waited_ms=5000"),         // short txn
           form("key=7831 txn=" + txn + " leader=-1 recovering=0 waited_ms=5000"),
           form("key=7831 txn=" + txn + " leader=1 recovering=2 waited_ms=5000"),
           form("key=7831 txn=" + txn + " leader=1 recovering=0 waited_ms=99999999999"),
           form("key=7831 txn=" + txn + " leader=1 recovering=0"),  // missing field
           form("key=7831 txn=" + txn + " leader=1 garbage recovering=0 waited_ms=1"),
           "x [pcommit.lock_wait key=7831 txn=" + txn + " leader=1",  // no closing bracket
           form("key=" + std::string(2 * 4097, 'a') + " txn=" + txn +
                " leader=1 recovering=0 waited_ms=1"),  // longer than any key
       }) {
    CAPTURE(bad.substr(0, 120));
    CHECK_FALSE(parseLockWait(bad).has_value());
  }
}
