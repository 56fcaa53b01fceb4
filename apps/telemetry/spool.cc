#include "apps/telemetry/spool.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "apps/common/daemon.h"
#include "apps/common/options.h"
#include "apps/telemetry/telemetry.h"
#include "hal/address.h"
#include "hal/flight.h"
#include "hal/socket.h"
#include "hal/sys.h"

namespace telemetry {
namespace {

constexpr size_t kPathBytes = 300;
constexpr size_t kChunkRecords = 56;  // 4032 bytes written per call

struct Fnv {
  uint64_t h = 14695981039346656037ULL;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  }
};

// len bytes, or -EINVAL when the file ends first (it changed under us).
int read_all(int fd, void* p, size_t len) {
  auto* b = static_cast<uint8_t*>(p);
  while (len > 0) {
    const long n = hal::read(fd, b, len);
    if (n == -EINTR) continue;
    if (n < 0) return static_cast<int>(n);
    if (n == 0) return -EINVAL;
    b += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

bool tmp_path(const char* path, char* out, const char* suffix) {
  return std::snprintf(out, kPathBytes, "%s%s", path, suffix) < static_cast<int>(kPathBytes);
}

int write_records(int fd, const Store& s, const char* id) {
  SpoolHeader h{};
  std::memcpy(h.magic, kSpoolMagic, sizeof h.magic);
  h.version = kSpoolVersion;
  h.record_bytes = sizeof(nmea::Record);
  h.records = static_cast<uint32_t>(s.size());
  std::snprintf(h.id, sizeof h.id, "%s", id);
  Fnv f;
  for (size_t i = 0; i < s.size(); ++i) f.add(&s.at(i), sizeof(nmea::Record));
  h.checksum = f.h;
  if (const int r = hal::write_all(fd, &h, sizeof h); r < 0) return r;
  nmea::Record chunk[kChunkRecords];
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    for (; n < kChunkRecords && i < s.size(); ++n, ++i) chunk[n] = s.at(i);
    if (const int r = hal::write_all(fd, chunk, n * sizeof(nmea::Record)); r < 0) return r;
  }
  return hal::fsync(fd);
}

// What telemetry itself makes (nmea.cc, the health line): anything else
// was not written by it.
bool plausible(const nmea::Record& r) {
  if (r.kind != nmea::Kind::kGps && r.kind != nmea::Kind::kEnv && r.kind != nmea::Kind::kHealth) {
    return false;
  }
  if (r.has > 127 || r.fix > 8) return false;
  for (double v : {r.lat, r.lon, r.alt_m, r.speed_kn, r.temp_c, r.humidity_pct, r.pressure_bar}) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

// Checks the header and every record (the first pass); 0 or -EINVAL with
// the reason in err.
int check(int fd, const hal::FileStat& st, const char* id, SpoolHeader* h, char* err,
          size_t err_len) {
  if ((st.mode & hal::kSIfmt) != hal::kSIfreg) {
    std::snprintf(err, err_len, "not a regular file");
    return -EINVAL;
  }
  if (st.size >= static_cast<int64_t>(sizeof *h)) {
    if (const int r = read_all(fd, h, sizeof *h); r < 0 && r != -EINVAL) return r;
  }
  if (st.size < static_cast<int64_t>(sizeof *h) ||
      std::memcmp(h->magic, kSpoolMagic, sizeof h->magic) != 0) {
    std::snprintf(err, err_len, "not a spool file");
    return -EINVAL;
  }
  if (h->version != kSpoolVersion || h->record_bytes != sizeof(nmea::Record)) {
    std::snprintf(err, err_len, "written by another version (format %u, %u-byte records)",
                  h->version, h->record_bytes);
    return -EINVAL;
  }
  h->id[sizeof h->id - 1] = '\0';
  if (std::strcmp(h->id, id) != 0) {
    // Named only when it is an id telemetry takes: the bytes are the file's.
    std::snprintf(err, err_len, "written for --id %s, not %s",
                  app::device_id_ok(h->id) ? h->id : "(not a valid one)", id);
    return -EINVAL;
  }
  if (h->records > kMaxRecords ||
      st.size != static_cast<int64_t>(sizeof *h + h->records * sizeof(nmea::Record))) {
    std::snprintf(err, err_len, "its size does not match its %u records (cut short?)", h->records);
    return -EINVAL;
  }
  Fnv f;
  for (uint32_t i = 0; i < h->records; ++i) {
    nmea::Record r;
    if (const int e = read_all(fd, &r, sizeof r); e < 0) {
      if (e == -EINVAL) std::snprintf(err, err_len, "changed while it was read");
      return e;
    }
    f.add(&r, sizeof r);
    if (!plausible(r)) {
      std::snprintf(err, err_len, "record %u is not one telemetry makes", i);
      return -EINVAL;
    }
  }
  if (f.h != h->checksum) {
    std::snprintf(err, err_len, "its checksum does not hold (a damaged file)");
    return -EINVAL;
  }
  return 0;
}

}  // namespace

int save_spool(const Store& s, const char* path, const char* id, const char* tmp_suffix) {
  if (s.size() == 0) {
    const int r = hal::unlink(path);
    return r == -ENOENT ? 0 : r;
  }
  char tmp[kPathBytes];
  if (!tmp_path(path, tmp, tmp_suffix)) return -ENAMETOOLONG;
  const int fd = hal::open(tmp, hal::kWrOnly | hal::kCreat | hal::kTrunc | hal::kCloexec, 0644);
  if (fd < 0) return fd;
  int r = write_records(fd, s, id);
  const int rc = hal::close(fd);
  if (r == 0) r = rc;
  if (r == 0) r = hal::rename(tmp, path);
  if (r < 0) (void)hal::unlink(tmp);
  return r;
}

int load_spool(Store* s, const char* path, const char* id, SpoolLoaded* out, char* err,
               size_t err_len) {
  *out = SpoolLoaded{};
  int fd = hal::open(path, hal::kRdOnly | hal::kNonblock | hal::kCloexec, 0);
  if (fd < 0) return fd;
  hal::FileStat st{};
  SpoolHeader h{};
  int r = hal::fstat(fd, &st);
  if (r == 0) r = check(fd, st, id, &h, err, err_len);
  (void)hal::close(fd);
  if (r < 0) return r;
  // The second pass: the records, now known whole, into the store.
  fd = hal::open(path, hal::kRdOnly | hal::kNonblock | hal::kCloexec, 0);
  if (fd < 0) return fd;
  r = read_all(fd, &h, sizeof h);
  for (uint32_t i = 0; r == 0 && i < h.records; ++i) {
    nmea::Record rec;
    r = read_all(fd, &rec, sizeof rec);
    if (r < 0) break;
    ++out->records;
    if (s->push(rec)) ++out->dropped;
  }
  (void)hal::close(fd);
  if (r < 0) std::snprintf(err, err_len, "changed while it was read");
  return r;
}

// Two daemons on one spool (a second one started by hand beside the
// service, with its config) would each load, send and write the other's
// records. The spool is claimed at start: an abstract Unix socket named
// after its path, "@evl.telemetry.spool:PATH" (`ss -xlp` shows who holds
// it), bound for the daemon's life; the kernel frees the name when the
// last process holding it ends, even on a kill (a writer child the stop
// left to finish holds it too, until it is done). A second daemon is
// refused at start. A path too long for the name is named by its hash.
int App::claim_spool(char* err, size_t err_len) {
  const char* path = cfg_.spool;
  char name[108];
  constexpr size_t kMaxNamed = 80;
  if (std::strlen(path) <= kMaxNamed) {
    std::snprintf(name, sizeof name, "@evl.telemetry.spool:%.80s", path);
  } else {
    std::snprintf(name, sizeof name, "@evl.telemetry.spool#%016llx",  // FNV-1a
                  static_cast<unsigned long long>(flight::hash_str(path)));
  }
  hal::SockAddr at;
  int r = hal::parse_address(name, &at);
  if (r == 0) r = hal::dgram_bind(at, &spool_claim_);
  if (r == 0) return 0;
  spool_claim_ = -1;
  if (r == -EADDRINUSE) {
    std::snprintf(err, err_len,
                  "--spool %s: in use by another telemetry (or by a writer one left to finish): "
                  "two daemons on one spool would send each other's records twice",
                  path);
  } else {
    std::snprintf(err, err_len, "--spool %s: cannot claim it (%s)", path, std::strerror(-r));
  }
  return -EINVAL;
}

void App::release_spool() {
  if (spool_claim_ >= 0) (void)hal::close(spool_claim_);
  spool_claim_ = -1;
}

// The daemon's side. At start: the spool is claimed; a path whose
// temporary file cannot be made is a configuration error (exit 2), not a
// loss at the first stop; then the last run's records go into the store
// before any new one.
int App::load_spool_at_start(char* err, size_t err_len) {
  const char* path = cfg_.spool;
  if (path[0] == '\0') return 0;
  char tmp[kPathBytes];
  if (!tmp_path(path, tmp, kSpoolStopTmp) || !tmp_path(path, tmp, kSpoolTmp)) {
    std::snprintf(err, err_len, "--spool: the path is too long");
    return -EINVAL;
  }
  if (const int r = claim_spool(err, err_len); r < 0) return r;
  const int fd = hal::open(tmp, hal::kWrOnly | hal::kCreat | hal::kTrunc | hal::kCloexec, 0644);
  if (fd < 0) {
    std::snprintf(err, err_len, "--spool %s: cannot write there (%s: %s)", path, tmp,
                  std::strerror(-fd));
    release_spool();
    return -EINVAL;
  }
  (void)hal::close(fd);
  (void)hal::unlink(tmp);
  char why[160] = {};
  SpoolLoaded got;
  const int r = load_spool(&store_, path, cfg_.id, &got, why, sizeof why);
  c_.spool_in = got.records;
  spool_armed_ = true;
  spool_on_disk_ = got.records > 0;
  if (r == -ENOENT) return 0;
  if (r == -EINVAL && got.records == 0) {
    char bad[kPathBytes];
    std::snprintf(bad, sizeof bad, "%s.bad", path);
    const int m = hal::rename(path, bad);
    log_->log(app::Level::kWarning, "spool %s not loaded: %s; %s", path, why,
              m == 0 ? "kept as .bad" : "left in place");
    return 0;
  }
  if (r < 0) {
    log_->log(app::Level::kWarning, "spool %s: %s (%llu records loaded)", path,
              r == -EINVAL ? why : std::strerror(-r), static_cast<unsigned long long>(got.records));
    return 0;
  }
  if (got.dropped > 0) {
    log_->log(app::Level::kWarning,
              "spool %s: %llu records from the last run, %llu of them dropped (more than "
              "--buffer-records %lld holds: the oldest)",
              path, static_cast<unsigned long long>(got.records),
              static_cast<unsigned long long>(got.dropped),
              static_cast<long long>(cfg_.buffer_records));
  } else {
    log_->log(app::Level::kInfo, "spool %s: %llu records from the last run", path,
              static_cast<unsigned long long>(got.records));
  }
  return 0;
}

// --spool-every-s: while the collector takes none of the records (nothing
// delivered since the last tick, or more waiting than a batch), the file
// gets what the store holds, when that changed. Once the collector takes
// them again, the file is removed: a collector that takes the records
// costs no write at all (flash wears), and a power cut then loses at most
// the batch on its way.
void App::on_spool_tick(evl::Loop&, evl::TimerHandle, uint32_t, void* ctx) {
  static_cast<App*>(ctx)->checkpoint_spool();
}

void App::checkpoint_spool() {
  const size_t held = store_.size();
  const bool stuck = held > 0 && (store_.delivered() == spool_delivered_ ||
                                  held > static_cast<size_t>(cfg_.batch_max));
  spool_delivered_ = store_.delivered();
  if (!spool_armed_) return;
  if (spool_writer_pid_ != 0) {  // the last checkpoint is still being written
    ++c_.spool_busy;
    return;
  }
  int r = 0;
  if (!stuck) {
    if (!spool_on_disk_) return;
    r = hal::unlink(cfg_.spool);
    if (r == 0 || r == -ENOENT) {
      spool_on_disk_ = false;
      return;
    }
  } else {
    const uint64_t changes = store_.accepted() + store_.delivered() + store_.dropped();
    if (changes == spool_mark_) return;  // the file is as the store is
    if (start_spool_writer(changes)) return;
    r = save_spool(store_, cfg_.spool, cfg_.id);  // no child: written here, as at stop
    if (r == 0) {
      ++c_.spool_checkpoints;
      spool_mark_ = changes;
      spool_on_disk_ = true;
      return;
    }
  }
  ++c_.spool_failures;
  log_->log(app::Level::kError, "spool %s: cannot %s it: %s (tried again in %lld s)", cfg_.spool,
            stuck ? "write" : "remove", std::strerror(-r),
            static_cast<long long>(cfg_.spool_every_s));
}

bool App::start_spool_writer(uint64_t changes) {
  // (A writer ended unwatched leaves its temporary file to the next write.)
  const int r = app::start_writer(*loop_, write_spool_in_child, this, on_spool_written, this,
                                  &spool_writer_pid_, &spool_writer_);
  if (r == 0) {
    spool_writer_mark_ = changes;
    return true;
  }
  log_->log(app::Level::kWarning,
            "spool %s: cannot write it from a child process: %s; written here", cfg_.spool,
            std::strerror(-r));
  return false;
}

// In the child: its copy of the store, as it was at the tick.
int App::write_spool_in_child(void* ctx) {
  const auto* a = static_cast<const App*>(ctx);
  return save_spool(a->store_, a->cfg_.spool, a->cfg_.id);
}

void App::on_spool_written(evl::Loop&, evl::ChildHandle, int, int status, void* ctx) {
  auto* a = static_cast<App*>(ctx);
  a->spool_writer_pid_ = 0;
  a->spool_writer_ = evl::ChildHandle{};
  if (a->spool_stopping_) {  // the stop's writer, or a checkpoint writer it ended
    a->spool_stop_status_ = status;
    return;
  }
  char why[64];
  if (app::child_succeeded(status, why, sizeof why)) {
    ++a->c_.spool_checkpoints;
    a->spool_mark_ = a->spool_writer_mark_;
    a->spool_on_disk_ = true;
    return;
  }
  ++a->c_.spool_failures;
  a->log_->log(app::Level::kError, "spool %s: cannot write it: %s (tried again in %lld s)",
               a->cfg_.spool, why, static_cast<long long>(a->cfg_.spool_every_s));
}

// At stop the store goes to the file from a child process too, so that a
// stalled card cannot hold the stop (a daemon ends within a second of
// SIGTERM): the loop runs for the writer kStopWriteMs at most (less if
// the stop's budget ends first: app::stop_deadline), and a
// writer still going then is left to finish on its own (the file is
// replaced whole when it does: until then it is the last one). A
// checkpoint writer still going is ended first, so that its older file
// cannot replace the stop's; the stop writes through its own temporary
// file, so that nothing that writer still had in flight lands in it. The
// app's other watchers are stopped by then: the store no longer changes.
void App::save_spool_at_stop() {
  if (!spool_armed_) return;  // never started: the file is the last run's, untouched
  spool_armed_ = false;
  spool_stopping_ = true;
  const int64_t began = loop_->now(evl::Clock::kMonotonic);
  const int64_t until = app::stop_deadline(*loop_, kStopWriteMs);
  const auto allowed_ms = static_cast<long long>((until - began) / evl::kMs);
  if (spool_writer_pid_ != 0) {
    (void)hal::kill(spool_writer_pid_, hal::kSigKill);
    if (!app::run_until_exited(*loop_, &spool_writer_pid_, until)) {
      log_->log(app::Level::kWarning,
                "spool %s: the checkpoint writer (process %d) did not end in %lld ms (storage "
                "stalled?); the stop's write goes on",
                cfg_.spool, spool_writer_pid_, allowed_ms);
      leave_spool_writer();
    }
  }
  const size_t held = store_.size();
  int pid = 0;
  int r = hal::run_in_child(write_spool_at_stop_in_child, this, &pid);
  if (r == 0) {
    r = loop_->child_start(pid, on_spool_written, this, &spool_writer_);
    if (r < 0) {  // it writes, but its end cannot be watched: left to finish
      log_->log(app::Level::kWarning,
                "spool %s: %zu records left to process %d to write (cannot watch it: %s)",
                cfg_.spool, held, pid, std::strerror(-r));
      return;
    }
    spool_writer_pid_ = pid;
    if (!app::run_until_exited(*loop_, &spool_writer_pid_, until)) {
      log_->log(app::Level::kWarning,
                "spool %s: still being written after %lld ms (storage stalled?): %zu records left "
                "to process %d to write; the file is the last one until it is done",
                cfg_.spool, allowed_ms, held, pid);
      leave_spool_writer();
      return;
    }
  } else {
    log_->log(app::Level::kWarning,
              "spool %s: cannot write it from a child process: %s; written here", cfg_.spool,
              std::strerror(-r));
    r = save_spool(store_, cfg_.spool, cfg_.id, kSpoolStopTmp);
    spool_stop_status_ = r < 0 ? r : 0;
  }
  char why[64];
  if (!app::child_succeeded(spool_stop_status_, why, sizeof why)) {
    log_->log(app::Level::kError, "spool %s: cannot write it: %s; %zu records lost", cfg_.spool,
              why, held);
    return;
  }
  c_.spool_out = held;
  if (held > 0) {
    log_->log(app::Level::kInfo, "spool %s: %zu records kept for the next start", cfg_.spool, held);
  }
}

int App::write_spool_at_stop_in_child(void* ctx) {
  const auto* a = static_cast<const App*>(ctx);
  return save_spool(a->store_, a->cfg_.spool, a->cfg_.id, kSpoolStopTmp);
}

// A writer the stop does not wait for: no longer watched, not reaped (it
// ends when its storage answers; the process's parent then reaps it).
void App::leave_spool_writer() {
  (void)loop_->child_stop(spool_writer_);
  spool_writer_pid_ = 0;
  spool_writer_ = evl::ChildHandle{};
}

}  // namespace telemetry
