// The sensor simulator's sentence source: realistic GGA, RMC and XDR
// sentences from a slowly moving, slowly warming device, with optional
// corruption (bad checksums, binary noise, truncated lines) drawn from a seed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sim {

struct SimConfig {
  uint64_t seed = 1;
  int64_t corrupt_pct = 0;   // sentences with a wrong checksum
  int64_t noise_pct = 0;     // bursts of binary noise between sentences
  int64_t truncate_pct = 0;  // sentences cut off before their line end
};

class SentenceSource {
 public:
  explicit SentenceSource(const SimConfig& cfg) : cfg_(cfg), rng_(cfg.seed | 1) {}
  // Appends the sentences of one report (GGA, RMC, XDR, maybe corrupted)
  // taken at second t to buf; returns the length, 0 if buf is too small.
  size_t report(int64_t t_s, char* buf, size_t len);
  uint64_t corrupted() const { return corrupted_; }

 private:
  size_t sentence(const char* body, char* out, size_t len);
  uint64_t next();
  SimConfig cfg_;
  uint64_t rng_;
  uint64_t corrupted_ = 0;
};

}  // namespace sim
