// Internal to storage/: thin helpers over LMDB's C API shared by env.cc, env_read.cc,
// record_tables.cc and kv_tables.cc. Not part of the storage API.
//
// Errors: inside a write transaction an LMDB failure throws MdbFail (Env::writeGroup
// grows the map on MDB_MAP_FULL and retries, fail-stops on anything else); the read
// helpers throw StorageError naming the data file, the database and the key.
#pragma once

#include <lmdb.h>

#include <optional>
#include <string>
#include <string_view>

#include "storage/codec.h"
#include "storage/errors.h"

namespace pc::storage::lmdb {

inline MDB_val toVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view toView(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// LMDB codes that mean the file is damaged (or not an LMDB file at all).
bool isCorruption(int rc);

// An LMDB call failed inside a write transaction.
struct MdbFail {
  int rc;
  std::string doing;
};

// A write transaction's keyed operations; every failure throws MdbFail.
class WriteTxn {
 public:
  explicit WriteTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn() const { return txn_; }

  // The view is valid until the next write in this transaction.
  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key);
  void put(MDB_dbi dbi, std::string_view key, std::string_view value);
  void del(MDB_dbi dbi, std::string_view key);  // absent is fine
  // Calls f(key, value) for keys >= from (every key if from is empty) in order while it
  // returns true.
  template <class F>
  void scan(MDB_dbi dbi, std::string_view from, F f) {
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(txn_, dbi, &c);
    if (rc != 0) throw MdbFail{rc, "mdb_cursor_open"};
    MDB_val k = toVal(from), v;
    rc = mdb_cursor_get(c, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
      if (!f(toView(k), toView(v))) break;
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) throw MdbFail{rc, "mdb_cursor_get"};
  }

 private:
  MDB_txn* txn_;
};

// Where read errors are reported: the data directory and its data file.
struct Place {
  const std::string& dir;
  std::string dataPath;
};

// A key as error messages show it: a transaction key as its 32 hex digits (as inspect
// prints TxnIds), anything else byte by byte (codec::printable).
std::string keyText(std::string_view database, std::string_view key);

// "<data.mdb> is corrupted: database '<db>' key <key>: <reason>".
StorageError corruptedRecord(const Place& at, std::string_view database, std::string_view key,
                             const std::string& reason);
// An LMDB error while reading `database`: Corrupted or Io.
StorageError readFailure(const Place& at, std::string_view database, int rc);

// Iterates a whole database in a read transaction, calling f(key, value); LMDB errors and
// values that do not decode (codec::DecodeError) become StorageError naming the database
// and the key.
template <class F>
void readAll(const Place& at, MDB_txn* txn, MDB_dbi dbi, const char* name, F f) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &c);
  MDB_val k, v;
  if (rc == 0) rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  try {
    while (rc == 0) {
      f(toView(k), toView(v));
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
  } catch (const codec::DecodeError& e) {
    mdb_cursor_close(c);
    throw corruptedRecord(at, name, toView(k), e.what());
  }
  if (c != nullptr) mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) throw readFailure(at, name, rc);
}

// One value, decoded by decode(view); nullopt if the key is absent.
template <class T, class F>
std::optional<T> readOne(const Place& at, MDB_txn* txn, MDB_dbi dbi, const char* name,
                         std::string_view key, F decode) {
  MDB_val k = toVal(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) throw readFailure(at, name, rc);
  try {
    return decode(toView(v));
  } catch (const codec::DecodeError& e) {
    throw corruptedRecord(at, name, key, e.what());
  }
}

}  // namespace pc::storage::lmdb
