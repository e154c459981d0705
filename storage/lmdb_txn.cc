#include "storage/lmdb_txn.h"

namespace pc::storage::lmdb {

bool isCorruption(int rc) {
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
         rc == MDB_VERSION_MISMATCH || rc == MDB_PANIC;
}

std::optional<std::string_view> WriteTxn::get(MDB_dbi dbi, std::string_view key) {
  MDB_val k = toVal(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) throw MdbFail{rc, "mdb_get"};
  return toView(v);
}

void WriteTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = toVal(key), v = toVal(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != 0) throw MdbFail{rc, "mdb_put"};
}

void WriteTxn::del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = toVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) throw MdbFail{rc, "mdb_del"};
}

std::string keyText(std::string_view database, std::string_view key) {
  const bool txnKeyed = database == "acceptor" || database == "acceptor_tombstones" ||
                        database == "participant" || database == "decision";
  if (txnKeyed && key.size() == codec::kTxnKeyBytes) return codec::parseTxnKey(key).toString();
  return codec::printable(key);
}

StorageError corruptedRecord(const Place& at, std::string_view database, std::string_view key,
                             const std::string& reason) {
  return StorageError(ErrorKind::Corrupted, at.dir,
                      at.dataPath + " is corrupted: database '" + std::string(database) + "' key " +
                          keyText(database, key) + ": " + reason);
}

StorageError readFailure(const Place& at, std::string_view database, int rc) {
  const bool corrupt = isCorruption(rc);
  return StorageError(corrupt ? ErrorKind::Corrupted : ErrorKind::Io, at.dir,
                      at.dataPath + (corrupt ? " is corrupted" : ": read failed") + " (" +
                          describeError(rc) + ", reading database '" + std::string(database) +
                          "')");
}

}  // namespace pc::storage::lmdb
