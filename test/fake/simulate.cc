#include "test/fake/simulate.h"

#include <cstring>

namespace sim {
namespace {
Scenario* g_first = nullptr;  // the registry, filled before main()
}

Register::Register(Scenario* s) {
  s->next = g_first;
  g_first = s;
}

Scenario* first_scenario() { return g_first; }

Scenario* find_scenario(const char* name) {
  for (Scenario* s = g_first; s != nullptr; s = s->next) {
    if (std::strcmp(s->name, name) == 0) return s;
  }
  return nullptr;
}

}  // namespace sim
