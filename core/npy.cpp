#include "core/npy.h"

#include <bit>
#include <cstring>
#include <limits>
#include <regex>

#include "core/files.h"

namespace qkv {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian machine");

}  // namespace

std::string npy_bytes(const MatRef& M) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(M.rows()) + ", " + std::to_string(M.cols()) + "), }";
  // magic(6) + version(2) + header length(2) + header, padded with spaces and ended by '\n' to a multiple of 64.
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xFF));
  out += header;
  const Mat contiguous = M;  // a Ref may have an outer stride; Mat is row-major = C order
  out.append(reinterpret_cast<const char*>(contiguous.data()), static_cast<size_t>(contiguous.size()) * sizeof(float));
  return out;
}

std::optional<Error> write_npy(const std::string& path, const MatRef& M) { return write_file_atomically(path, npy_bytes(M)); }

Result<Mat> parse_npy(std::string_view bytes) {
  const Error bad{"not a NumPy .npy file", "expected the \\x93NUMPY magic"};
  if (bytes.size() < kMagicSize + 4 || bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize)) return bad;
  const auto major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return Error{"unsupported .npy version " + std::to_string(major), "versions 1 to 3 are read"};
  }
  if (header_len > bytes.size() - offset) return Error{"truncated .npy header", "the file is cut short"};
  const std::string header(bytes.substr(offset, header_len));
  offset += header_len;

  std::smatch match;
  if (!std::regex_search(header, match, std::regex(R"('descr'\s*:\s*'([<>|]?[a-z]\d+)')")))
    return Error{"the .npy header has no dtype", ""};
  const std::string descr = match[1];
  size_t item = 0;
  if (descr == "<f4")
    item = 4;
  else if (descr == "<f8")
    item = 8;
  else
    return Error{"unsupported .npy dtype " + descr, "only little-endian float32 and float64 are read"};
  if (std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)")))
    return Error{"Fortran-order .npy arrays are not supported", "save with numpy's default C order"};
  if (!std::regex_search(header, match, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) return Error{"the .npy header has no shape", ""};
  std::vector<long long> shape;
  const std::string dims = match[1];
  if (dims.find_first_not_of("0123456789, ") != std::string::npos) return Error{"the .npy shape (" + dims + ") is malformed", ""};
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    if (it->str().size() > 12) return Error{"a .npy dimension is too large", ""};
    shape.push_back(std::stoll(it->str()));
  }
  if (shape.empty() || shape.size() > 2) return Error{"only 1-D and 2-D .npy arrays are read", ""};
  const long long rows = shape.size() == 2 ? shape[0] : 1, cols = shape.back();
  if (rows > std::numeric_limits<int>::max() || cols > std::numeric_limits<int>::max()) return Error{"the .npy array is too large", ""};
  const unsigned long long count = static_cast<unsigned long long>(rows) * static_cast<unsigned long long>(cols);
  if (count > (bytes.size() - offset) / item || count * item != bytes.size() - offset)
    return Error{"the .npy data is " + std::to_string(bytes.size() - offset) + " bytes but the shape needs " + std::to_string(count * item),
                 "the file is truncated or damaged"};
  Mat M(rows, cols);
  if (count == 0) return M;
  if (item == 4) {
    std::memcpy(M.data(), bytes.data() + offset, count * 4);
  } else {
    for (unsigned long long k = 0; k < count; ++k) {
      double v;
      std::memcpy(&v, bytes.data() + offset + k * 8, 8);
      M.data()[k] = static_cast<float>(v);
    }
  }
  return M;
}

Result<Mat> read_npy(const std::string& path) {
  Result<std::string> bytes = read_file(path);
  if (!bytes) return bytes.error();
  Result<Mat> M = parse_npy(*bytes);
  if (!M) return Error{path + ": " + M.error().what, M.error().hint};
  return M;
}

}  // namespace qkv
