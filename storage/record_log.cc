#include "storage/record_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "paxos_commit/assert.h"
#include "storage/codec.h"
#include "storage/data_dir.h"
#include "storage/errors.h"

namespace pc::storage {

namespace {

constexpr uint32_t kMagic = 0x4c524350;  // "PCRL" little-endian
constexpr size_t kZeroChunk = size_t{1} << 20;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte.
constexpr std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = makeCrcTable();

void putLE(char* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t getLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string logPath(const std::string& dir) { return dir + "/" + kRecordLogFile; }

// Reads exactly n bytes at off; false at end of file.
bool preadAll(int fd, char* buf, size_t n, size_t off, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      throw StorageError(ErrorKind::Io, path, "cannot read " + path + ": " + describeError(errno));
    }
    if (r == 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

void syncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw StorageError(ErrorKind::Io, dir,
                       "cannot sync directory " + dir + ": " + describeError(e));
  }
  ::close(fd);
}

}  // namespace

uint32_t crc32cPortable(uint32_t crc, std::string_view bytes) {
  crc = ~crc;
  for (char ch : bytes) crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
namespace {

// SSE4.2's crc32 instruction computes CRC-32C (the Castagnoli polynomial, reflected, as
// the table above): eight bytes per instruction instead of one table step per byte.
__attribute__((target("sse4.2"))) uint32_t crc32cSse42(uint32_t crc, std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
  return ~c32;
}

// Asked once; __builtin_cpu_init first, as a static initializer may run before libgcc's.
bool haveSse42() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return have;
}

}  // namespace

uint32_t crc32c(uint32_t crc, std::string_view bytes) {
  return haveSse42() ? crc32cSse42(crc, bytes) : crc32cPortable(crc, bytes);
}
#else
uint32_t crc32c(uint32_t crc, std::string_view bytes) { return crc32cPortable(crc, bytes); }
#endif

bool RecordLog::exists(const std::string& dir) { return ::access(logPath(dir).c_str(), F_OK) == 0; }

void RecordLog::remove(const std::string& dir) {
  const std::string path = logPath(dir);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw StorageError(ErrorKind::Io, path, "cannot remove " + path + ": " + describeError(errno));
  }
  syncDir(dir);
}

namespace {

// Reads the frames of one half, [begin, end), from its start while each is whole and
// carries the next number; adds them to s.
void scanHalf(int fd, uint64_t begin, uint64_t end, const std::string& path, RecordLog::Scan& s) {
  std::string payload;
  uint64_t off = begin;
  while (off + kRecordLogHeaderBytes <= end) {
    char h[kRecordLogHeaderBytes];
    if (!preadAll(fd, h, sizeof h, off, path)) break;
    const auto len = getLE(h + 4, 4);
    if (getLE(h, 4) != kMagic || getLE(h + 8, 8) != s.lastSeq + 1 ||
        len > end - off - kRecordLogHeaderBytes) {
      break;  // zeros, an older frame, or a length no frame of this half can have
    }
    payload.resize(len);  // bounded by the half's size
    if (!preadAll(fd, payload.data(), len, off + kRecordLogHeaderBytes, path)) break;
    const uint32_t crc = crc32c(crc32c(0, std::string_view(h, 16)), payload);
    if (crc != getLE(h + 16, 4)) break;  // torn by a crash: never acknowledged
    try {
      if (len < 4) throw codec::DecodeError("frame shorter than its record count");
      const auto count = getLE(payload.data(), 4);
      if (count > len)
        throw codec::DecodeError("record count " + std::to_string(count) + " exceeds the frame");
      size_t pos = 4;
      for (uint64_t i = 0; i < count; ++i)
        s.records.push_back(codec::decodeLogRecord(payload, pos));
      if (pos != len) throw codec::DecodeError(std::to_string(len - pos) + " trailing bytes");
    } catch (const codec::DecodeError& e) {
      throw StorageError(ErrorKind::Corrupted, path,
                         path + " is corrupted: frame " + std::to_string(s.lastSeq + 1) +
                             " at offset " + std::to_string(off) + ": " + e.what());
    }
    s.lastSeq += 1;
    s.frames += 1;
    off += kRecordLogHeaderBytes + len;
    s.end = off;
  }
}

}  // namespace

RecordLog::Scan RecordLog::scan(const std::string& dir, uint64_t appliedSeq) {
  Scan s;
  s.lastSeq = appliedSeq;
  const std::string path = logPath(dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return s;
    throw StorageError(ErrorKind::Io, path, "cannot open " + path + ": " + describeError(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw StorageError(ErrorKind::Io, path, "cannot stat " + path + ": " + describeError(errno));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  const uint64_t mid = size / 2;
  // The next frame opens one of the halves (every checkpoint covers whole halves); the
  // other half then holds the frames after it, or older ones that end the scan.
  scanHalf(fd, 0, mid, path, s);
  const bool firstHalfFirst = s.frames > 0;
  scanHalf(fd, mid, size, path, s);
  if (!firstHalfFirst) scanHalf(fd, 0, mid, path, s);
  return s;
}

RecordLog::RecordLog(const std::string& dir, size_t capacity, uint64_t appliedSeq)
    : path_(logPath(dir)), capacity_(capacity), nextSeq_(appliedSeq + 1) {
  PC_ASSERT(capacity >= kMinRecordLogBytes, capacity);
  const bool existed = exists(dir);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  auto fail = [&](const std::string& doing) {
    const int e = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw StorageError(e == ENOSPC ? ErrorKind::DiskFull : ErrorKind::Io, path_,
                       "cannot " + doing + " " + path_ + ": " + describeError(e));
  };
  if (fd_ < 0) fail("create");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("stat");
  auto size = static_cast<size_t>(st.st_size);
  if (size < capacity_) {
    // Zeros written (not fallocate's unwritten extents): an append then changes no file
    // metadata, so fdatasync flushes the data alone.
    std::string zeros(std::min(kZeroChunk, capacity_ - size), '\0');
    while (size < capacity_) {
      const size_t n = std::min(zeros.size(), capacity_ - size);
      ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(size));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write zeros to");
      size += static_cast<size_t>(w);
    }
    if (::fsync(fd_) != 0) fail("sync");
  }
  capacity_ = size;
  if (!existed) syncDir(dir);
}

RecordLog::~RecordLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordLog::switchHalf() {
  half_ ^= 1;
  offset_ = halfBegin();
}

size_t RecordLog::append(std::span<const std::vector<Record>> batches) {
  frame_.assign(kRecordLogHeaderBytes + 4, '\0');
  uint64_t count = 0;
  for (const auto& batch : batches) {
    for (const auto& r : batch) codec::appendLogRecord(frame_, r);
    count += batch.size();
  }
  const size_t len = frame_.size() - kRecordLogHeaderBytes;
  if (frame_.size() > halfEnd() - offset_) return 0;
  PC_ASSERT(count <= len && len <= UINT32_MAX, count, len);
  char* h = frame_.data();
  putLE(h, kMagic, 4);
  putLE(h + 4, len, 4);
  putLE(h + 8, nextSeq_, 8);
  putLE(h + 24, count, 4);
  const std::string_view payload(frame_.data() + kRecordLogHeaderBytes, len);
  putLE(h + 16, crc32c(crc32c(0, std::string_view(h, 16)), payload), 4);
  size_t done = 0;
  while (done < frame_.size()) {
    ssize_t w = ::pwrite(fd_, frame_.data() + done, frame_.size() - done,
                         static_cast<off_t>(offset_ + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      failStop("record log " + path_ + ": write failed: " + describeError(errno));
    }
    done += static_cast<size_t>(w);
  }
  if (::fdatasync(fd_) != 0) {
    // A failed sync leaves the page cache in an unknown state: never retry it.
    failStop("record log " + path_ + ": fdatasync failed: " + describeError(errno));
  }
  offset_ += frame_.size();
  nextSeq_ += 1;
  return frame_.size();
}

}  // namespace pc::storage
