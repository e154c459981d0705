// RecordLog: a synced append-only log in front of the LMDB tables. Acceptors and
// coordinators read their tables only when they start (Env::load() at open); a
// participant's engine also reads its KV data while it runs, and keeps the writes of its
// commits in its own overlay until the checkpoint that puts them in the tables
// (Env::tablesHold; participant/participant_host.h).
//
// Why: a synced LMDB commit writes every B-tree page it touched plus a meta page and
// flushes twice (about 8 write requests per commit here); an append to a file written
// ahead of time is one write and one fdatasync, with no file-system metadata to journal.
// The log takes each group commit; the records also stay in memory and go into the
// tables in one synced LMDB commit (a checkpoint) when the log is full, at a clean close,
// and at the next open after a crash. Measured in docs/perf/HISTORY.md (session 17).
//
// The file, `records.log` in the data directory, is written with zeros to its capacity
// when created, so an append never grows it. It is two halves, [0, size/2) and
// [size/2, size); each holds frames from its start:
//
//   u32 magic "PCRL" | u32 payload bytes | u64 seq | u32 crc32c(header[0,16) + payload) |
//   u32 zero | payload: u32 record count, then each record as codec::appendLogRecord
//
// Frames carry consecutive sequence numbers. Appends fill one half; when the next frame
// does not fit, the records of that half go to a checkpoint (Env: on its own thread, so
// the appender does not wait for the LMDB commit) and appends go on in the other half,
// which must have finished its own checkpoint first. The tables remember the last
// sequence number they hold (meta "log_applied", written in the checkpoint's own LMDB
// transaction). So the frames the tables lack are at most two halves' worth, and the
// first of them opens a half. A scan reads the half whose first frame carries
// applied + 1, then the other half from its start, each while frames are whole (magic,
// length within the half, checksum) and carry the next expected number; the first that
// is not ends that half. A frame torn by a crash was never acknowledged (appends are
// synced before they return) and ends the log like the zeros or the older frames behind
// the tail do: an older frame's number is at most the applied one, never the next.
//
// Errors: a whole frame (checksum right) whose records do not decode, or that holds more
// records than it has bytes, is corruption: scan() throws StorageError Corrupted naming
// the file and the offset. A failed write or sync while running fail-stops (errors.h).
// Threads: one user at a time (Env holds its write mutex).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "paxos_commit/records.h"

namespace pc::storage {

inline constexpr const char* kRecordLogFile = "records.log";
inline constexpr size_t kRecordLogHeaderBytes = 24;
// Smallest capacity accepted: a header and a few records.
inline constexpr size_t kMinRecordLogBytes = 4096;
// Largest a node is configured with (PCOMMIT_RECORD_LOG, ParticipantNodeOptions): the file
// is written with zeros to its capacity when created.
inline constexpr size_t kMaxRecordLogBytes = size_t{1} << 30;
// Whether a node may be configured with a log of `bytes` (0, no log, is checked apart).
inline bool recordLogSizeAccepted(uint64_t bytes) {
  return bytes >= kMinRecordLogBytes && bytes <= kMaxRecordLogBytes;
}

// CRC-32C (Castagnoli) of `bytes`, continuing `crc` (start from 0). crc32c uses the
// CPU's crc32 instruction where there is one (x86-64 with SSE4.2), else crc32cPortable,
// a table: the same function, which the tests hold them to.
uint32_t crc32c(uint32_t crc, std::string_view bytes);
uint32_t crc32cPortable(uint32_t crc, std::string_view bytes);

class RecordLog {
 public:
  struct Scan {
    std::vector<Record> records;  // in log order
    uint64_t lastSeq = 0;         // the applied mark if no frame followed it
    uint64_t frames = 0;
    uint64_t end = 0;  // the file offset just past the last frame read
  };

  // Reads the log in `dir` (missing: an empty scan) without opening it for writing.
  static Scan scan(const std::string& dir, uint64_t appliedSeq);
  static bool exists(const std::string& dir);
  // Removes the file and syncs the directory (missing: nothing to do).
  static void remove(const std::string& dir);

  // Opens `dir`/records.log for appending, creating it (or extending a smaller one) with
  // zeros up to `capacity` bytes, synced. The next frame goes to offset 0 with number
  // appliedSeq + 1. Throws StorageError (Io, DiskFull) when the file cannot be prepared.
  RecordLog(const std::string& dir, size_t capacity, uint64_t appliedSeq);
  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Writes one frame holding every record of every batch into the current half and syncs
  // it. Returns the frame's bytes, or 0, having written nothing, when the frame does not
  // fit in the space left in this half. Fail-stops on a failed write or sync.
  size_t append(std::span<const std::vector<Record>> batches);
  // Moves to the start of the other half. Precondition: the tables hold every frame
  // written there (its checkpoint is done), so the frames left in it are older ones.
  void switchHalf();
  // After a checkpoint put every frame up to lastSeq() into the tables: start again at 0.
  void restart() {
    half_ = 0;
    offset_ = 0;
  }

  uint64_t lastSeq() const { return nextSeq_ - 1; }

 private:
  std::string path_;
  int fd_ = -1;
  size_t capacity_ = 0;
  size_t halfBegin() const { return half_ == 0 ? 0 : capacity_ / 2; }
  size_t halfEnd() const { return half_ == 0 ? capacity_ / 2 : capacity_; }

  int half_ = 0;       // 0: [0, capacity/2), 1: [capacity/2, capacity)
  size_t offset_ = 0;  // where the next frame goes (file offset)
  uint64_t nextSeq_ = 1;
  std::string frame_;  // reused between appends
};

}  // namespace pc::storage
