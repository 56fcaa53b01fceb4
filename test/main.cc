// The shared CppUTest main of every test binary. It takes CppUTest's own
// flags (-v, -g GROUP, -n NAME, -s SEED, -r N, ...) and, under `bazel test`,
// writes one JUnit document to $XML_OUTPUT_FILE from the per-group files that
// CppUTest's -ojunit writes into the working folder.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "CppUTest/CommandLineTestRunner.h"
#include "CppUTest/MemoryLeakWarningPlugin.h"
#include "CppUTest/TestMemoryAllocator.h"
#include "CppUTest/TestRegistry.h"

namespace {

std::string slurp(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// Concatenates <testsuite> elements under one <testsuites> root.
bool merge_junit(const std::string& dir, const char* out_path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".xml") == 0) names.push_back(n);
    }
    closedir(d);
  }
  std::string doc = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<testsuites>\n";
  for (const std::string& n : names) {
    std::string body = slurp(dir + "/" + n);
    const size_t decl = body.find("?>");
    if (body.compare(0, 5, "<?xml") == 0 && decl != std::string::npos) body.erase(0, decl + 2);
    doc += body;
  }
  doc += "</testsuites>\n";
  FILE* f = std::fopen(out_path, "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(doc.data(), 1, doc.size(), f) == doc.size();
  return std::fclose(f) == 0 && ok;
}

// JUnit files for Bazel and the console for the test log, both.
class Runner : public CommandLineTestRunner {
 public:
  using CommandLineTestRunner::CommandLineTestRunner;

 protected:
  TestOutput* createJUnitOutput(const SimpleString& package) override {
    return createCompositeOutput(CommandLineTestRunner::createJUnitOutput(package),
                                 createConsoleOutput());
  }
};

// What CommandLineTestRunner::RunAllTests does, with our Runner.
int run_all(int argc, const char* const* argv) {
  MemoryLeakWarningPlugin leaks(DEF_PLUGIN_MEM_LEAK);
  leaks.destroyGlobalDetectorAndTurnOffMemoryLeakDetectionInDestructor(true);
  TestRegistry::getCurrentRegistry()->installPlugin(&leaks);
  int result = 0;
  {
    Runner runner(argc, argv, TestRegistry::getCurrentRegistry());
    result = runner.runAllTestsMain();
  }
  TestRegistry::getCurrentRegistry()->removePluginByName(DEF_PLUGIN_MEM_LEAK);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<const char*> args(argv, argv + argc);
  const char* xml = std::getenv("XML_OUTPUT_FILE");
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string junit_dir;
  if (xml != nullptr && tmp != nullptr) {
    junit_dir = std::string(tmp) + "/cpputest_junit";
    mkdir(junit_dir.c_str(), 0755);
    if (chdir(junit_dir.c_str()) != 0) {
      std::fprintf(stderr, "test main: cannot enter %s\n", junit_dir.c_str());
      return 2;
    }
    args.push_back("-ojunit");
  }
  const int failures = run_all(static_cast<int>(args.size()), args.data());
  if (!junit_dir.empty() && !merge_junit(junit_dir, xml)) {
    std::fprintf(stderr, "test main: cannot write %s\n", xml);
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
