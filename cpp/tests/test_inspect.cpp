// ctest for seqcore::inspect without Python: SHA-256 against the FIPS 180-4 test vectors, and
// clear exceptions for a missing or corrupt model directory. Parity with Python is checked by
// tests/export/test_inspect_parity.py (it needs an exported model).
#include <cstdio>
#include <fstream>
#include <string>

#include "seqcore/inspector.hpp"

static int failures = 0;
#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                \
    }                                                            \
  } while (0)

template <class E, class F>
bool throws(F f) {
  try {
    f();
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
  return false;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::binary) << text;
    return dir + "/" + name;
  };
  CHECK(seqcore::sha256_file(write("abc.bin", "abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(seqcore::sha256_file(write("empty.bin", "")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(seqcore::sha256_file(write("two.bin", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir + "/no_such_model_dir"); }));
  write("model.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{not json at all");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector inspector(dir); }));
  if (failures) return 1;
  std::printf("seqcore_inspect_test: all checks passed\n");
  return 0;
}
