// Tests' own copy of GPT-2's bytes_to_unicode, written from its definition (not from the core's): printable bytes
// stand for themselves, the other 68 map to U+0100, U+0101, … in byte order. Byte-level vocabularies made by the tests
// spell their pieces with it.
#pragma once

#include <string>

namespace qkv::test {

inline std::string byte_symbol(int b) {
  int cp = b, next = 256;
  for (int k = 0; k < 256; ++k) {
    const bool printable = (k >= 33 && k <= 126) || (k >= 161 && k <= 172) || (k >= 174 && k <= 255);
    if (k == b && !printable) cp = next;
    if (!printable) ++next;
  }
  std::string s;
  if (cp < 0x80) s += static_cast<char>(cp);
  else s += static_cast<char>(0xC0 | (cp >> 6)), s += static_cast<char>(0x80 | (cp & 0x3F));
  return s;
}

}  // namespace qkv::test
