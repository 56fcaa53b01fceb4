// Seeded simulation: scenarios that run the real loop (and apps) on the fake
// kernel for a stretch of virtual time under one 64-bit seed, checking
// invariants after every iteration. //test/fake:simulate runs them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace sim {

struct Result {
  bool ok = true;
  std::string failure;      // the first broken invariant, with file:line
  uint64_t iterations = 0;  // loop iterations simulated
  uint64_t trace_hash = 0;  // of every system call and its result
};

// Collects the first failure of a run; later ones are ignored.
class Checker {
 public:
  explicit Checker(Result* r) : r_(r) {}
  bool failed() const { return !r_->ok; }
  void fail(const char* file, int line, const std::string& what) {
    if (!r_->ok) return;
    r_->ok = false;
    char where[256];
    std::snprintf(where, sizeof where, "%s:%d: ", file, line);
    r_->failure = where + what;
  }

 private:
  Result* r_;
};

#define SIM_CHECK(checker, cond, what)                                  \
  do {                                                                  \
    if (!(cond)) (checker).fail(__FILE__, __LINE__, std::string(what)); \
  } while (0)

using ScenarioFn = Result (*)(uint64_t seed, int64_t virtual_seconds);

struct Scenario {
  const char* name;
  const char* about;
  ScenarioFn run;
  Scenario* next;
};

// Registers a scenario at static initialisation (see SIM_SCENARIO).
struct Register {
  Register(Scenario* s);
};
Scenario* first_scenario();
Scenario* find_scenario(const char* name);

#define SIM_SCENARIO(ident, name, about, fn)                         \
  static ::sim::Scenario ident##_scenario{name, about, fn, nullptr}; \
  static ::sim::Register ident##_register(&ident##_scenario)

}  // namespace sim
