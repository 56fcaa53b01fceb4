// The store's records across a restart (telemetry --spool PATH): an update,
// a `systemctl restart` or a reboot during an outage used to lose every
// record the store held. When the daemon stops, the records it still holds
// (waiting or in flight: those may have arrived, and a collector keeps one
// point per series and time, so a second copy is harmless) are written to
// PATH, and when it starts they are loaded before anything new.
//
// The file stays after loading (it is replaced at the next stop): a daemon
// killed or crashed after its start sends them again at the next one
// (at least once, never none). A stop with nothing to keep removes it.
// Written atomically: PATH.tmp, fsync, rename. Through the seam, in fixed
// buffers.
//
// Format (little-endian, one layout on every target): SpoolHeader, then
// `records` nmea::Record of 72 bytes each. A file that is not one (another
// magic, version or record size, a size that does not match, a checksum
// that does not hold, a record that is not one telemetry makes) or that
// another --id wrote is not loaded: it is renamed PATH.bad, kept for a
// look, and said in one line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "apps/telemetry/store.h"

namespace telemetry {

constexpr char kSpoolMagic[8] = {'E', 'V', 'L', 'S', 'P', 'O', 'O', 'L'};
constexpr uint32_t kSpoolVersion = 1;

struct SpoolHeader {
  char magic[8];
  uint32_t version;
  uint32_t record_bytes;  // sizeof(nmea::Record)
  uint32_t records;
  uint32_t reserved;  // 0
  uint64_t checksum;  // FNV-1a of the records' bytes
  char id[64];        // the --id that wrote it, NUL-padded
};
static_assert(sizeof(SpoolHeader) == 96, "one spool layout on every target");

// The temporary files a spool is written through: the checkpoints'
// (PATH.tmp) and the stop's (PATH.stop), apart so that nothing a
// checkpoint writer ended at stop still had in flight lands in the stop's.
constexpr const char* kSpoolTmp = ".tmp";
constexpr const char* kSpoolStopTmp = ".stop";

// Writes every record of s to path (see above) through path + tmp_suffix;
// with none, removes path. 0 or -errno (the temporary file is removed;
// path is left as it was).
[[nodiscard]] int save_spool(const Store& s, const char* path, const char* id,
                             const char* tmp_suffix = kSpoolTmp);

struct SpoolLoaded {
  uint64_t records = 0;  // pushed into the store
  uint64_t dropped = 0;  // of those, dropped by the store (more than its limit: the oldest)
};
// Pushes path's records into s (at start, before any other). 0 with *out
// set; -ENOENT when there is no spool; -EINVAL when path is not a spool
// of this id (why in err: the caller renames it aside); another -errno
// when it cannot be read.
[[nodiscard]] int load_spool(Store* s, const char* path, const char* id, SpoolLoaded* out,
                             char* err, size_t err_len);

}  // namespace telemetry
